package discord

// The gateway session: connecting, reconnecting, and the events it delivers.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// Run connects to Discord and serves slash commands until ctx ends; it then
// closes the sessions and returns nil. It returns an error wrapping
// ErrUnauthorized when Discord refuses the token at start. A token revoked
// later (a 401, a gateway close 4004) stops every call to Discord and leaves
// the state unauthorized, but Run goes on until ctx ends, so the rest of the
// bot keeps working. Unreachable Discord and 5xx answers are retried with
// backoff (1 s doubling to 30 s).
//
// It opens one gateway session per shard (DISCORD_SHARDS, or as many as
// Discord recommends), IDENTIFYing at most max_concurrency of them per
// 5 s; each reconnects on its own when it drops. Sends and command answers
// go through one REST session, whatever shard an interaction came on.
// Sends work once the first shard is up. Run returns an error when Discord
// refuses a session for good (4010 invalid shard, 4011 sharding required,
// 4012–4014), except a 4011 with DISCORD_SHARDS=auto while Discord
// recommends more shards than are open: the bot outgrew them, and Run
// closes them and opens as many as Discord now recommends.
func (a *Bot) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("discord: Run called twice")
	}
	defer a.running.Store(false)
	a.mu.Lock()
	a.stopping = false
	a.mu.Unlock()

	rest, err := a.newSession()
	if err != nil {
		return fmt.Errorf("discord: %w", err)
	}
	me, err := a.login(ctx, rest)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	connected := false
	last := 0
	for {
		plan, err := a.plan(ctx, rest)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if last > 0 && plan.count <= last {
			// Discord asked for more shards but recommends no more than we ran.
			return fmt.Errorf("discord: %d shards refused with 4011 and Discord recommends %d: %w", last, plan.recommended, ErrShardingRequired)
		}
		err = a.runShards(ctx, rest, me, plan, &connected)
		if a.shardSetting == 0 && errors.Is(err, ErrShardingRequired) && ctx.Err() == nil {
			// The bot outgrew its shards while running (Discord closes them
			// with 4011): with DISCORD_SHARDS=auto it asks again and opens as
			// many as Discord now recommends. Sends go on through REST meanwhile.
			a.log.Warn("discord requires more gateway shards; asking for the recommended count again", "shards", plan.count, "err", err)
			last = plan.count
			continue
		}
		a.shutdown()
		return err
	}
}

