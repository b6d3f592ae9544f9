// Package telegramtest is an in-process fake of the Telegram Bot API for
// tests and benchmarks. It listens on 127.0.0.1 only, accepts requests the
// way go-telegram-bot-api sends them (form-encoded POST; multipart and JSON
// bodies work too) at <URL>/bot<token>/<method>, and answers with Telegram's
// JSON shapes. It supports getMe, getUpdates (long poll with offset, timeout,
// limit and allowed_updates), sendMessage (validates HTML and the 4096
// limit and inline keyboards, records every message), getChatMember,
// setMyCommands, deleteWebhook, getWebhookInfo, button presses (PushCallback)
// with answerCallbackQuery and editMessageText (recorded); failures can be injected per method or per chat, and an
// optional rate limiter answers 429 like Telegram's flood control. Outages
// are switches on the server: Down/Up (connections refused, same address
// after), FailAlways (e.g. a proxy's HTML 502 on every call), RevokeToken
// (401 on every call).
//
// All methods are safe for concurrent use.
package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultToken is the token a Server accepts unless Options.Token is set.
const DefaultToken = "123456789:AAFakeTokenForTestsOnly-0123456789ab"

// AnonymousAdminID is the user Telegram shows as the sender of a message an
// anonymous group admin posts (GroupAnonymousBot).
const AnonymousAdminID = 1087968824

// Options configure a Server. The zero value works.
type Options struct {
	Token string
	// BotID and BotUserName describe the bot getMe returns.
	BotID       int64
	BotUserName string
	Limits      Limits
	// Now is the clock of the rate limiter; time.Now by default.
	Now func() time.Time
}

// Limits is flood control for sendMessage, in fixed windows (so a burst
// across a window boundary may reach twice a limit, as a sliding window
// would not). Zero fields are unlimited. Above a limit sendMessage answers
// 429 with retry_after set to the seconds left in the window.
type Limits struct {
	// PerSecond caps messages per second across all chats (Telegram: ~30).
	PerSecond int
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
	At      time.Time
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
}

// Failure is an error answer. Code is both the HTTP status and error_code.
// A non-empty Body is sent as is, as text/html, instead of Telegram's JSON.
type Failure struct {
	Code        int
	Description string
	RetryAfter  int
	MigrateTo   int64
	Body        string
	// Location, if set, is sent as the Location header (with a 3xx Code: a redirect).
	Location string
}

// Failures shaped like Telegram's.
func TooManyRequests(retryAfter int) Failure {
	return Failure{Code: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}
func Blocked() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot was blocked by the user"}
}
func Kicked() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot was kicked from the supergroup chat"}
}
func NotMember() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot is not a member of the channel chat"}
}
func ChatNotFound() Failure { return Failure{Code: 400, Description: "Bad Request: chat not found"} }
func MigratedTo(newID int64) Failure {
	return Failure{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: newID}
}
func BadRequest(desc string) Failure { return Failure{Code: 400, Description: "Bad Request: " + desc} }
func ServerError(code int) Failure {
	return Failure{Code: code, Description: strings.TrimSpace(http.StatusText(code))}
}
func NonJSON(code int) Failure {
	return Failure{Code: code, Body: fmt.Sprintf("<html><body><h1>%d %s</h1>nginx</body></html>", code, http.StatusText(code))}
}
func Unauthorized() Failure { return Failure{Code: 401, Description: "Unauthorized"} }
func Conflict() Failure {
	return Failure{Code: 409, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
}

type queued struct {
	id   int
	kind string // message, channel_post, my_chat_member, …
	raw  json.RawMessage
}

type memberKey struct{ chat, user int64 }

// Server is the fake Bot API.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:40123.
	URL   string
	Token string
	Bot   User

	srv       *httptest.Server
	ln        *switchListener
	closed    chan struct{}
	closeOnce sync.Once
	now       func() time.Time
	limits    Limits

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	updates    []queued
	nextUpdate int
	confirmed  int // highest offset a getUpdates call sent
	allowed    map[string]bool
	lastPoll   PollRequest
	polling    chan struct{} // closed to end the waiting getUpdates with 409
	nextMsg    map[int64]int
	chatTypes  map[int64]string
	sent       []SentMessage
	byChat     map[int64][]int
	members    map[memberKey]string
	failNext   map[string][]Failure
	failChat   map[int64][]Failure
	chatAlways map[int64]Failure
	migrated   map[int64]int64
	commands   map[string][]BotCommand
	callbacks  callbackState
	always     map[string]Failure // method ("" for all) → failure until ClearAlways
	revoked    bool

	rl rateLimiter

	sendCalls, sentN, rateLimited, failed, polls, conflicts, memberCalls, requests atomic.Int64
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	s := &Server{
		Token:      opts.Token,
		Bot:        User{ID: opts.BotID, IsBot: true, FirstName: "X Status", UserName: opts.BotUserName},
		closed:     make(chan struct{}),
		now:        opts.Now,
		limits:     opts.Limits,
		changed:    make(chan struct{}),
		nextUpdate: 1000,
		nextMsg:    map[int64]int{},
		chatTypes:  map[int64]string{},
		byChat:     map[int64][]int{},
		members:    map[memberKey]string{},
		failNext:   map[string][]Failure{},
		failChat:   map[int64][]Failure{},
		chatAlways: map[int64]Failure{},
		migrated:   map[int64]int64{},
		commands:   map[string][]BotCommand{},
		always:     map[string]Failure{},
		rl:         rateLimiter{chats: map[int64]*chatWindow{}},
		callbacks:  newCallbackState(),
	}
	if s.Token == "" {
		s.Token = DefaultToken
	}
	if s.Bot.ID == 0 {
		s.Bot.ID = 5550001
	}
	if s.Bot.UserName == "" {
		s.Bot.UserName = "XStatusTestBot"
	}
	if s.now == nil {
		s.now = time.Now
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("telegramtest: listen on 127.0.0.1: %v", err))
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.srv.Listener.Close()
	s.ln = newSwitchListener(l)
	s.srv.Listener = s.ln
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Start is NewServer with Close registered on tb.Cleanup.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// Endpoint is the format string for the adapter (TELEGRAM_API_ENDPOINT).
func (s *Server) Endpoint() string { return s.URL + "/bot%s/%s" }

// Close ends pending long polls and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// notifyLocked wakes every waiter. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Wait blocks until cond returns true (checked after every change), ctx
// ends or the server closes. cond must not block; it may call s's methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return errors.New("telegramtest: server closed")
		case <-ch:
		}
	}
}

