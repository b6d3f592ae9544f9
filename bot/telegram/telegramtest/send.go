package telegramtest

import (
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]string) {
	s.sendCalls.Add(1)
	fail := func(f Failure) {
		s.countFailure(f)
		writeFailure(w, f)
	}
	chatID, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil {
		fail(ChatNotFound())
		return
	}
	s.mu.Lock()
	if q := s.failChat[chatID]; len(q) > 0 {
		f := q[0]
		s.failChat[chatID] = q[1:]
		s.mu.Unlock()
		fail(f)
		return
	}
	if f, ok := s.chatAlways[chatID]; ok {
		s.mu.Unlock()
		fail(f)
		return
	}
	if to, ok := s.migrated[chatID]; ok {
		s.mu.Unlock()
		fail(MigratedTo(to))
		return
	}
	s.mu.Unlock()

	text := p["text"]
	plain := text
	if strings.EqualFold(p["parse_mode"], "HTML") {
		if plain, err = parseHTML(text); err != nil {
			fail(BadRequest("can't parse entities: " + err.Error()))
			return
		}
	} else if p["parse_mode"] != "" {
		fail(BadRequest("unsupported parse_mode in this fake: " + p["parse_mode"]))
		return
	}
	if strings.TrimSpace(plain) == "" {
		fail(BadRequest("message text is empty"))
		return
	}
	if utf16Len(plain) > 4096 {
		fail(BadRequest("message is too long"))
		return
	}
	buttons, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		fail(BadRequest(err.Error()))
		return
	}
	paid := isTrue(p["allow_paid_broadcast"])
	if paid {
		s.mu.Lock()
		if s.refuseLater != nil && s.paidLeft <= 0 {
			s.refusePaid, s.refuseLater = s.refuseLater, nil
		}
		refuse := s.refusePaid
		s.mu.Unlock()
		if refuse != nil {
			s.paidRefused.Add(1)
			fail(*refuse)
			return
		}
	}
	wait, charged := s.rl.allow(s.limits, chatID, paid, s.now())
	if wait > 0 {
		fail(TooManyRequests(wait))
		return
	}

	m := SentMessage{
		ChatID: chatID, Text: text, Plain: plain, ParseMode: p["parse_mode"],
		Silent:            p["disable_notification"] == "true",
		ReplyTo:           atoi(p["reply_to_message_id"]),
		AllowWithoutReply: p["allow_sending_without_reply"] == "true",
		ThreadID:          atoi(p["message_thread_id"]),
		NoPreview:         p["disable_web_page_preview"] == "true",
		Buttons:           buttons,
		PaidBroadcast:     paid,
		At:                s.now(),
	}
	s.mu.Lock()
	if m.ReplyTo > 0 && m.ReplyTo > s.nextMsg[chatID] && !m.AllowWithoutReply {
		s.mu.Unlock()
		fail(BadRequest("message to be replied not found"))
		return
	}
	s.nextMsg[chatID]++
	m.MessageID = s.nextMsg[chatID]
	typ := s.chatTypes[chatID]
	if paid && s.refuseLater != nil {
		s.paidLeft--
	}
	s.byChat[chatID] = append(s.byChat[chatID], len(s.sent))
	s.sent = append(s.sent, m)
	s.rememberLocked(chatID, m.MessageID, plain, buttons)
	s.notifyLocked()
	s.mu.Unlock()
	s.sentN.Add(1)
	if paid {
		s.paidSent.Add(1)
	}
	if charged {
		s.paidCharged.Add(1)
	}
	if typ == "" {
		typ = "private"
		if chatID < 0 {
			typ = "supergroup"
		}
	}
	writeOK(w, map[string]any{
		"message_id": m.MessageID,
		"date":       m.At.Unix(),
		"chat":       Chat{ID: chatID, Type: typ},
		"from":       s.Bot,
		"text":       plain,
	})
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// isTrue reads a Bot API boolean parameter as Telegram does: "true" in any
// case, or 1.
func isTrue(v string) bool { return strings.EqualFold(v, "true") || v == "1" }
