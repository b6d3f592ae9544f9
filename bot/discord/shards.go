package discord

// Gateway shards: one discordgo session per shard, opened within Discord's
// identify concurrency, each reconnecting on its own.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
)

// MaxShards bounds a DISCORD_SHARDS number: Discord recommends about one
// shard per 1,000 servers, and one process holds them all.
const MaxShards = 1024

// IdentifyWindow is Discord's identify rate limit: at most max_concurrency
// IDENTIFYs per window, one per rate-limit key (shard_id % max_concurrency).
const IdentifyWindow = 5 * time.Second

// ErrShardingRequired means the gateway closed a session with code 4011:
// the bot is in too many servers for the shard count it asked for.
var ErrShardingRequired = errors.New("discord requires more gateway shards for this bot (close code 4011 sharding required): set DISCORD_SHARDS=auto, or a larger number")

// ParseShards reads a DISCORD_SHARDS value: "auto" (or empty) gives 0,
// meaning the count Discord recommends; otherwise a number of shards from 1
// to MaxShards.
func ParseShards(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "auto") {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxShards {
		return 0, fmt.Errorf("DISCORD_SHARDS: want auto or a number of shards from 1 to %d, got %q", MaxShards, v)
	}
	return n, nil
}

// shard is one gateway session: shard id of count.
type shard struct {
	id, count    int
	s            *discordgo.Session
	dialer       *gatewayDialer
	disconnected chan struct{}
	// identified is set once READY came: from then on Open RESUMEs, which
	// Discord does not count against the identify limit.
	identified atomic.Bool

	mu     sync.Mutex
	state  bot.PlatformState
	since  time.Time
	guilds map[string]struct{} // the servers Discord sends on this shard
}

func (sh *shard) setState(st bot.PlatformState, now time.Time) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.state != st {
		sh.state, sh.since = st, now
	}
}

func (sh *shard) health() bot.ShardHealth {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return bot.ShardHealth{ID: sh.id, State: sh.state, Since: sh.since, Guilds: len(sh.guilds)}
}

// ready records READY's servers (all unavailable until their GUILD_CREATE).
func (sh *shard) ready(guilds []*discordgo.Guild) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.guilds = make(map[string]struct{}, len(guilds))
	for _, g := range guilds {
		if g != nil && g.ID != "" {
			sh.guilds[g.ID] = struct{}{}
		}
	}
}

func (sh *shard) guild(id string, in bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if in {
		sh.guilds[id] = struct{}{}
	} else {
		delete(sh.guilds, id)
	}
}

// Shards reports each gateway shard, in shard order; nil before Run has
// learnt how many there are.
func (a *Bot) Shards() []bot.ShardHealth {
	p := a.shards.Load()
	if p == nil {
		return nil
	}
	out := make([]bot.ShardHealth, 0, len(*p))
	revoked := a.unauthorized.Load()
	for _, sh := range *p {
		h := sh.health()
		if revoked {
			h.State = bot.PlatformUnauthorized
		}
		out = append(out, h)
	}
	return out
}

// shardState records a shard's new state and what it means for the
// platform's: a shard down makes Discord unavailable, and the last shard up
// makes it ready again (while some shard has never connected, it stays as
// it was: connecting at start).
func (a *Bot) shardState(sh *shard, st bot.PlatformState) {
	a.shardMu.Lock()
	defer a.shardMu.Unlock()
	sh.setState(st, a.clock.Now())
	if st != bot.PlatformReady {
		a.setState(bot.PlatformUnavailable)
		return
	}
	if p := a.shards.Load(); p != nil && !slices.ContainsFunc(*p, func(o *shard) bool { return o.health().State != bot.PlatformReady }) {
		a.setState(bot.PlatformReady)
	}
}

// shardPlan is how many shards to open and how fast.
type shardPlan struct {
	count, concurrency int
	recommended        int // what Discord recommends, 0 if unknown
}

