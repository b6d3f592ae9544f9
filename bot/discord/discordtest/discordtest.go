// Package discordtest is an in-process fake of Discord for tests: the REST
// API under /api/v9/ and a websocket gateway, on an httptest server bound to
// 127.0.0.1. It records what clients send (commands, interaction answers,
// channel messages), lets tests inject failures and a global rate limit,
// and dispatches gateway events (INTERACTION_CREATE, GUILD_DELETE,
// CHANNEL_DELETE, …). Everything is safe for concurrent use.
package discordtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Defaults of a new Server.
const (
	DefaultToken = "fake-bot-token.Zm9vYmFy.c2VjcmV0"
	DefaultAppID = "900000000000000001"
	DefaultBotID = "900000000000000001"
)

// InteractionWindow is how long Discord accepts the first answer to an interaction.
const InteractionWindow = 3 * time.Second

// Option configures a Server.
type Option func(*Server)

// WithToken sets the bot token the fake accepts (without the "Bot " prefix).
func WithToken(token string) Option { return func(s *Server) { s.Token = token } }

// WithGatewayToken makes the gateway accept another token than REST does,
// so a test can see the gateway refuse IDENTIFY (close code 4004).
func WithGatewayToken(token string) Option { return func(s *Server) { s.gatewayToken = token } }

// WithGuilds sets the servers listed in READY.
func WithGuilds(ids ...string) Option { return func(s *Server) { s.guilds = ids } }

// WithHeartbeatInterval sets the interval sent in HELLO (default 1 s).
func WithHeartbeatInterval(d time.Duration) Option { return func(s *Server) { s.heartbeat = d } }

// WithGlobalRateLimit makes the fake answer 429 (global) beyond perSecond
// REST requests per second, like Discord's global limit of 50/s.
// Interaction callbacks are exempt, as on Discord.
func WithGlobalRateLimit(perSecond int) Option {
	return func(s *Server) {
		if perSecond > 0 {
			s.limiter = &limiter{rate: float64(perSecond), tokens: float64(perSecond), burst: float64(perSecond)}
		}
	}
}

// Server is the fake. Give URL to the adapter as its API URL.
type Server struct {
	// URL is the base that replaces https://discord.com/, with a trailing slash.
	URL   string
	Token string
	AppID string
	BotID string

	srv       *httptest.Server
	upgrader  websocket.Upgrader
	heartbeat time.Duration
	guilds    []string
	// gatewayToken is the token IDENTIFY must carry; empty means Token.
	gatewayToken string
	limiter      *limiter

	nextID      atomic.Int64
	requests    atomic.Int64
	rateLimited atomic.Int64
	// Platform-wide faults (FailAll, RevokeToken, Refuse).
	failAll         atomic.Pointer[Failure]
	revoked         atomic.Bool
	refusing        atomic.Bool
	gatewayConnects atomic.Int64

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every recorded event
	overwrites   [][]Command
	interactions map[string]*Interaction // by id
	byToken      map[string]string       // interaction token → id
	channels     map[string]*channelState
	failNext     []Failure
	conns        map[*gwConn]bool // value: identified or resumed
	maxSessions  int              // most identified or resumed connections at once
	identifies   int
	resumes      int
	heartbeats   int
	violations   []string
	closed       bool
}

type channelState struct {
	attempts  int
	messages  []Message
	fail      *Failure
	failTimes int // 0: until cleared
}

// New starts a fake on 127.0.0.1 and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		Token:        DefaultToken,
		AppID:        DefaultAppID,
		BotID:        DefaultBotID,
		heartbeat:    time.Second,
		changed:      make(chan struct{}),
		interactions: map[string]*Interaction{},
		byToken:      map[string]string{},
		channels:     map[string]*channelState{},
		conns:        map[*gwConn]bool{},
	}
	s.nextID.Store(1_200_000_000_000_000_000)
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("discordtest: listen: %v", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s.routes()}}
	s.srv.Start()
	s.URL = s.srv.URL + "/"
	tb.Cleanup(s.Close)
	return s
}

// Close disconnects every gateway client and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*gwConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// GatewayURL is the websocket URL the fake hands out.
func (s *Server) GatewayURL() string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/gateway"
}

func (s *Server) id() string { return strconv.FormatInt(s.nextID.Add(1), 10) }

// notify wakes waiters; call with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond, called with s.mu held, is true or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// ---- recorded data ----

