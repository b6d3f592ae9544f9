package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/xstatusbot/xstatusbot/bot"
)

// allowedUpdates is sent explicitly: Telegram otherwise keeps whatever list
// the last caller set, and my_chat_member is off by default.
const allowedUpdates = `["message","channel_post","my_chat_member"]`

// update is one decoded update plus the fields the library's types lack.
type update struct {
	tgbotapi.Update
	threadID int // message_thread_id of a forum-topic message
}

// poll long-polls getUpdates until ctx ends or the token is found revoked.
// The offset moves past an update only once it is handled, so a crash or a
// store failure means it comes back.
func (a *Adapter) poll(ctx context.Context) {
	var (
		offset    int // next update id wanted
		confirmed int // offset Telegram has been told about
		failures  int
		stuckID   int
		stuckTry  int
		woken     bool // this failure streak already cut a backoff short
	)
	defer func() { a.confirm(ctx, offset, confirmed) }()
	// A revoked token abandons the long poll in flight too.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(a.revoked, cancel)()
	for {
		if pctx.Err() != nil {
			return
		}
		updates, err := a.getUpdates(pctx, offset)
		if err != nil {
			if pctx.Err() != nil {
				return
			}
			if unauthorized(err) {
				a.tokenRevoked(err)
				return
			}
			failures++
			wait := a.backoff(failures, err)
			var ce *callError
			if errors.As(err, &ce) && ce.Code == http.StatusConflict {
				a.log.Error("telegram: getUpdates conflict: another process is polling with this bot token, or a webhook is set for it (remove it with deleteWebhook); retrying",
					"err", err, "retry_in", wait.String())
			} else {
				a.log.Warn("telegram: getUpdates failed; retrying", "err", err, "attempt", failures, "retry_in", wait.String())
			}
			// Another call (a delivery send) finding Telegram back cuts the
			// wait short, once per streak: if getUpdates alone keeps failing
			// while sends pass, the loop must not retry at the send rate.
			wake := a.wake
			if woken {
				wake = nil
			}
			select {
			case <-pctx.Done():
				return
			case <-a.clock.After(wait):
			case <-wake:
				woken = true
				a.log.Info("telegram answers again; polling at once")
			}
			continue
		}
		failures, woken = 0, false
		select {
		case <-a.wake: // stale: the loop is not sleeping
		default:
		}
		confirmed = offset
		// Every update returned is unconfirmed, so none is skipped by id:
		// Telegram may restart ids at a random, lower number after a quiet week.
		for _, u := range updates {
			if err := a.handleSafely(pctx, u); err != nil {
				if pctx.Err() != nil {
					return
				}
				if u.UpdateID != stuckID {
					stuckID, stuckTry = u.UpdateID, 0
				}
				stuckTry++
				if stuckTry < a.handleTries {
					wait := a.backoff(stuckTry, err)
					a.log.Warn("telegram: handling an update failed; will retry it", "err", err, "update", u.UpdateID, "retry_in", wait.String())
					if !bot.Sleep(pctx, a.clock, wait) {
						return
					}
					break // refetch from this update on
				}
				a.log.Error("telegram: handling an update keeps failing; skipping it", "err", err, "update", u.UpdateID)
			}
			offset = u.UpdateID + 1
		}
	}
}

