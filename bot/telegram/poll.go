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
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// allowedUpdates is sent explicitly: Telegram otherwise keeps whatever list
// the last caller set, and my_chat_member is off by default. callback_query
// brings the presses of the settings buttons.
const allowedUpdates = `["message","channel_post","my_chat_member","callback_query"]`

// update is one decoded update plus the fields the library's types lack.
type update struct {
	tgbotapi.Update
	threadID int // message_thread_id of a forum-topic message
	// forwarded: the message a button was pressed on is a forwarded copy
	// (forward_origin, which replaced forward_date in Bot API 7.0).
	forwarded bool
}

// poll long-polls getUpdates until ctx ends or the token is found revoked.
// The offset moves past an update only once it is handled, so a crash or a
// store failure means it comes back.
func (a *Bot) poll(ctx context.Context) {
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
					if !clock.Sleep(pctx, a.clock, wait) {
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
func (a *Bot) confirm(ctx context.Context, offset, confirmed int) {
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
func (a *Bot) getUpdates(ctx context.Context, offset int) ([]update, error) {
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
				Callback *struct {
					Message *struct {
						ForwardOrigin json.RawMessage `json:"forward_origin"`
					} `json:"message"`
				} `json:"callback_query"`
			}
			if json.Unmarshal(raw, &extra) == nil {
				if m := extra.Message; m != nil && m.IsTopic {
					u.threadID = m.ThreadID
				}
				if c := extra.Callback; c != nil && c.Message != nil && len(c.Message.ForwardOrigin) > 0 {
					u.forwarded = true
				}
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// handleSafely handles one update; a panic is logged and the update skipped,
// so nothing anyone sends can stop the loop.
func (a *Bot) handleSafely(ctx context.Context, u update) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a.panics.Inc()
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
func (a *Bot) handle(ctx context.Context, u update) error {
	if q := u.CallbackQuery; q != nil {
		return a.handleCallback(ctx, q, u.forwarded)
	}
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
	name, target, args, ok := parseCommand(msg.Text)
	if !ok || !a.forMe(target) {
		return nil
	}
	cmd := command.Command{Chat: chatRef(msg.Chat.ID), Name: name, Args: args}
	if msg.From != nil {
		cmd.Lang, cmd.User = msg.From.LanguageCode, strconv.FormatInt(msg.From.ID, 10)
	}
	if msg.SenderChat != nil {
		// Posted on behalf of a chat (an anonymous admin, a channel): From
		// is then a placeholder bot every such post shares.
		cmd.User = "chat:" + strconv.FormatInt(msg.SenderChat.ID, 10)
	}
	var replyTo int
	switch {
	case channel || msg.Chat.Type == "channel":
		cmd.Kind = KindChannel // only admins post in a channel: no check needed
	case msg.Chat.Type == "private":
		cmd.Kind, cmd.Private = KindPrivate, true
	case msg.Chat.Type == "group" || msg.Chat.Type == "supergroup":
		cmd.Kind, cmd.AdminOnly = KindGroup, true
		cmd.IsAdmin = a.isAdmin(msg.Chat.ID, msg.From, msg.SenderChat)
		replyTo = msg.MessageID // several people may be talking: answer the one who asked
	default:
		return nil
	}
	switch a.limiter.Admit(cmd) {
	case command.SlowDown:
		note := text.NoticeMessage(cmd.Lang, text.NoticeSlowDown)
		if replyTo != 0 {
			note.ReplyTo = strconv.Itoa(replyTo)
		}
		a.queueReply(cmd.Chat.ID, name, note, u.threadID)
		return nil
	case command.Dropped:
		return nil
	}
	if command.Coalesced(name) {
		// Read-only: answered when sent, so one answer serves every asker
		// while it waits.
		release, ok := a.limiter.Claim(cmd.Chat, name)
		if !ok {
			return nil
		}
		a.queueRendered(cmd, release, replyTo, u.threadID)
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

// forMe reports whether a command's @target (possibly empty) is this bot.
func (a *Bot) forMe(target string) bool {
	if target == "" {
		return true
	}
	me := a.self.Load()
	return me != nil && strings.EqualFold(target, me.UserName)
}

// isAdmin returns the lazy check that a sender administers a group or
// channel: from is the user, senderChat the chat posted on behalf of (nil
// for a user).
func (a *Bot) isAdmin(chatID int64, from *tgbotapi.User, senderChat *tgbotapi.Chat) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if senderChat != nil {
			// Posted on behalf of a chat: the group itself means an
			// anonymous admin; a channel (linked or a user's own) is not
			// an admin of this group.
			return senderChat.ID == chatID, nil
		}
		if from == nil {
			return false, nil
		}
		res, err := a.call(ctx, "getChatMember", tgbotapi.Params{
			"chat_id": strconv.FormatInt(chatID, 10),
			"user_id": strconv.FormatInt(from.ID, 10),
		}, a.callTimeout)
		if err != nil {
			return false, fmt.Errorf("check admin in chat %d: %w", chatID, err)
		}
		var member struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(res, &member); err != nil {
			return false, fmt.Errorf("check admin in chat %d: %w", chatID, err)
		}
		return member.Status == "creator" || member.Status == "administrator", nil
	}
}

// MaxArgs bounds Command.Args, in runes: settings values are short ("2h",
// "outages"), and the bound keeps a pasted essay out of answers and logs.
const MaxArgs = 64

// parseCommand splits "/Name@Bot args" into "name", "Bot" and the rest of
// the first line, trimmed and cut to MaxArgs runes. ok is false for
// anything that is not a well-formed command (Telegram's rule: 1–32
// letters, digits or underscores).
func parseCommand(text string) (name, target, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", "", false
	}
	line, _, _ := strings.Cut(text[1:], "\n")
	word, rest := line, ""
	if i := strings.IndexAny(line, " \t\r"); i >= 0 {
		word, rest = line[:i], line[i+1:]
	}
	name, target, _ = strings.Cut(word, "@")
	if name == "" || len(name) > 32 {
		return "", "", "", false
	}
	for _, r := range name {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", "", "", false
		}
	}
	return strings.ToLower(name), target, bot.Truncate(strings.TrimSpace(rest), MaxArgs), true
}
