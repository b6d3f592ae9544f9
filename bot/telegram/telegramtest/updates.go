package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// PushUpdate queues an update built from fields (e.g. {"message": …}); the
// update_id is added. It returns the update id.
func (s *Server) PushUpdate(fields map[string]any) int {
	kind := ""
	for k := range fields {
		if k != "update_id" {
			kind = k
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextUpdate
	s.nextUpdate++
	u := map[string]any{"update_id": id}
	for k, v := range fields {
		u[k] = v
	}
	raw, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: PushUpdate: %v", err))
	}
	s.updates = append(s.updates, queued{id: id, kind: kind, raw: raw})
	s.notifyLocked()
	return id
}

// PushRaw queues an update whose body (without update_id) is raw JSON
// fields, e.g. `"message": {"broken": true}`. It returns the update id.
func (s *Server) PushRaw(kind, rawFields string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextUpdate
	s.nextUpdate++
	raw := json.RawMessage(fmt.Sprintf(`{"update_id":%d,%s}`, id, rawFields))
	s.updates = append(s.updates, queued{id: id, kind: kind, raw: raw})
	s.notifyLocked()
	return id
}

// Push queues m as a message (or a channel_post in a channel) and returns
// the update id.
func (s *Server) Push(m Msg) int {
	s.mu.Lock()
	if m.Chat.Type == "" {
		m.Chat.Type = "private"
	}
	s.chatTypes[m.Chat.ID] = m.Chat.Type
	s.nextMsg[m.Chat.ID]++
	msgID := s.nextMsg[m.Chat.ID]
	s.mu.Unlock()
	msg := map[string]any{
		"message_id": msgID,
		"date":       s.now().Unix(),
		"chat":       m.Chat,
	}
	if m.From != nil {
		msg["from"] = m.From
	}
	if m.SenderChat != nil {
		msg["sender_chat"] = m.SenderChat
	}
	if m.Text != "" {
		msg["text"] = m.Text
		if strings.HasPrefix(m.Text, "/") {
			cmd := m.Text
			if i := strings.IndexAny(cmd, " \n\t"); i >= 0 {
				cmd = cmd[:i]
			}
			msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": utf16Len(cmd)}}
		}
	}
	if m.ThreadID != 0 {
		msg["message_thread_id"] = m.ThreadID
		msg["is_topic_message"] = true
	}
	if m.MigrateTo != 0 {
		msg["migrate_to_chat_id"] = m.MigrateTo
	}
	if m.MigrateFrom != 0 {
		msg["migrate_from_chat_id"] = m.MigrateFrom
	}
	kind := "message"
	if m.Chat.Type == "channel" {
		kind = "channel_post"
	}
	return s.PushUpdate(map[string]any{kind: msg})
}

// Private pushes a private-chat message from user (the chat id is the user id).
func (s *Server) Private(from User, text string) int {
	if from.FirstName == "" {
		from.FirstName = "User"
	}
	return s.Push(Msg{Chat: Chat{ID: from.ID, Type: "private"}, From: &from, Text: text})
}

// Group pushes a supergroup message from a user.
func (s *Server) Group(chatID int64, from User, text string) int {
	if from.FirstName == "" {
		from.FirstName = "User"
	}
	return s.Push(Msg{Chat: Chat{ID: chatID, Type: "supergroup", Title: "Group"}, From: &from, Text: text})
}

// AnonymousAdmin pushes a supergroup message posted by an anonymous admin:
// from is GroupAnonymousBot and sender_chat is the group itself.
func (s *Server) AnonymousAdmin(chatID int64, text string) int {
	chat := Chat{ID: chatID, Type: "supergroup", Title: "Group"}
	return s.Push(Msg{
		Chat: chat, SenderChat: &chat, Text: text,
		From: &User{ID: AnonymousAdminID, IsBot: true, FirstName: "Group", UserName: "GroupAnonymousBot"},
	})
}

// ChannelPost pushes a post in a channel (no from, sender_chat is the channel).
func (s *Server) ChannelPost(chatID int64, text string) int {
	chat := Chat{ID: chatID, Type: "channel", Title: "Channel"}
	return s.Push(Msg{Chat: chat, SenderChat: &chat, Text: text})
}

// RemoveBot pushes a my_chat_member update: the bot's new status in a chat
// ("kicked" for removed or blocked, "left"), and makes later sends to the
// chat answer 403 like Telegram.
func (s *Server) RemoveBot(chatID int64, status string) int {
	s.mu.Lock()
	typ := s.chatTypes[chatID]
	if typ == "" {
		typ = "supergroup"
		if chatID > 0 {
			typ = "private"
		}
	}
	f := Kicked()
	if typ == "private" {
		f = Blocked()
	}
	s.chatAlways[chatID] = f
	s.mu.Unlock()
	me := s.Bot
	by := User{ID: 42, FirstName: "Admin"}
	if typ == "private" {
		by = User{ID: chatID, FirstName: "User"}
	}
	return s.PushUpdate(map[string]any{"my_chat_member": map[string]any{
		"chat":            Chat{ID: chatID, Type: typ},
		"from":            by,
		"date":            s.now().Unix(),
		"old_chat_member": map[string]any{"status": "member", "user": me},
		"new_chat_member": map[string]any{"status": status, "user": me, "until_date": 0},
	}})
}

// Migrate turns group from into supergroup to as Telegram does: a message
// with migrate_to_chat_id in the old chat, one with migrate_from_chat_id in
// the new one, and sends to the old id answer 400 with migrate_to_chat_id.
// It returns the id of the first update (the one carrying migrate_to_chat_id)
// and of the second.
func (s *Server) Migrate(from, to int64) (first, second int) {
	s.mu.Lock()
	s.migrated[from] = to
	s.mu.Unlock()
	admin := &User{ID: 42, FirstName: "Admin"}
	first = s.Push(Msg{Chat: Chat{ID: from, Type: "group", Title: "Group"}, From: admin, MigrateTo: to})
	second = s.Push(Msg{Chat: Chat{ID: to, Type: "supergroup", Title: "Group"}, From: admin, MigrateFrom: from})
	return first, second
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.polls.Add(1)
	offset, timeout, limit := atoi(p["offset"]), atoi(p["timeout"]), atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout = max(timeout, 0)
	var allowed []string
	if a, ok := p["allowed_updates"]; ok && a != "" {
		if err := json.Unmarshal([]byte(a), &allowed); err != nil {
			writeFailure(w, BadRequest("can't parse allowed_updates JSON array"))
			return
		}
	}
	timer := time.NewTimer(time.Duration(timeout) * time.Second)
	defer timer.Stop()

	s.mu.Lock()
	if allowed != nil { // like Telegram, the list persists until changed
		s.allowed = map[string]bool{}
		for _, k := range allowed {
			s.allowed[k] = true
		}
	}
	s.lastPoll = PollRequest{Offset: offset, Timeout: timeout, Limit: limit, AllowedUpdates: allowed}
	if s.polling != nil {
		close(s.polling)
		s.conflicts.Add(1)
	}
	mine := make(chan struct{})
	s.polling = mine
	defer func() {
		s.mu.Lock()
		if s.polling == mine {
			s.polling = nil
		}
		s.mu.Unlock()
	}()
	if offset > 0 {
		k := 0
		for k < len(s.updates) && s.updates[k].id < offset {
			k++
		}
		s.updates = s.updates[k:]
		if offset > s.confirmed {
			s.confirmed = offset
		}
	}
	s.notifyLocked()
	for {
		var batch []json.RawMessage
		kept := s.updates[:0]
		for _, u := range s.updates {
			if s.allowed != nil && !s.allowed[u.kind] {
				continue // Telegram never delivers an update type not asked for
			}
			kept = append(kept, u)
			if len(batch) < limit {
				batch = append(batch, u.raw)
			}
		}
		s.updates = kept
		if len(batch) > 0 || timeout == 0 {
			s.mu.Unlock()
			if batch == nil {
				batch = []json.RawMessage{}
			}
			writeOK(w, batch)
			return
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-r.Context().Done():
			return
		case <-s.closed:
			writeFailure(w, ServerError(502))
			return
		case <-timer.C:
			writeOK(w, []json.RawMessage{})
			return
		case <-mine:
			writeFailure(w, Conflict())
			return
		case <-ch:
		}
		s.mu.Lock()
		f, failing := s.always["getupdates"]
		if !failing {
			f, failing = s.always[""]
		}
		if s.revoked {
			f, failing = Unauthorized(), true
		}
		if failing {
			s.mu.Unlock()
			writeFailure(w, f)
			return
		}
	}
}
