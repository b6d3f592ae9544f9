// Package telegramtest is an in-process fake of the Telegram Bot API for
// tests and benchmarks. It listens on 127.0.0.1 only, accepts requests the
// way go-telegram-bot-api sends them (form-encoded POST; multipart and JSON
// bodies work too) at <URL>/bot<token>/<method>, and answers with Telegram's
// JSON shapes. It supports getMe, getUpdates (long poll with offset, timeout,
// limit and allowed_updates), sendMessage (validates HTML and the 4096
// limit and inline keyboards, records every message), getChatMember,
// setMyCommands, deleteWebhook, getWebhookInfo, button presses (PushCallback)
// with answerCallbackQuery and editMessageText (recorded); failures can be injected per method or per chat, and an
// optional rate limiter answers 429 like Telegram's flood control, with a
// higher overall limit for messages sent with allow_paid_broadcast (paid
// broadcast, recorded per message; RefusePaid makes them fail as with an
// empty Stars balance). Outages
// are switches on the server: Down/Up (connections refused, same address
// after), FailAlways (e.g. a proxy's HTML 502 on every call), RevokeToken
// (401 on every call).
//
// All methods are safe for concurrent use.
package telegramtest

import (
	"time"
)

// DefaultToken is the token a Server accepts unless WithToken says otherwise.
const DefaultToken = "123456789:AAFakeTokenForTestsOnly-0123456789ab"

// AnonymousAdminID is the user Telegram shows as the sender of a message an
// anonymous group admin posts (GroupAnonymousBot).
const AnonymousAdminID = 1087968824

// Option configures a Server. With none, a Server accepts DefaultToken,
// answers getMe as @XStatusTestBot and has no flood control.
type Option func(*Server)

// WithToken sets the bot token the fake accepts.
func WithToken(token string) Option { return func(s *Server) { s.Token = token } }

// WithBot sets the id and username getMe returns.
func WithBot(id int64, userName string) Option {
	return func(s *Server) { s.Bot.ID, s.Bot.UserName = id, userName }
}

// WithLimits turns on flood control for sendMessage.
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithClock sets the clock of the rate limiter; time.Now by default.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Limits is flood control for sendMessage, in fixed windows (so a burst
// across a window boundary may reach twice a limit, as a sliding window
// would not). Zero fields are unlimited. Above a limit sendMessage answers
// 429 with retry_after set to the seconds left in the window.
type Limits struct {
	// PerSecond caps messages per second across all chats (Telegram: ~30),
	// counting those sent without allow_paid_broadcast; with PaidPerSecond
	// zero it counts every message.
	PerSecond int
	// PaidPerSecond caps every message per second across all chats, and is
	// the only overall cap of those sent with allow_paid_broadcast
	// (Telegram's paid broadcast: 1000). Zero: the fake sells no paid
	// broadcast, and the flag changes nothing.
	//
	// How Telegram counts messages sent without the flag during a paid
	// burst is not documented; the fake keeps them to PerSecond among
	// themselves, so command answers still pass beside a paid fan-out.
	PaidPerSecond int
	// PerChatPerSecond caps messages per second to one chat (Telegram: ~1).
	PerChatPerSecond int
	// PerGroupPerMinute caps messages per minute to one group or channel
	// (negative chat id; Telegram: ~20).
	PerGroupPerMinute int
}

// User is a Telegram user as the Bot API shows it.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	UserName     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a Telegram chat. Type is "private", "group", "supergroup" or "channel".
type Chat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title,omitempty"`
}

// Msg is an incoming message to push as an update.
type Msg struct {
	Chat       Chat
	From       *User
	SenderChat *Chat
	Text       string
	// ThreadID makes it a forum-topic message (message_thread_id).
	ThreadID    int
	MigrateTo   int64
	MigrateFrom int64
}

// SentMessage is one message the bot sent, as the fake understood it.
type SentMessage struct {
	ChatID            int64
	MessageID         int
	Text              string // as sent (HTML when ParseMode is HTML)
	Plain             string // the text a user sees: tags removed, entities decoded
	ParseMode         string
	Silent            bool // disable_notification
	ReplyTo           int
	AllowWithoutReply bool
	ThreadID          int
	NoPreview         bool
	// Buttons is the inline keyboard sent with the message (reply_markup).
	Buttons [][]Button
	// PaidBroadcast is allow_paid_broadcast: the sender asked for (and, with
	// a paid limit, got) Telegram's paid broadcast rate for this message.
	PaidBroadcast bool
	At            time.Time
}

// BotCommand is one entry of a setMyCommands menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// PollRequest is what the last getUpdates call asked for.
type PollRequest struct {
	Offset         int
	Timeout        int
	Limit          int
	AllowedUpdates []string
}

// Stats counts what the fake has seen.
type Stats struct {
	SendCalls       int64 // sendMessage requests
	Sent            int64 // messages accepted
	RateLimited     int64 // 429 answers to sendMessage (limiter or injected)
	Failed          int64 // other error answers to sendMessage
	GetUpdatesCalls int64
	// Conflicts counts getUpdates calls that found another one waiting: as
	// Telegram does, the waiting one was ended with 409 Conflict. Two
	// processes polling one bot token do this.
	Conflicts     int64
	GetChatMember int64
	// Requests counts every request that reached the handler, any method,
	// failed or not.
	Requests int64
	// PaidSent counts messages accepted with allow_paid_broadcast;
	// PaidCharged those of them accepted beyond the free amount of their
	// second (Limits.PerSecond), which Telegram bills at 0.1 Star each.
	PaidSent, PaidCharged int64
	// PaidRefused counts paid messages answered with the failure set by
	// RefusePaid (an empty Stars balance, say).
	PaidRefused int64
	// PaidElsewhere counts requests to methods other than sendMessage that
	// carried allow_paid_broadcast (an edit, an answer to a button press).
	PaidElsewhere int64
}