// Embed is an embed as a client sent it.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
	Footer      *struct {
		Text string `json:"text"`
	} `json:"footer,omitempty"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author,omitempty"`
}

// EmbedField is one field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// MessageReference makes a message a reply.
type MessageReference struct {
	MessageID       string `json:"message_id"`
	ChannelID       string `json:"channel_id,omitempty"`
	GuildID         string `json:"guild_id,omitempty"`
	FailIfNotExists *bool  `json:"fail_if_not_exists,omitempty"`
}

// AllowedMentions is the allowed_mentions object.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// Message is a channel message the fake accepted.
type Message struct {
	ID              string            `json:"id"`
	ChannelID       string            `json:"channel_id"`
	Content         string            `json:"content,omitempty"`
	Embeds          []Embed           `json:"embeds,omitempty"`
	Reference       *MessageReference `json:"message_reference,omitempty"`
	AllowedMentions *AllowedMentions  `json:"allowed_mentions,omitempty"`
	Flags           int               `json:"flags,omitempty"`
	At              time.Time         `json:"-"`
}

// Command is one application command of a bulk overwrite.
type Command struct {
	Name                     string            `json:"name"`
	Type                     int               `json:"type,omitempty"`
	Description              string            `json:"description"`
	DescriptionLocalizations map[string]string `json:"description_localizations,omitempty"`
	DefaultMemberPermissions *string           `json:"default_member_permissions,omitempty"`
	DMPermission             *bool             `json:"dm_permission,omitempty"`
	Contexts                 []int             `json:"contexts,omitempty"`
	IntegrationTypes         []int             `json:"integration_types,omitempty"`
	NameLocalizations        map[string]string `json:"name_localizations,omitempty"`
	Options                  []OptionSpec      `json:"options"`
}

// OptionSpec is one option of a registered command.
type OptionSpec struct {
	Type                     int               `json:"type"`
	Name                     string            `json:"name"`
	NameLocalizations        map[string]string `json:"name_localizations,omitempty"`
	Description              string            `json:"description"`
	DescriptionLocalizations map[string]string `json:"description_localizations,omitempty"`
	Required                 bool              `json:"required,omitempty"`
	Choices                  []Choice          `json:"choices,omitempty"`
	MaxLength                int               `json:"max_length,omitempty"`
}

// Choice is one of an option's offered values.
type Choice struct {
	Name              string            `json:"name"`
	NameLocalizations map[string]string `json:"name_localizations,omitempty"`
	Value             any               `json:"value"`
}

// Callback is an interaction response (POST …/callback).
type Callback struct {
	Type    int
	Flags   int
	Content string
	Embeds  []Embed
	Choices []json.RawMessage
	At      time.Time
}

// Edit is an edit of the original interaction response (PATCH …/@original).
type Edit struct {
	Content *string
	Embeds  []Embed
	At      time.Time
}

// Interaction is a dispatched interaction and how the client answered it.
type Interaction struct {
	ID, Token, Name, GuildID, ChannelID string
	Dispatched                          time.Time
	Callbacks                           []Callback
	Edits                               []Edit
}

// Interaction response types and flags.
const (
	ResponseMessage  = 4
	ResponseDeferred = 5
	FlagEphemeral    = 1 << 6
)

// Answered reports whether the interaction got a final answer: a message
// callback, or a deferral followed by an edit.
func (i Interaction) Answered() bool {
	if len(i.Callbacks) == 0 {
		return false
	}
	return i.Callbacks[0].Type != ResponseDeferred || len(i.Edits) > 0
}

// Ephemeral reports whether the first answer was flagged ephemeral.
func (i Interaction) Ephemeral() bool {
	return len(i.Callbacks) > 0 && i.Callbacks[0].Flags&FlagEphemeral != 0
}

// Deferred reports whether the first answer was a deferral (type 5).
func (i Interaction) Deferred() bool {
	return len(i.Callbacks) > 0 && i.Callbacks[0].Type == ResponseDeferred
}

// AckDelay is the time from dispatch to the first callback (-1 if none).
func (i Interaction) AckDelay() time.Duration {
	if len(i.Callbacks) == 0 {
		return -1
	}
	return i.Callbacks[0].At.Sub(i.Dispatched)
}