// plan asks GET /gateway/bot for the recommended shard count (used when
// DISCORD_SHARDS is auto) and the identify concurrency, retrying while
// Discord is unreachable. With a number set, an answer Discord refuses
// leaves the identify concurrency at 1.
func (a *Bot) plan(ctx context.Context, rest *discordgo.Session) (shardPlan, error) {
	var gb *discordgo.GatewayBotResponse
	err := adapterkit.Retry(ctx, a.clock, a.backoff(), a.log, "discord gateway/bot unreachable; retrying", func(ctx context.Context) (time.Duration, error) {
		var err error
		if gb, err = rest.GatewayBot(discordgo.WithContext(ctx)); err == nil {
			return 0, nil
		}
		st := status(err)
		switch {
		case st == http.StatusUnauthorized:
			return 0, adapterkit.Final(fmt.Errorf("discord: gateway/bot: %w", ErrUnauthorized))
		case st >= 400 && st < 500 && st != http.StatusTooManyRequests:
			return 0, adapterkit.Final(fmt.Errorf("discord: gateway/bot: %w", err))
		}
		return rateLimitWait(err), err
	})
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, ErrUnauthorized) || a.shardSetting == 0:
		return shardPlan{}, err
	default:
		a.log.Warn("discord gateway/bot refused; opening the configured shards one at a time", "err", err, "shards", a.shardSetting)
		return shardPlan{count: a.shardSetting, concurrency: 1}, nil
	}
	p := shardPlan{count: a.shardSetting, concurrency: max(gb.SessionStartLimit.MaxConcurrency, 1), recommended: gb.Shards}
	if p.count == 0 {
		p.count = max(gb.Shards, 1)
	}
	// Discord allows so many IDENTIFYs a day (1,000 for most bots) and may
	// reset the token of a bot that goes past them: a bot restarted in a
	// loop waits for the count's reset rather than spend the last ones.
	if lim := gb.SessionStartLimit; lim.Total > 0 && lim.Remaining < p.count {
		wait := time.Duration(lim.ResetAfter) * time.Millisecond
		a.log.Warn("discord allows fewer session starts today than there are shards; waiting for its reset",
			"remaining", lim.Remaining, "shards", p.count, "reset_after", wait)
		if !clock.Sleep(ctx, a.clock, wait) {
			return shardPlan{}, ctx.Err()
		}
	}
	return p, nil
}

// identifyGate paces IDENTIFYs as Discord wants: one per rate-limit key
// (shard_id % max_concurrency) per IdentifyWindow, counted from the end of
// the previous one's handshake. A shard holds its key's turn while it
// identifies, so shards of one key go one after the other and shards of
// different keys at once. At start the shards go in order, in rounds of
// max_concurrency: shard i not before (i / max_concurrency) windows have
// passed. RESUMEs are not paced.
type identifyGate struct {
	clock  clock.Clock
	window time.Duration
	start  time.Time
	keys   []*identifyKey
}

type identifyKey struct {
	turn chan struct{} // holds a token while a shard of this key identifies
	next time.Time     // written only by the holder of turn
}

func newIdentifyGate(c clock.Clock, concurrency int, window time.Duration) *identifyGate {
	g := &identifyGate{clock: c, window: window, start: c.Now(), keys: make([]*identifyKey, max(concurrency, 1))}
	for k := range g.keys {
		g.keys[k] = &identifyKey{turn: make(chan struct{}, 1)}
	}
	return g
}

// acquire waits for shard's turn; release ends it once the IDENTIFY is
// answered (or failed). It returns ctx's error if ctx ends first.
func (g *identifyGate) acquire(ctx context.Context, shard int) (release func(), err error) {
	round := g.start.Add(time.Duration(shard/len(g.keys)) * g.window)
	if !clock.Sleep(ctx, g.clock, round.Sub(g.clock.Now())) {
		return nil, ctx.Err()
	}
	k := g.keys[shard%len(g.keys)]
	select {
	case k.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !clock.Sleep(ctx, g.clock, k.next.Sub(g.clock.Now())) {
		<-k.turn
		return nil, ctx.Err()
	}
	return func() {
		k.next = g.clock.Now().Add(g.window)
		<-k.turn
	}, nil
}

// runShard holds one shard's session until ctx ends or the token is
// revoked: it opens it (IDENTIFY paced by gate, then RESUME), sends its id
// on up the first time it is up, reopens it whenever it drops, without
// waiting for the other shards, and closes it at the end. It returns an
// error only when Discord refuses the session for good (a refused token
// included: Run decides what that means).
func (a *Bot) runShard(ctx context.Context, sh *shard, gate *identifyGate, up chan<- int) error {
	defer a.closeShard(sh)
	first := true
	for {
		if err := a.openWithRetry(ctx, sh, gate); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.shardState(sh, bot.PlatformUnavailable)
			return err
		}
		a.shardState(sh, bot.PlatformReady)
		if first {
			first = false
			up <- sh.id
		} else {
			a.log.Info("discord gateway reconnected", "shard", sh.id, "state", bot.PlatformReady)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.revoked:
			return nil
		case <-sh.disconnected:
			if a.unauthorized.Load() {
				return nil
			}
			a.shardState(sh, bot.PlatformUnavailable)
			a.log.Warn("discord gateway disconnected; reconnecting", "shard", sh.id, "state", bot.PlatformUnavailable)
		}
	}
}

// closeShard closes a shard's session (discordgo waits 1 s for the close
// handshake; shards close at once, each in its own goroutine).
func (a *Bot) closeShard(sh *shard) {
	if err := sh.s.Close(); err != nil {
		a.log.Warn("close discord session", "err", err, "shard", sh.id)
	}
}
