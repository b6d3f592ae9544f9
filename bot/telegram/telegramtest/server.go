package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

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
	refusePaid *Failure // answer to every paid sendMessage, until AcceptPaid
	// refuseLater becomes refusePaid once paidLeft more paid messages
	// have been accepted (RefusePaidAfter).
	refuseLater *Failure
	paidLeft    int

	rl rateLimiter

	sendCalls, sentN, rateLimited, failed, polls, conflicts, memberCalls, requests atomic.Int64
	paidSent, paidCharged, paidRefused, paidElsewhere                              atomic.Int64
}

// New starts a fake on 127.0.0.1, as httptest.NewServer does: it panics
// if it cannot listen. Close it when done, e.g. with t.Cleanup(s.Close).
func New(opts ...Option) *Server {
	s := &Server{
		Token:      DefaultToken,
		Bot:        User{ID: 5550001, IsBot: true, FirstName: "X Status", UserName: "XStatusTestBot"},
		closed:     make(chan struct{}),
		now:        time.Now,
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
	for _, o := range opts {
		o(s)
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
		Requests: s.requests.Load(), PaidSent: s.paidSent.Load(), PaidCharged: s.paidCharged.Load(),
		PaidRefused: s.paidRefused.Load(), PaidElsewhere: s.paidElsewhere.Load(),
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