// WaitHandled waits until the client has confirmed update id, that is sent a
// getUpdates offset past it. With an adapter that advances its offset only
// after handling an update, this means the update was handled.
func (s *Server) WaitHandled(ctx context.Context, id int) error {
	err := s.Wait(ctx, func() bool { return s.Confirmed() > id })
	if err != nil {
		return fmt.Errorf("update %d not handled (confirmed offset %d): %w", id, s.Confirmed(), err)
	}
	return nil
}

// WaitSent waits until chat has at least n messages and returns them all.
func (s *Server) WaitSent(ctx context.Context, chatID int64, n int) ([]SentMessage, error) {
	err := s.Wait(ctx, func() bool { return len(s.SentTo(chatID)) >= n })
	got := s.SentTo(chatID)
	if err != nil {
		return got, fmt.Errorf("chat %d: %d of %d messages: %w", chatID, len(got), n, err)
	}
	return got, nil
}

// Confirmed is the highest offset a getUpdates call has sent.
func (s *Server) Confirmed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}

// LastPoll is what the last getUpdates call asked for.
func (s *Server) LastPoll() PollRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lastPoll
	p.AllowedUpdates = append([]string(nil), p.AllowedUpdates...)
	return p
}

// SentTo returns the messages sent to one chat, oldest first.
func (s *Server) SentTo(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.byChat[chatID]
	out := make([]SentMessage, len(idx))
	for i, k := range idx {
		out[i] = s.sent[k]
	}
	return out
}

// Sent returns every message sent, in order.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// Chats lists the chats that received messages, sorted.
func (s *Server) Chats() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.byChat))
	for id := range s.byChat {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Commands returns the menu set for a language code ("" for the default).
func (s *Server) Commands(lang string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.commands[lang]...)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		SendCalls: s.sendCalls.Load(), Sent: s.sentN.Load(), RateLimited: s.rateLimited.Load(),
		Failed: s.failed.Load(), GetUpdatesCalls: s.polls.Load(), Conflicts: s.conflicts.Load(), GetChatMember: s.memberCalls.Load(),
		Requests: s.requests.Load(),
	}
}

// SetMember sets a user's status in a chat for getChatMember: "creator",
// "administrator", "member", "restricted", "left" or "kicked". Unknown
// users are members.
func (s *Server) SetMember(chatID, userID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[memberKey{chatID, userID}] = status
}

// FailNext makes the next calls of a method (any case) answer fs, in order.
func (s *Server) FailNext(method string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := strings.ToLower(method)
	s.failNext[m] = append(s.failNext[m], fs...)
}

// FailChat makes the next sendMessage calls to a chat answer fs, in order.
func (s *Server) FailChat(chatID int64, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failChat[chatID] = append(s.failChat[chatID], fs...)
}

// FailChatAlways makes every sendMessage to a chat answer f until ClearChat.
func (s *Server) FailChatAlways(chatID int64, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatAlways[chatID] = f
}

// FailAlways makes every call of a method (any case; "" for every method)
// answer f until ClearAlways, e.g. NonJSON(502) for a proxy in front of a
// Bot API that is down. A per-method failure wins over the "" one.
func (s *Server) FailAlways(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[strings.ToLower(method)] = f
	s.notifyLocked() // pending long polls answer it at once
}

// ClearAlways removes every failure set with FailAlways.
func (s *Server) ClearAlways() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.always)
}

// RevokeToken makes every later call answer 401 Unauthorized, as Telegram
// does once BotFather revoked the token; pending long polls answer it too.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
	s.notifyLocked()
}