// Final returns the content and embeds users finally see.
func (i Interaction) Final() (content string, embeds []Embed) {
	if len(i.Callbacks) == 0 {
		return "", nil
	}
	if n := len(i.Edits); n > 0 {
		e := i.Edits[n-1]
		if e.Content != nil {
			content = *e.Content
		}
		return content, e.Embeds
	}
	return i.Callbacks[0].Content, i.Callbacks[0].Embeds
}

// Text is the final content plus every embed's title, description and fields, for assertions.
func (i Interaction) Text() string {
	content, embeds := i.Final()
	b := []string{content}
	for _, e := range embeds {
		b = append(b, e.Title, e.Description)
		for _, f := range e.Fields {
			b = append(b, f.Name, f.Value)
		}
	}
	return strings.Join(b, "\n")
}

func (i *Interaction) clone() Interaction {
	c := *i
	c.Callbacks = append([]Callback(nil), i.Callbacks...)
	c.Edits = append([]Edit(nil), i.Edits...)
	return c
}

// ---- accessors ----

// Requests is the number of REST requests received, refused ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// RateLimitedCount is the number of 429 answers sent (injected or enforced).
func (s *Server) RateLimitedCount() int64 { return s.rateLimited.Load() }

// CommandOverwrites returns every bulk overwrite of global commands, in order.
func (s *Server) CommandOverwrites() [][]Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]Command(nil), s.overwrites...)
}

// Messages returns the messages accepted in a channel, oldest first.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[channelID]; c != nil {
		return append([]Message(nil), c.messages...)
	}
	return nil
}

// MessageCounts returns the number of accepted messages per channel.
func (s *Server) MessageCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.channels))
	for id, c := range s.channels {
		if len(c.messages) > 0 {
			out[id] = len(c.messages)
		}
	}
	return out
}

// Attempts is the number of message POSTs a channel received, failed ones included.
func (s *Server) Attempts(channelID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[channelID]; c != nil {
		return c.attempts
	}
	return 0
}

// Interaction returns what is known of an interaction.
func (s *Server) Interaction(id string) (Interaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.interactions[id]; i != nil {
		return i.clone(), true
	}
	return Interaction{}, false
}

// Violations lists payloads the fake refused for breaking Discord's limits.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Gateway counters: IDENTIFYs, RESUMEs and heartbeats received.
func (s *Server) Identifies() int { s.mu.Lock(); defer s.mu.Unlock(); return s.identifies }

// MaxSessions is the most gateway sessions (identified or resumed
// connections) the fake held at the same time: two means two processes
// received every event, and would each answer every interaction.
func (s *Server) MaxSessions() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxSessions }

// sessionLocked marks c identified or resumed; s.mu is held.
func (s *Server) sessionLocked(c *gwConn) {
	s.conns[c] = true
	n := 0
	for _, ok := range s.conns {
		if ok {
			n++
		}
	}
	s.maxSessions = max(s.maxSessions, n)
}
func (s *Server) Resumes() int    { s.mu.Lock(); defer s.mu.Unlock(); return s.resumes }
func (s *Server) Heartbeats() int { s.mu.Lock(); defer s.mu.Unlock(); return s.heartbeats }

// WaitConnected blocks until a client has identified (or resumed) on the gateway.
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.waitFor(ctx, func() bool {
		for _, ok := range s.conns {
			if ok {
				return true
			}
		}
		return false
	})
}

// WaitGatewayIdle blocks until no gateway connection is open.
func (s *Server) WaitGatewayIdle(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return len(s.conns) == 0 })
}

// WaitOverwrites blocks until at least n command overwrites were received.
func (s *Server) WaitOverwrites(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return len(s.overwrites) >= n })
}

// WaitAnswered blocks until the interaction has its final answer.
func (s *Server) WaitAnswered(ctx context.Context, id string) (Interaction, error) {
	var out Interaction
	err := s.waitFor(ctx, func() bool {
		i := s.interactions[id]
		if i == nil || !i.clone().Answered() {
			return false
		}
		out = i.clone()
		return true
	})
	return out, err
}

// WaitMessages blocks until the total of accepted channel messages reaches n.
func (s *Server) WaitMessages(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool {
		total := 0
		for _, c := range s.channels {
			total += len(c.messages)
		}
		return total >= n
	})
}

// ---- failures ----

