// Package discordtest is an in-process fake of Discord for tests: the REST
// API under /api/v9/ and a websocket gateway, on an httptest server bound to
// 127.0.0.1. It records what clients send (commands, interaction answers,
// channel messages, each IDENTIFY's shard), lets tests inject failures and a
// global rate limit, and dispatches gateway events (INTERACTION_CREATE,
// GUILD_CREATE, GUILD_DELETE, CHANNEL_DELETE, …) on the shard Discord would
// pick, or on a chosen one. Everything is safe for concurrent use.
package discordtest

import (
	"fmt"
	"time"
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

// WithShards sets what GET /gateway/bot recommends: the number of shards
// and session_start_limit.max_concurrency (both 1 by default).
func WithShards(count, maxConcurrency int) Option {
	return func(s *Server) { s.shards, s.maxConcurrency = max(count, 1), max(maxConcurrency, 1) }
}

// WithSessionStartLimit sets what GET /gateway/bot says of today's
// IDENTIFYs: remaining (1000 by default, one less for each accepted
// IDENTIFY) and reset_after.
func WithSessionStartLimit(remaining int, resetAfter time.Duration) Option {
	return func(s *Server) { s.startsLeft, s.startsReset = remaining, resetAfter }
}

// WithShardsRequired makes the gateway refuse, as Discord does once a bot
// is in too many servers, an IDENTIFY with fewer than min shards (an
// unsharded IDENTIFY counts as one): close code 4011 "Sharding required".
func WithShardsRequired(min int) Option { return func(s *Server) { s.requiredShards = min } }

func errorf(format string, a ...any) error { return fmt.Errorf("discordtest: "+format, a...) }
