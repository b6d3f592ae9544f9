package discordtest

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

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
	// What GET /gateway/bot recommends, and the fewest shards IDENTIFY may
	// ask for (0: any).
	shards, maxConcurrency, requiredShards int
	// startsLeft and startsReset are session_start_limit's remaining and
	// reset_after: IDENTIFYs left today (each accepted one counts) and when
	// the count is reset.
	startsLeft  int
	startsReset time.Duration

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
	identified   []Identify
	sessions     map[string]ShardPair // session id → its shard, for RESUME
	cut          map[int]bool         // shards whose connections are cut (CutShard)
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

// New starts a fake on 127.0.0.1, as httptest.NewServer does: it panics
// if it cannot listen. Close it when done, e.g. with t.Cleanup(s.Close).
func New(opts ...Option) *Server {
	s := &Server{
		Token:          DefaultToken,
		AppID:          DefaultAppID,
		BotID:          DefaultBotID,
		heartbeat:      time.Second,
		shards:         1,
		maxConcurrency: 1,
		startsLeft:     1000,
		sessions:       map[string]ShardPair{},
		changed:        make(chan struct{}),
		interactions:   map[string]*Interaction{},
		byToken:        map[string]string{},
		channels:       map[string]*channelState{},
		conns:          map[*gwConn]bool{},
	}
	s.nextID.Store(1_200_000_000_000_000_000)
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("discordtest: listen on 127.0.0.1: %v", err))
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s.routes()}}
	s.srv.Start()
	s.URL = s.srv.URL + "/"
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

// Identified lists every IDENTIFY received, in order, refused ones included.
func (s *Server) Identified() []Identify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Identify(nil), s.identified...)
}

// ConnectedShards lists the shard of every identified (or resumed)
// connection open now, sorted by shard id.
func (s *Server) ConnectedShards() []ShardPair {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ShardPair
	for c, ok := range s.conns {
		if ok {
			out = append(out, c.shard)
		}
	}
	slices.SortFunc(out, func(a, b ShardPair) int { return cmp.Or(a.ID-b.ID, a.Count-b.Count) })
	return out
}

// WaitShards blocks until a client is identified (or resumed) on each of
// the shards given.
func (s *Server) WaitShards(ctx context.Context, shards ...int) error {
	return s.waitFor(ctx, func() bool {
		up := map[int]bool{}
		for c, ok := range s.conns {
			if ok {
				up[c.shard.ID] = true
			}
		}
		for _, id := range shards {
			if !up[id] {
				return false
			}
		}
		return true
	})
}

// WaitIdentified blocks until n IDENTIFYs were received, refused ones included.
func (s *Server) WaitIdentified(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return len(s.identified) >= n })
}

// MaxSessions is the most gateway sessions (identified or resumed
// connections) the fake held at the same time on one shard: two means two
// processes received the same events, and would each answer every
// interaction. A bot with several shards holds one session on each.
func (s *Server) MaxSessions() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxSessions }

// sessionLocked marks c identified or resumed; s.mu is held.
func (s *Server) sessionLocked(c *gwConn) {
	s.conns[c] = true
	n := 0
	for o, ok := range s.conns {
		if ok && o.shard.ID == c.shard.ID {
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