// Failure is an error answer to inject.
type Failure struct {
	Status  int
	Code    int
	Message string
	// RetryAfter and Global apply to 429s.
	RetryAfter time.Duration
	Global     bool
	// HTML answers an HTML page instead of Discord's JSON, as Cloudflare and
	// load balancers in front of Discord do: a 429 then carries no
	// X-RateLimit-* header, and Retry-After only when RetryAfter > 0.
	HTML bool
}

// Cloudflare429 is the 429 Cloudflare answers in front of Discord (an IP
// ban, a global limit): an HTML page without X-RateLimit-* headers, with
// Retry-After only when retryAfter > 0.
func Cloudflare429(retryAfter time.Duration) Failure {
	return Failure{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, HTML: true}
}

// HTMLError is a status (typically 5xx) with an HTML body and no JSON code.
func HTMLError(status int) Failure {
	return Failure{Status: status, HTML: true}
}

// RateLimited is a 429 with retry_after, and X-RateLimit-Global when global.
func RateLimited(retryAfter time.Duration, global bool) Failure {
	return Failure{Status: http.StatusTooManyRequests, Message: "You are being rate limited.", RetryAfter: retryAfter, Global: global}
}

// MissingAccess is 403 code 50001.
func MissingAccess() Failure {
	return Failure{Status: http.StatusForbidden, Code: 50001, Message: "Missing Access"}
}

// MissingPermissions is 403 code 50013.
func MissingPermissions() Failure {
	return Failure{Status: http.StatusForbidden, Code: 50013, Message: "Missing Permissions"}
}

// UnknownChannel is 404 code 10003.
func UnknownChannel() Failure {
	return Failure{Status: http.StatusNotFound, Code: 10003, Message: "Unknown Channel"}
}

// ServerError is a 500 without a JSON code.
func ServerError() Failure {
	return Failure{Status: http.StatusInternalServerError, Message: "500: Internal Server Error"}
}

// Unauthorized is 401, as for a revoked token.
func Unauthorized() Failure {
	return Failure{Status: http.StatusUnauthorized, Message: "401: Unauthorized"}
}

// FailChannel makes message POSTs to a channel fail with f, times times
// (0: until ClearChannel).
func (s *Server) FailChannel(channelID string, f Failure, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	c.fail, c.failTimes = &f, times
}

// ClearChannel removes a channel's injected failure.
func (s *Server) ClearChannel(channelID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	c.fail, c.failTimes = nil, 0
}

// FailAll makes every REST request (any route, interaction callbacks
// included) answer f, until Recover. The websocket gateway is not affected.
func (s *Server) FailAll(f Failure) { s.failAll.Store(&f) }

// Recover ends FailAll and Refuse.
func (s *Server) Recover() {
	s.failAll.Store(nil)
	s.refusing.Store(false)
}

// RevokeToken revokes the bot token, as a reset in the developer portal
// does: from now on every REST call with it gets 401, the open gateway
// connections are closed with code 4004, and IDENTIFY or RESUME with it is
// refused with 4004.
func (s *Server) RevokeToken() {
	s.revoked.Store(true)
	s.mu.Lock()
	conns := make([]*gwConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(4004, "Authentication failed.")
	}
}

// Refuse resets every connection, REST and gateway, until Recover, and drops
// the open gateway connections: Discord unreachable.
func (s *Server) Refuse() {
	s.refusing.Store(true)
	s.DropConnections()
}

// GatewayConnects is the number of websocket connections attempted on the
// gateway, refused ones included.
func (s *Server) GatewayConnects() int64 { return s.gatewayConnects.Load() }

// reset closes the request's connection at once (RST where possible), so the
// client sees a network error, not an HTTP answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// FailNext makes the next message POST (to any channel) fail with f; calls queue up.
func (s *Server) FailNext(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, f)
}

// channel returns a channel's state; call with s.mu held.
func (s *Server) channel(id string) *channelState {
	c := s.channels[id]
	if c == nil {
		c = &channelState{}
		s.channels[id] = c
	}
	return c
}