// confirm tells Telegram about updates handled since the last getUpdates, so
// a restart does not see them again. It runs after ctx ended, so it gets a
// short context of its own.
func (a *Adapter) confirm(ctx context.Context, offset, confirmed int) {
	if offset == confirmed {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	params := tgbotapi.Params{"offset": strconv.Itoa(offset), "timeout": "0", "limit": "1", "allowed_updates": allowedUpdates}
	if _, err := a.call(ctx, "getUpdates", params, 3*time.Second); err != nil {
		a.log.Debug("telegram: could not confirm handled updates on shutdown; they may be seen again", "err", err)
	}
}

// getUpdates fetches a batch. Each update is decoded on its own: one the
// library's (old) types cannot decode is skipped with a warning instead of
// failing, and so blocking, the whole batch forever.
func (a *Adapter) getUpdates(ctx context.Context, offset int) ([]update, error) {
	params := tgbotapi.Params{
		"timeout":         strconv.Itoa(int(a.pollTimeout / time.Second)),
		"allowed_updates": allowedUpdates,
	}
	if offset > 0 {
		params["offset"] = strconv.Itoa(offset)
	}
	res, err := a.call(ctx, "getUpdates", params, a.pollTimeout+a.callTimeout)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(res, &raws); err != nil {
		return nil, fmt.Errorf("telegram getUpdates: result is not a list: %w", err)
	}
	out := make([]update, 0, len(raws))
	for _, raw := range raws {
		var u update
		if err := json.Unmarshal(raw, &u.Update); err != nil {
			var id struct {
				UpdateID int `json:"update_id"`
			}
			if json.Unmarshal(raw, &id) != nil {
				a.log.Warn("telegram: skipping an update without an id", "err", err)
				continue
			}
			a.log.Warn("telegram: skipping an update that does not decode", "err", err, "update", id.UpdateID)
			u = update{Update: tgbotapi.Update{UpdateID: id.UpdateID}}
		} else {
			var extra struct {
				Message *struct {
					ThreadID int  `json:"message_thread_id"`
					IsTopic  bool `json:"is_topic_message"`
				} `json:"message"`
			}
			if json.Unmarshal(raw, &extra) == nil && extra.Message != nil && extra.Message.IsTopic {
				u.threadID = extra.Message.ThreadID
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// handleSafely handles one update; a panic is logged and the update skipped,
// so nothing anyone sends can stop the loop.
func (a *Adapter) handleSafely(ctx context.Context, u update) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("telegram: panic while handling an update; skipped", "panic", RedactTokens(fmt.Sprint(r)), "update", u.UpdateID)
			err = nil
		}
	}()
	return a.handle(ctx, u)
}

func chatRef(id int64) bot.ChatRef {
	return bot.ChatRef{Platform: Platform, ID: strconv.FormatInt(id, 10)}
}

// handle acts on one update. Its error means "try this update again later".
func (a *Adapter) handle(ctx context.Context, u update) error {
	if m := u.MyChatMember; m != nil {
		st := m.NewChatMember
		if st.Status == "left" || st.Status == "kicked" || (st.Status == "restricted" && !st.IsMember) {
			return a.h.ChatGone(ctx, chatRef(m.Chat.ID))
		}
		return nil
	}
	msg, channel := u.Message, false
	if msg == nil {
		msg, channel = u.ChannelPost, true
	}
	if msg == nil || msg.Chat == nil {
		return nil
	}
	if msg.MigrateToChatID != 0 {
		return a.h.ChatMigrated(ctx, chatRef(msg.Chat.ID), chatRef(msg.MigrateToChatID))
	}
	name, target, ok := parseCommand(msg.Text)
	if !ok {
		return nil
	}
	if me := a.self.Load(); target != "" && (me == nil || !strings.EqualFold(target, me.UserName)) {
		return nil // addressed to another bot
	}
	cmd := bot.Command{Chat: chatRef(msg.Chat.ID), Name: name}
	if msg.From != nil {
		cmd.Lang = msg.From.LanguageCode
	}
	var replyTo int
	switch {
	case channel || msg.Chat.Type == "channel":
		cmd.Kind = KindChannel // only admins post in a channel: no check needed
	case msg.Chat.Type == "private":
		cmd.Kind, cmd.Private = KindPrivate, true
	case msg.Chat.Type == "group" || msg.Chat.Type == "supergroup":
		cmd.Kind, cmd.AdminOnly = KindGroup, true
		cmd.IsAdmin = a.isAdmin(msg)
		replyTo = msg.MessageID // several people may be talking: answer the one who asked
	default:
		return nil
	}
	reply, ok := a.h.Handle(ctx, cmd)
	if !ok {
		return nil
	}
	if replyTo != 0 {
		reply.ReplyTo = strconv.Itoa(replyTo)
	}
	// The command is handled (its store effects done) here, in update
	// order; its answer is queued, so a rate-limited answer does not hold up
	// the next updates.
	a.queueReply(cmd.Chat.ID, name, reply, u.threadID)
	return nil
}

// isAdmin returns the lazy check that the sender of msg administers its group.
func (a *Adapter) isAdmin(msg *tgbotapi.Message) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if msg.SenderChat != nil {
			// Posted on behalf of a chat: the group itself means an
			// anonymous admin; a channel (linked or a user's own) is not
			// an admin of this group.
			return msg.SenderChat.ID == msg.Chat.ID, nil
		}
		if msg.From == nil {
			return false, nil
		}
		res, err := a.call(ctx, "getChatMember", tgbotapi.Params{
			"chat_id": strconv.FormatInt(msg.Chat.ID, 10),
			"user_id": strconv.FormatInt(msg.From.ID, 10),
		}, a.callTimeout)
		if err != nil {
			return false, fmt.Errorf("check admin in chat %d: %w", msg.Chat.ID, err)
		}
		var member struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(res, &member); err != nil {
			return false, fmt.Errorf("check admin in chat %d: %w", msg.Chat.ID, err)
		}
		return member.Status == "creator" || member.Status == "administrator", nil
	}
}

// parseCommand splits "/Name@Bot args" into "name" and "Bot". ok is false
// for anything that is not a well-formed command (Telegram's rule: 1–32
// letters, digits or underscores).
func parseCommand(text string) (name, target string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	word := text[1:]
	if i := strings.IndexAny(word, " \t\n\r"); i >= 0 {
		word = word[:i]
	}
	name, target, _ = strings.Cut(word, "@")
	if name == "" || len(name) > 32 {
		return "", "", false
	}
	for _, r := range name {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", "", false
		}
	}
	return strings.ToLower(name), target, true
}
