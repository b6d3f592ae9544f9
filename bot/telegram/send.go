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
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// callError is a failed Bot API call with what the library drops: the HTTP
// status, and whether the body was Telegram's JSON at all.
type callError struct {
	Method string
	// Status is the HTTP status, 0 if no response arrived.
	Status int
	// api is true when the body was Telegram's {"ok":false,…} JSON.
	api bool
	// Code is Telegram's error_code (falls back to Status).
	Code        int
	Description string
	RetryAfter  time.Duration
	MigrateTo   int64
	// Err is the underlying error, already redacted.
	Err error
}

func (e *callError) Error() string {
	switch {
	case e.api:
		return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
	case adapterkit.IsRedirect(e.Status):
		// The client follows no redirect: the token is in the URL's path.
		return fmt.Sprintf("telegram %s: HTTP %d redirect not followed (check TELEGRAM_API_ENDPOINT)", e.Method, e.Status)
	case e.Status != 0:
		return fmt.Sprintf("telegram %s: HTTP %d with a body that is not Bot API JSON: %v", e.Method, e.Status, e.Err)
	default:
		return fmt.Sprintf("telegram %s: %v", e.Method, e.Err)
	}
}

func (e *callError) Unwrap() error { return e.Err }

// call makes one Bot API call through the library with ctx and a deadline,
// returning the result or a *callError whose text never holds the token.
//
// It also keeps the adapter's state: a success means Telegram answers, a
// network error, a timeout, a 5xx or a body that is not Bot API JSON that it
// does not, and a 401 after the bot has started that the token was revoked;
// from then on no call is made. A 5xx in Bot API JSON to sendMessage leaves
// the state alone: Telegram answered, about one chat, and one chat failing
// must not show the platform unavailable (delivery still backs that chat
// off, and pauses the platform when several chats fail so).
func (a *Bot) call(ctx context.Context, method string, params tgbotapi.Params, timeout time.Duration) (json.RawMessage, error) {
	if a.State() == bot.PlatformUnauthorized {
		return nil, fmt.Errorf("telegram %s: not called: %w", method, ErrUnauthorized)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &callDoer{ctx: ctx, client: a.client, secret: a.token}
	// A BotAPI per call: the library's requests carry no context, so the
	// context rides in the Doer. Built by hand, not with NewBotAPI*, which
	// would call getMe without a context on every construction.
	api := &tgbotapi.BotAPI{Token: a.token.Reveal(), Client: d}
	api.SetAPIEndpoint(a.endpoint)
	resp, err := api.MakeRequest(method, params)
	if err == nil {
		a.answered(method)
		return resp.Result, nil
	}
	ce := &callError{Method: method, Status: d.status, Code: d.status, RetryAfter: d.retryAfter}
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		ce.api = true
		if te.Code != 0 {
			ce.Code = te.Code
		}
		ce.Description = te.Message
		if te.RetryAfter > 0 {
			ce.RetryAfter = time.Duration(te.RetryAfter) * time.Second
		}
		ce.MigrateTo = te.MigrateToChatID
	}
	ce.Err = a.token.RedactError(err)
	switch {
	case parent.Err() != nil:
		// Our caller gave up: says nothing about Telegram.
	case unauthorized(ce) && a.self.Load() != nil:
		a.tokenRevoked(ce)
	case platformDown(ce) && !(ce.api && method == "sendMessage"):
		a.unavailable()
	}
	return nil, ce
}

// platformDown reports whether a failed call means Telegram as a whole does
// not answer: no response, a 5xx, or a body that is not Bot API JSON (a
// proxy's page). A 429 is a rate limit, not an outage, even as HTML.
func platformDown(ce *callError) bool {
	if ce.Code == http.StatusTooManyRequests {
		return false
	}
	return !ce.api || ce.Code >= 500
}

// Send delivers an alert to a chat and returns the sent message's id: with
// allow_paid_broadcast when Options.PaidBroadcast is on (see sendAlert).
// Errors are *bot.SendError; see classify for the mapping.
func (a *Bot) Send(ctx context.Context, chatID string, m bot.Message) (string, error) {
	if a.self.Load() == nil {
		return "", &bot.SendError{Class: bot.Unavailable, Err: fmt.Errorf("send to chat %s: %w", chatID, errNotConnected)}
	}
	return a.sendAlert(ctx, chatID, m)
}

// send makes one sendMessage call; paid asks for paid broadcast, which only
// alerts do (command answers never).
func (a *Bot) send(ctx context.Context, chatID string, m bot.Message, threadID int, paid bool) (string, error) {
	id, err := strconv.ParseInt(chatID, 10, 64)
	if err != nil || id == 0 {
		// Our chat ids come from Telegram updates; this one never will work.
		return "", &bot.SendError{Class: bot.Permanent, Err: fmt.Errorf("send to chat %s: not a Telegram chat id", chatID)}
	}
	res, err := a.call(ctx, "sendMessage", messageParams(id, m, threadID, paid), a.callTimeout)
	if err != nil {
		return "", classify(fmt.Errorf("send to chat %s: %w", chatID, err))
	}
	var sent struct {
		MessageID int64 `json:"message_id"`
	}
	if err := json.Unmarshal(res, &sent); err != nil || sent.MessageID == 0 {
		// Telegram said ok: the message is out. Resending would duplicate
		// it, so report success without an id (a recovery then cannot
		// reply to it, which is harmless).
		a.log.Warn("telegram: sendMessage succeeded with an unreadable result", "chat", chatID)
		return "", nil
	}
	return strconv.FormatInt(sent.MessageID, 10), nil
}