// ---- REST ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /gateway", s.serveGateway)
	mux.HandleFunc("GET /gateway/", s.serveGateway)
	mux.HandleFunc("GET /api/v9/gateway", s.gateway)
	mux.HandleFunc("GET /api/v9/gateway/bot", s.gateway)
	mux.HandleFunc("GET /api/v9/users/@me", s.me)
	mux.HandleFunc("PUT /api/v9/applications/{app}/commands", s.overwriteCommands)
	mux.HandleFunc("POST /api/v9/interactions/{id}/{token}/callback", s.callback)
	mux.HandleFunc("PATCH /api/v9/webhooks/{app}/{token}/messages/@original", s.editOriginal)
	mux.HandleFunc("POST /api/v9/channels/{id}/messages", s.createMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, Failure{Status: http.StatusNotFound, Message: "404: Not Found"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateway := strings.HasPrefix(r.URL.Path, "/gateway")
		if gateway {
			s.gatewayConnects.Add(1)
		} else {
			s.requests.Add(1)
		}
		if s.refusing.Load() {
			reset(w)
			return
		}
		if gateway {
			mux.ServeHTTP(w, r)
			return
		}
		if f := s.failAll.Load(); f != nil {
			if f.Status == http.StatusTooManyRequests {
				s.rateLimited.Add(1)
			}
			writeError(w, *f)
			return
		}
		callback := strings.HasPrefix(r.URL.Path, "/api/v9/interactions/")
		if s.limiter != nil && !callback {
			if ok, wait := s.limiter.take(time.Now()); !ok {
				s.rateLimited.Add(1)
				writeError(w, RateLimited(wait, true))
				return
			}
		}
		// Interaction callbacks and webhooks are authorized by their token.
		public := callback || strings.HasPrefix(r.URL.Path, "/api/v9/webhooks/") || strings.HasPrefix(r.URL.Path, "/api/v9/gateway")
		if !public && (r.Header.Get("Authorization") != "Bot "+s.Token || s.revoked.Load()) {
			writeError(w, Unauthorized())
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, f Failure) {
	if f.HTML {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
		}
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Error %d</title></head><body><h1>%d %s</h1><p>cloudflare</p></body></html>\n",
			f.Status, f.Status, http.StatusText(f.Status))
		return
	}
	if f.Status == http.StatusTooManyRequests {
		secs := f.RetryAfter.Seconds()
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
		h.Set("X-RateLimit-Limit", "5")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
		scope := "user"
		if f.Global {
			h.Set("X-RateLimit-Global", "true")
			scope = "global"
		}
		h.Set("X-RateLimit-Scope", scope)
		writeJSON(w, f.Status, map[string]any{"message": f.Message, "retry_after": secs, "global": f.Global, "code": 0})
		return
	}
	writeJSON(w, f.Status, map[string]any{"message": f.Message, "code": f.Code})
}

func (s *Server) gateway(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    s.GatewayURL(),
		"shards": 1,
		"session_start_limit": map[string]int{
			"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1,
		},
	})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.botUser())
}

func (s *Server) botUser() map[string]any {
	return map[string]any{"id": s.BotID, "username": "xstatusbot", "discriminator": "0", "bot": true}
}