// runShards opens plan's shards and holds them until ctx ends (nil) or a
// shard is refused for good (its error). The first shard up marks Discord
// connected, once for the whole run (connected).
func (a *Bot) runShards(ctx context.Context, rest *discordgo.Session, me *discordgo.User, plan shardPlan, connected *bool) error {
	shards := make([]*shard, plan.count)
	for i := range shards {
		var err error
		if shards[i], err = a.newShard(ctx, rest, i, plan.count); err != nil {
			return fmt.Errorf("discord: %w", err)
		}
	}
	a.shards.Store(&shards)
	if plan.count > 1 || plan.recommended > 1 {
		a.log.Info("discord gateway shards", "shards", plan.count, "recommended", plan.recommended, "max_concurrency", plan.concurrency)
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	gate := newIdentifyGate(a.clock, plan.concurrency, a.identifyWindow)
	up := make(chan int, len(shards))
	failed := make(chan error, len(shards))
	var wg sync.WaitGroup
	for _, sh := range shards {
		wg.Go(func() {
			if err := a.runShard(sctx, sh, gate, up); err != nil {
				failed <- err
			}
		})
	}
	end := func(err error) error {
		stop()
		wg.Wait()
		return err
	}

	for {
		select {
		case <-ctx.Done():
			return end(nil)
		case <-up:
			if *connected {
				continue
			}
			*connected = true
			appID := a.applicationID(me)
			a.sess.Store(rest)
			a.log.Info("discord connected", "bot", me.Username, "application", appID, "shards", len(shards))
			a.log.Info("invite the bot to a server with this URL", "url", InviteURL(appID))
			a.goHandle(ctx, func(context.Context) { a.registerCommands(ctx, rest, appID) })
		case err := <-failed:
			if errors.Is(err, ErrUnauthorized) && *connected {
				a.revoke(err) // the shards stop; the rest of the bot goes on
				continue
			}
			return end(err) // a token refused at start, or a session Discord will never accept
		}
	}
}

// shutdown waits for the event handlers after the shards closed.
func (a *Bot) shutdown() {
	a.sess.Store(nil)
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	a.wg.Wait()
}

// newSession builds a discordgo session with our HTTP client, no internal
// reconnect loop (runShard reconnects, honouring ctx), no rate-limit sleeps,
// no discordgo logging and no state cache. Run uses one for every REST call
// and one more per shard for its gateway connection.
func (a *Bot) newSession() (*discordgo.Session, error) {
	s, err := discordgo.New("Bot " + a.token.Reveal())
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	s.Client = a.client
	// discordgo's own log lines go to the global standard logger; level -1
	// silences them for this session without touching discordgo.Logger.
	// Debug stays off: it prints the authorization header.
	s.LogLevel = -1
	s.Debug = false
	s.StateEnabled = false
	s.ShouldReconnectOnError = false
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	return s, nil
}

// newShard builds shard id of count: its gateway session, with only the
// GUILDS intent, sending [id, count] in IDENTIFY when count > 1. Its
// events are handled like any other shard's; answers go through rest.
func (a *Bot) newShard(ctx context.Context, rest *discordgo.Session, id, count int) (*shard, error) {
	s, err := a.newSession()
	if err != nil {
		return nil, err
	}
	sh := &shard{id: id, count: count, s: s, dialer: &gatewayDialer{}, disconnected: make(chan struct{}, 1),
		state: bot.PlatformConnecting, since: a.clock.Now(), guilds: map[string]struct{}{}}
	s.Dialer = &websocket.Dialer{
		NetDialContext:   sh.dialer.dial,
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 15 * time.Second,
	}
	s.ShardID, s.ShardCount = id, count
	// Events run synchronously so READY is seen before Open returns; every
	// handler that may block hands its work to a goroutine.
	s.SyncEvents = true
	s.Identify.Intents = discordgo.IntentsGuilds
	s.Identify.Compress = false

	s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
		if r.Application != nil && r.Application.ID != "" {
			id := r.Application.ID
			a.appID.Store(&id)
		}
		sh.ready(r.Guilds)
		sh.identified.Store(true)
		a.log.Debug("discord ready", "shard", sh.id, "guilds", len(r.Guilds))
	})
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
		select {
		case sh.disconnected <- struct{}{}:
		default:
		}
	})
	s.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
		a.goBounded(ctx, "interaction", func(ctx context.Context) { a.onInteraction(ctx, rest, ic) })
	})
	s.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildCreate) {
		if g != nil && g.Guild != nil && g.ID != "" {
			sh.guild(g.ID, true)
		}
	})
	s.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildDelete) {
		if g == nil || g.Guild == nil || g.ID == "" || g.Unavailable {
			return // an outage of that server, not a removal
		}
		sh.guild(g.ID, false)
		id := g.ID
		a.goBounded(ctx, "guild delete", func(ctx context.Context) {
			if err := a.h.GroupGone(ctx, Platform, id); err != nil {
				a.log.Error("end subscriptions of a server that removed the bot", "err", err, "group", id)
			}
		})
	})
	chatGone := func(ch *discordgo.Channel) {
		if ch == nil || ch.ID == "" {
			return
		}
		chat := bot.ChatRef{Platform: Platform, ID: ch.ID}
		a.goBounded(ctx, "channel delete", func(ctx context.Context) {
			if err := a.h.ChatGone(ctx, chat); err != nil {
				a.log.Error("end subscription of a deleted channel", "err", err, "chat", chat.String())
			}
		})
	}
	s.AddHandler(func(_ *discordgo.Session, c *discordgo.ChannelDelete) { chatGone(c.Channel) })
	s.AddHandler(func(_ *discordgo.Session, c *discordgo.ThreadDelete) { chatGone(c.Channel) })
	return sh, nil
}

