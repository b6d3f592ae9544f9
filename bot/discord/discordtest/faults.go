package discordtest

import (
	"net"
	"net/http"
	"time"
)

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

// Recover ends FailAll, Refuse and CutShard.
func (s *Server) Recover() {
	s.failAll.Store(nil)
	s.refusing.Store(false)
	s.mu.Lock()
	s.cut = nil
	s.mu.Unlock()
}

// CutShard cuts one shard off, as a network fault between it and Discord
// would: its open connections drop, and each IDENTIFY or RESUME for that
// shard is answered by closing the connection, until Recover. The other
// shards are not affected.
func (s *Server) CutShard(shard int) {
	s.mu.Lock()
	if s.cut == nil {
		s.cut = map[int]bool{}
	}
	s.cut[shard] = true
	s.mu.Unlock()
	s.DropShard(shard)
}

func (s *Server) isCut(shard int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut[shard]
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

// Outgrow plays the bot joining more servers than its shards may hold:
// GET /gateway/bot now recommends recommended shards, and from now on the
// gateway closes every open session, and refuses every IDENTIFY or RESUME,
// with fewer than required shards, with close code 4011.
func (s *Server) Outgrow(required, recommended int) {
	s.mu.Lock()
	s.requiredShards, s.shards = required, max(recommended, 1)
	var conns []*gwConn
	for c, ok := range s.conns {
		if ok && c.shard.Count < required {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(4011, "Sharding required.")
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