func (s *Server) overwriteCommands(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("app") != s.AppID {
		writeError(w, Failure{Status: http.StatusForbidden, Code: 50001, Message: "Missing Access"})
		return
	}
	var cmds []Command
	if err := json.NewDecoder(r.Body).Decode(&cmds); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	for _, c := range cmds {
		if v := commandViolation(c); v != "" {
			s.mu.Lock()
			s.violations = append(s.violations, v)
			s.mu.Unlock()
			writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
			return
		}
	}
	out := make([]map[string]any, 0, len(cmds))
	for _, c := range cmds {
		if c.Options == nil {
			c.Options = []OptionSpec{}
		}
		out = append(out, map[string]any{
			"id": s.id(), "application_id": s.AppID, "version": s.id(), "type": 1,
			"name": c.Name, "description": c.Description, "description_localizations": c.DescriptionLocalizations,
			"default_member_permissions": c.DefaultMemberPermissions, "options": c.Options,
		})
	}
	s.mu.Lock()
	s.overwrites = append(s.overwrites, cmds)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Type int `json:"type"`
		Data *struct {
			Flags   int               `json:"flags"`
			Content string            `json:"content"`
			Embeds  []Embed           `json:"embeds"`
			Choices []json.RawMessage `json:"choices"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	cb := Callback{Type: body.Type, At: now}
	if body.Data != nil {
		cb.Flags, cb.Content, cb.Embeds, cb.Choices = body.Data.Flags, body.Data.Content, body.Data.Embeds, body.Data.Choices
	}
	if v := s.checkMessage(cb.Content, cb.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.interactions[r.PathValue("id")]
	if i == nil || i.Token != r.PathValue("token") || now.Sub(i.Dispatched) > InteractionWindow {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 10062, Message: "Unknown interaction"})
		return
	}
	if len(i.Callbacks) > 0 {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 40060, Message: "Interaction has already been acknowledged."})
		return
	}
	i.Callbacks = append(i.Callbacks, cb)
	s.notify()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) editOriginal(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Content *string `json:"content"`
		Embeds  []Embed `json:"embeds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	content := ""
	if body.Content != nil {
		content = *body.Content
	}
	if v := s.checkMessage(content, body.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byToken[r.PathValue("token")]
	i := s.interactions[id]
	if !ok || r.PathValue("app") != s.AppID || i == nil || len(i.Callbacks) == 0 {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 10008, Message: "Unknown Message"})
		return
	}
	i.Edits = append(i.Edits, Edit{Content: body.Content, Embeds: body.Embeds, At: now})
	s.notify()
	writeJSON(w, http.StatusOK, s.messageJSON(Message{ID: i.ID, ChannelID: i.ChannelID, Content: content, Embeds: body.Embeds, At: now}))
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	channelID := r.PathValue("id")
	var m Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	s.mu.Lock()
	c := s.channel(channelID)
	c.attempts++
	var fail *Failure
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail = &f
	} else if c.fail != nil {
		fail = c.fail
		if c.failTimes > 0 {
			if c.failTimes--; c.failTimes == 0 {
				c.fail = nil
			}
		}
	}
	if fail != nil {
		if fail.Status == http.StatusTooManyRequests {
			s.rateLimited.Add(1)
		}
		s.notify()
		s.mu.Unlock()
		writeError(w, *fail)
		return
	}
	s.mu.Unlock()

	if v := s.checkMessage(m.Content, m.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	if len(m.Embeds) == 0 && strings.TrimSpace(m.Content) == "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50006, Message: "Cannot send an empty message"})
		return
	}
	m.ID, m.ChannelID, m.At = s.id(), channelID, time.Now()
	s.mu.Lock()
	c.messages = append(c.messages, m)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.messageJSON(m))
}

func (s *Server) messageJSON(m Message) map[string]any {
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "content": m.Content, "embeds": m.Embeds, "type": 0,
		"timestamp": m.At.UTC().Format(time.RFC3339Nano), "author": s.botUser(), "flags": m.Flags,
	}
	if m.Embeds == nil {
		out["embeds"] = []Embed{}
	}
	if m.Reference != nil {
		out["type"] = 19
		out["message_reference"] = m.Reference
	}
	return out
}

// checkMessage enforces Discord's limits and records violations.
func (s *Server) checkMessage(content string, embeds []Embed) string {
	v := violation(content, embeds)
	if v != "" {
		s.mu.Lock()
		s.violations = append(s.violations, v)
		s.mu.Unlock()
	}
	return v
}

func violation(content string, embeds []Embed) string {
	n := utf8.RuneCountInString
	if n(content) > 2000 {
		return "content longer than 2000"
	}
	if len(embeds) > 10 {
		return "more than 10 embeds"
	}
	total := 0
	for _, e := range embeds {
		if n(e.Title) > 256 {
			return "embed title longer than 256"
		}
		if n(e.Description) > 4096 {
			return "embed description longer than 4096"
		}
		if len(e.Fields) > 25 {
			return "more than 25 embed fields"
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				return "embed timestamp not ISO8601"
			}
		}
		total += n(e.Title) + n(e.Description)
		for _, f := range e.Fields {
			if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Value) == "" {
				return "empty embed field name or value"
			}
			if n(f.Name) > 256 || n(f.Value) > 1024 {
				return "embed field name longer than 256 or value longer than 1024"
			}
			total += n(f.Name) + n(f.Value)
		}
		if e.Footer != nil {
			total += n(e.Footer.Text)
		}
		if e.Author != nil {
			total += n(e.Author.Name)
		}
	}
	if total > 6000 {
		return "embeds longer than 6000 in total"
	}
	return ""
}

// limiter is a token bucket.
type limiter struct {
	mu                  sync.Mutex
	rate, tokens, burst float64
	last                time.Time
}

func (l *limiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}

func errorf(format string, a ...any) error { return fmt.Errorf("discordtest: "+format, a...) }