// Down makes the server unreachable: the listening socket is closed (new
// connections are refused) and open connections, long polls included, are
// cut. Up brings it back on the same address.
func (s *Server) Down() {
	s.ln.down()
	s.srv.CloseClientConnections()
}

// Up reopens the listening socket Down closed, on the same address.
func (s *Server) Up() error { return s.ln.up() }

// ClearChat removes the failures set for a chat.
func (s *Server) ClearChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.chatAlways, chatID)
	delete(s.failChat, chatID)
}

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

// --- HTTP ---

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		writeFailure(w, Failure{Code: 404, Description: "Not Found"})
		return
	}
	s.requests.Add(1)
	token, method := rest[:i], strings.ToLower(rest[i+1:])
	s.mu.Lock()
	revoked := s.revoked
	always, failAlways := s.always[method]
	if !failAlways {
		always, failAlways = s.always[""]
	}
	s.mu.Unlock()
	if token != s.Token || revoked {
		writeFailure(w, Unauthorized())
		return
	}
	if failAlways {
		if method == "sendmessage" {
			s.sendCalls.Add(1)
			s.countFailure(always)
		}
		writeFailure(w, always)
		return
	}
	p, err := params(r)
	if err != nil {
		writeFailure(w, BadRequest("can't parse request: "+err.Error()))
		return
	}
	s.mu.Lock()
	if q := s.failNext[method]; len(q) > 0 {
		f := q[0]
		s.failNext[method] = q[1:]
		s.mu.Unlock()
		if method == "sendmessage" {
			s.sendCalls.Add(1)
			s.countFailure(f)
		}
		writeFailure(w, f)
		return
	}
	s.mu.Unlock()
	switch method {
	case "getme":
		writeOK(w, map[string]any{
			"id": s.Bot.ID, "is_bot": true, "first_name": s.Bot.FirstName, "username": s.Bot.UserName,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		})
	case "getupdates":
		s.getUpdates(w, r, p)
	case "sendmessage":
		s.sendMessage(w, p)
	case "getchatmember":
		s.getChatMember(w, p)
	case "setmycommands":
		s.setMyCommands(w, p)
	case "answercallbackquery":
		s.answerCallbackQuery(w, p)
	case "editmessagetext":
		s.editMessageText(w, p)
	case "deletewebhook":
		writeOK(w, true)
	case "getwebhookinfo":
		writeOK(w, map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": 0})
	default:
		writeFailure(w, Failure{Code: 404, Description: "Not Found: method not found"})
	}
}

// params reads a request's parameters from a form, multipart or JSON body.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, err
		}
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				out[k] = str
			} else {
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
		for k, v := range r.URL.Query() {
			out[k] = v[0]
		}
		return out, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
	}
	for k, v := range r.Form {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, nil
}

func writeOK(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.Location != "" {
		w.Header().Set("Location", f.Location)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Code)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	body := map[string]any{"ok": false, "error_code": f.Code, "description": f.Description}
	params := map[string]any{}
	if f.RetryAfter > 0 {
		params["retry_after"] = f.RetryAfter
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if f.MigrateTo != 0 {
		params["migrate_to_chat_id"] = f.MigrateTo
	}
	if len(params) > 0 {
		body["parameters"] = params
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Code)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) countFailure(f Failure) {
	if f.Code == 429 {
		s.rateLimited.Add(1)
	} else {
		s.failed.Add(1)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
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
	if wait := s.rl.allow(s.limits, chatID, s.now()); wait > 0 {
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
	s.byChat[chatID] = append(s.byChat[chatID], len(s.sent))
	s.sent = append(s.sent, m)
	s.rememberLocked(chatID, m.MessageID, plain, buttons)
	s.notifyLocked()
	s.mu.Unlock()
	s.sentN.Add(1)
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

func (s *Server) getChatMember(w http.ResponseWriter, p map[string]string) {
	s.memberCalls.Add(1)
	chatID, err1 := strconv.ParseInt(p["chat_id"], 10, 64)
	userID, err2 := strconv.ParseInt(p["user_id"], 10, 64)
	if err1 != nil || err2 != nil {
		writeFailure(w, BadRequest("invalid user_id specified"))
		return
	}
	s.mu.Lock()
	status, ok := s.members[memberKey{chatID, userID}]
	s.mu.Unlock()
	if !ok {
		status = "member"
		if userID == s.Bot.ID {
			status = "administrator"
		}
	}
	writeOK(w, map[string]any{"status": status, "user": User{ID: userID, FirstName: "User"}})
}

func (s *Server) setMyCommands(w http.ResponseWriter, p map[string]string) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		writeFailure(w, BadRequest("can't parse commands JSON object"))
		return
	}
	for _, c := range cmds {
		if c.Command == "" || len(c.Command) > 32 || strings.ToLower(c.Command) != c.Command ||
			utf16Len(c.Description) < 1 || utf16Len(c.Description) > 256 {
			writeFailure(w, BadRequest("BOT_COMMAND_INVALID"))
			return
		}
	}
	s.mu.Lock()
	s.commands[p["language_code"]] = cmds
	s.notifyLocked()
	s.mu.Unlock()
	writeOK(w, true)
}