func messageParams(chatID int64, m bot.Message, threadID int, paid bool) tgbotapi.Params {
	p := tgbotapi.Params{
		"chat_id":                  strconv.FormatInt(chatID, 10),
		"text":                     Render(m),
		"parse_mode":               tgbotapi.ModeHTML,
		"disable_web_page_preview": "true",
	}
	if m.Silent {
		p["disable_notification"] = "true"
	}
	if r, err := strconv.ParseInt(m.ReplyTo, 10, 64); err == nil && r > 0 {
		p["reply_to_message_id"] = strconv.FormatInt(r, 10)
		// The replied-to alert may have been deleted: send anyway.
		p["allow_sending_without_reply"] = "true"
	}
	if threadID > 0 {
		p["message_thread_id"] = strconv.Itoa(threadID) // forum topic; not in the library's types
	}
	if kb := keyboard(m.Buttons); kb != "" {
		p["reply_markup"] = kb
	}
	if paid {
		p["allow_paid_broadcast"] = "true" // Bot API 7.11; not in the library's types
	}
	return p
}

// MaxCallbackData is Telegram's limit on a button's callback_data, in bytes.
const MaxCallbackData = 64

// keyboard renders buttons as an inline_keyboard reply_markup, "" when there
// are none. Telegram refuses the whole message for one bad button
// (BUTTON_DATA_INVALID), so a button without a label or with data Telegram
// would refuse is left out rather than losing the answer.
func keyboard(rows [][]bot.Button) string {
	type button struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data"`
	}
	var kb [][]button
	for _, row := range rows {
		var out []button
		for _, b := range row {
			if strings.TrimSpace(b.Label) == "" || b.Data == "" || len(b.Data) > MaxCallbackData {
				continue
			}
			out = append(out, button{Text: b.Label, CallbackData: b.Data})
		}
		if len(out) > 0 {
			kb = append(kb, out)
		}
	}
	if len(kb) == 0 {
		return ""
	}
	body, _ := json.Marshal(map[string]any{"inline_keyboard": kb}) // plain strings: cannot fail
	return string(body)
}

// classify maps a failed call to the class delivery acts on:
//
//   - 429 → RateLimited, RetryAfter from retry_after (or Retry-After, else 1s).
//   - 5xx, network errors, timeouts, bodies that are not Bot API JSON, a
//     redirect (never followed) → Unavailable: Telegram as a whole is
//     failing, not this chat.
//   - 401 (the token was revoked; the adapter has stopped calling the API) →
//     Unavailable wrapping ErrUnauthorized: the rows wait for a restart.
//   - 400 with migrate_to_chat_id → Migrated, NewChatID set.
//   - 403 (blocked, kicked, not a member, deactivated user, deleted group,
//     can't initiate a conversation) and 400 "chat not found" → Permanent:
//     the subscription ends.
//   - 400 or 403 saying the bot lacks the rights to post ("not enough rights
//     to send", "have no rights to send", CHAT_WRITE_FORBIDDEN, "need
//     administrator rights") → NoRights: this message is dropped; delivery
//     decides when repeated refusals end the subscription (an admin can fix
//     rights, and Telegram once answered "not enough rights" for every
//     channel for a day, so one refusal must not end it).
//   - every other 4xx → Retryable. It is this message's fault (our bug: bad
//     entities, too long) or a passing condition (a closed topic): delivery
//     backs off and expires the row while the subscription survives.
func classify(err error) error {
	if errors.Is(err, ErrUnauthorized) {
		return &bot.SendError{Class: bot.Unavailable, Err: err}
	}
	var ce *callError
	if !errors.As(err, &ce) {
		return &bot.SendError{Class: bot.Retryable, Err: err}
	}
	desc := strings.ToLower(ce.Description)
	switch {
	case unauthorized(ce):
		return &bot.SendError{Class: bot.Unavailable, Err: fmt.Errorf("%w (%w)", err, ErrUnauthorized)}
	case ce.Code == http.StatusTooManyRequests:
		wait := ce.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return &bot.SendError{Class: bot.RateLimited, RetryAfter: wait, Err: err}
	case ce.MigrateTo != 0:
		return &bot.SendError{Class: bot.Migrated, NewChatID: strconv.FormatInt(ce.MigrateTo, 10), Err: err}
	case platformDown(ce):
		return &bot.SendError{Class: bot.Unavailable, Err: err}
	case (ce.Code == http.StatusBadRequest || ce.Code == http.StatusForbidden) && noRights(desc):
		return &bot.SendError{Class: bot.NoRights, Err: err}
	case ce.Code == http.StatusForbidden && permanentForbidden(desc):
		return &bot.SendError{Class: bot.Permanent, Err: err}
	case ce.Code == http.StatusBadRequest && (strings.Contains(desc, "chat not found") || strings.Contains(desc, "peer_id_invalid")):
		return &bot.SendError{Class: bot.Permanent, Err: err}
	default:
		return &bot.SendError{Class: bot.Retryable, Err: err}
	}
}

// noRights recognises the descriptions that mean the bot is in the chat
// but may not post there.
func noRights(desc string) bool {
	for _, s := range []string{"not enough rights", "have no rights", "chat_write_forbidden", "need administrator rights"} {
		if strings.Contains(desc, s) {
			return true
		}
	}
	return false
}

// permanentForbidden recognises the 403 descriptions that mean the bot can
// no longer write to the chat at all.
func permanentForbidden(desc string) bool {
	for _, s := range []string{
		"blocked", "kicked", "not a member", "deactivated", "chat was deleted",
		"can't initiate conversation", "can't send messages to bots", "user is deleted",
	} {
		if strings.Contains(desc, s) {
			return true
		}
	}
	return false
}