// login checks the token with GET users/@me, retrying while Discord is unreachable.
func (a *Bot) login(ctx context.Context, s *discordgo.Session) (*discordgo.User, error) {
	var me *discordgo.User
	err := adapterkit.Retry(ctx, a.clock, a.backoff(), a.log, "discord unreachable; retrying", func(ctx context.Context) (time.Duration, error) {
		var err error
		if me, err = s.User("@me", discordgo.WithContext(ctx)); err == nil {
			return 0, nil
		}
		if status(err) == http.StatusUnauthorized {
			return 0, adapterkit.Final(fmt.Errorf("discord: users/@me: %w", ErrUnauthorized))
		}
		return rateLimitWait(err), err
	})
	return me, err
}

// openWithRetry opens a shard's gateway session, retrying with backoff
// until it is up, ctx ends or Discord refuses the token or the session. An
// Open that will IDENTIFY (the shard never saw READY) waits for its turn at
// gate; a RESUME does not.
func (a *Bot) openWithRetry(ctx context.Context, sh *shard, gate *identifyGate) error {
	log := a.log
	if sh.count > 1 {
		log = log.With("shard", sh.id)
	}
	return adapterkit.Retry(ctx, a.clock, a.backoff(), log, "discord gateway connection failed; retrying", func(ctx context.Context) (time.Duration, error) {
		if a.unauthorized.Load() {
			return 0, adapterkit.Final(fmt.Errorf("discord: gateway: %w", ErrUnauthorized))
		}
		var err error
		if sh.identified.Load() {
			err = a.open(ctx, sh.s, sh.dialer)
		} else {
			release, gerr := gate.acquire(ctx, sh.id)
			if gerr != nil {
				return 0, gerr
			}
			if a.unauthorized.Load() {
				release()
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway: %w", ErrUnauthorized))
			}
			err = a.open(ctx, sh.s, sh.dialer)
			release()
		}
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			return 0, nil
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			switch ce.Code {
			case 4004: // authentication failed
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway: %w", ErrUnauthorized))
			case 4011: // sharding required
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway refused shard %d of %d: %w", sh.id, sh.count, ErrShardingRequired))
			case 4010, 4012, 4013, 4014: // invalid shard, invalid version, invalid or disallowed intents
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway refused shard %d of %d: %w", sh.id, sh.count, err))
			}
		}
		return 0, err
	})
}

// open runs discordgo's Open (gateway discovery, dial, HELLO, IDENTIFY or
// RESUME, READY), which has no context and no read deadline: a watchdog
// closes the connection when ctx ends or the handshake takes too long.
func (a *Bot) open(ctx context.Context, s *discordgo.Session, d *gatewayDialer) error {
	done := make(chan error, 1)
	go func() { done <- s.Open() }()
	t := time.NewTimer(a.openTimeout)
	defer t.Stop()
	var cause error
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("open gateway: %w", err)
		}
		return nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-t.C:
		cause = fmt.Errorf("gateway handshake took longer than %s", a.openTimeout)
	}
	d.abort()
	if err := <-done; err == nil {
		// It made it just in time; we gave up on it anyway.
		_ = s.Close()
	}
	return fmt.Errorf("open gateway: %w", cause)
}

func (a *Bot) applicationID(me *discordgo.User) string {
	if id := a.appID.Load(); id != nil {
		return *id
	}
	return me.ID // bots created since 2019 share their application's id
}

// backoff is the retry policy of login, the gateway and command registration.
func (a *Bot) backoff() bot.Backoff { return bot.Backoff{Min: a.minBackoff, Max: a.maxBackoff} }

// gatewayDialer remembers the last gateway TCP connection so a stuck handshake can be aborted.
type gatewayDialer struct {
	mu   sync.Mutex
	conn interface{ Close() error }
}

func (d *gatewayDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 15 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, nil
}

func (d *gatewayDialer) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
	}
}
