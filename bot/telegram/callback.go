package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// MaxCallbackAnswer is Telegram's limit on answerCallbackQuery's text.
const MaxCallbackAnswer = 200

// handleCallback acts on a button press. Its data is a command line, parsed
// and checked like a typed command with the presser as the sender; the
// answer replaces the message the button was on. A press that changes
// nothing (bad data, a message of another chat or too old, a refusal) only
// gets a short answer, so the message stays as it was.
func (a *Bot) handleCallback(ctx context.Context, q *tgbotapi.CallbackQuery, forwarded bool) error {
	if q.ID == "" {
		return nil // nothing to answer
	}
	lang := ""
	if q.From != nil {
		lang = q.From.LanguageCode
	}
	msg := q.Message
	if msg == nil || msg.Chat == nil || msg.Date == 0 || q.From == nil {
		// Inline mode (no message), or a message too old for Telegram to
		// show (date 0): there is no chat the press could be about.
		a.queueCallbackAnswer("", q.ID, text.NoticeText(lang, text.NoticeStaleButton))
		return nil
	}
	chat := strconv.FormatInt(msg.Chat.ID, 10)
	if me := a.self.Load(); forwarded || msg.ForwardDate != 0 || (msg.From != nil && me != nil && msg.From.ID != me.ID) {
		// A copy of a settings message forwarded elsewhere: its buttons
		// would change the settings of a chat that never asked for them.
		a.queueCallbackAnswer(chat, q.ID, text.NoticeText(lang, text.NoticeStaleButton))
		return nil
	}
	name, target, args, ok := parseCommand(q.Data)
	if !ok || !a.forMe(target) {
		a.queueCallbackAnswer(chat, q.ID, text.NoticeText(lang, text.NoticeUnknownCommand))
		return nil
	}
	cmd := command.Command{Chat: chatRef(msg.Chat.ID), Name: name, Args: args, Lang: lang}
	switch msg.Chat.Type {
	case "private":
		cmd.Kind, cmd.Private = KindPrivate, true
	case "group", "supergroup":
		cmd.Kind, cmd.AdminOnly = KindGroup, true
	case "channel":
		// Unlike posting, pressing a button is open to every reader of a
		// channel: the presser is checked like a group member.
		cmd.Kind, cmd.AdminOnly = KindChannel, true
	default:
		a.queueCallbackAnswer(chat, q.ID, text.NoticeText(lang, text.NoticeUnknownCommand))
		return nil
	}
	cmd.User = strconv.FormatInt(q.From.ID, 10)
	if a.limiter.Admit(cmd) != command.Admitted {
		// A press must be answered or the client spins: a pop-up only the
		// presser sees, which sends no message.
		a.queueCallbackAnswer(chat, q.ID, text.NoticeText(lang, text.NoticeSlowDown))
		return nil
	}
	// The service asks IsAdmin only when the command changes the chat; a
	// "no" there means the answer is a refusal, shown to the presser alone.
	var refused atomic.Bool
	if cmd.AdminOnly {
		check := a.isAdmin(msg.Chat.ID, q.From, nil)
		cmd.IsAdmin = func(ctx context.Context) (bool, error) {
			ok, err := check(ctx)
			if !ok {
				refused.Store(true)
			}
			return ok, err
		}
	}
	reply, ok := a.h.Handle(ctx, cmd)
	switch {
	case !ok:
		a.queueCallbackAnswer(chat, q.ID, text.NoticeText(lang, text.NoticeUnknownCommand))
	case refused.Load():
		a.queueCallbackAnswer(chat, q.ID, toast(reply))
	default:
		a.queueCallbackEdit(msg, q.ID, name, reply)
	}
	return nil
}

// queueCallbackAnswer answers a press with a short text and nothing else.
// It waits behind the chat's earlier answers, like any reply.
func (a *Bot) queueCallbackAnswer(chat, queryID, text string) {
	a.replies.add(chat, func(ctx context.Context) { a.answerCallback(ctx, chat, queryID, text) })
}

// queueCallbackEdit answers a press, then edits the message it was on into
// the command's answer, within the chat's sending budget.
func (a *Bot) queueCallbackEdit(msg *tgbotapi.Message, queryID, command string, reply bot.Message) {
	chat := strconv.FormatInt(msg.Chat.ID, 10)
	a.replies.add(chat, func(ctx context.Context) {
		// First, so the client's spinner stops even if the edit must wait
		// for the chat's pace.
		a.answerCallback(ctx, chat, queryID, "")
		a.replyVia(ctx, chat, command, func(ctx context.Context) error { return a.edit(ctx, msg, reply) })
	})
}

// answerCallback calls answerCallbackQuery. A failure is logged: the
// client stops waiting by itself after a while.
func (a *Bot) answerCallback(ctx context.Context, chat, queryID, text string) {
	p := tgbotapi.Params{"callback_query_id": queryID}
	if text != "" {
		p["text"] = bot.Truncate(text, MaxCallbackAnswer)
	}
	_, err := a.call(ctx, "answerCallbackQuery", p, a.callTimeout)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrUnauthorized) {
		a.log.Warn("telegram: could not answer a button press", "err", err, "chat", chat)
	}
}

// edit replaces the text of msg with reply. The answer's buttons replace
// the message's; an answer without buttons keeps them, so a settings
// message stays usable after one press.
func (a *Bot) edit(ctx context.Context, msg *tgbotapi.Message, reply bot.Message) error {
	p := tgbotapi.Params{
		"chat_id":                  strconv.FormatInt(msg.Chat.ID, 10),
		"message_id":               strconv.Itoa(msg.MessageID),
		"text":                     Render(reply),
		"parse_mode":               tgbotapi.ModeHTML,
		"disable_web_page_preview": "true",
	}
	kb := keyboard(reply.Buttons)
	if kb == "" && msg.ReplyMarkup != nil && len(msg.ReplyMarkup.InlineKeyboard) > 0 {
		body, err := json.Marshal(msg.ReplyMarkup)
		if err == nil {
			kb = string(body)
		}
	}
	if kb != "" {
		p["reply_markup"] = kb
	}
	_, err := a.call(ctx, "editMessageText", p, a.callTimeout)
	if err == nil {
		return nil
	}
	var ce *callError
	if errors.As(err, &ce) && ce.Code == http.StatusBadRequest {
		if strings.Contains(strings.ToLower(ce.Description), "message is not modified") {
			return nil // pressed twice: the message already shows the answer
		}
		// The message was deleted or can no longer be edited: retrying
		// the same edit cannot help.
		return &bot.SendError{Class: bot.Permanent, Err: err}
	}
	return classify(err)
}

// toast is a message as the one short line a callback answer shows.
func toast(m bot.Message) string {
	parts := make([]string, 0, 1+len(m.Lines))
	if m.Title != "" {
		parts = append(parts, m.Title)
	}
	parts = append(parts, m.Lines...)
	return strings.Join(parts, " ")
}
