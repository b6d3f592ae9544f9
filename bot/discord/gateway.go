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
// closes the session and returns nil. It returns an error wrapping
// ErrUnauthorized when Discord refuses the token at start. A token revoked
// later (a 401, a gateway close 4004) stops every call to Discord and leaves
// the state unauthorized, but Run goes on until ctx ends, so the rest of the
// bot keeps working. Unreachable Discord and 5xx answers are retried with
// backoff (1 s doubling to 30 s).
func (a *Bot) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("discord: Run called twice")
	}
	defer a.running.Store(false)
	a.mu.Lock()
	a.stopping = false
	a.mu.Unlock()

	disconnected := make(chan struct{}, 1)
	dialer := &gatewayDialer{}
	s, err := a.newSession(ctx, dialer, disconnected)
	if err != nil {
		return fmt.Errorf("discord: %w", err)
	}

	me, err := a.login(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := a.openWithRetry(ctx, s, dialer); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	appID := a.applicationID(me)
	a.sess.Store(s)
	a.setState(bot.PlatformReady)
	a.log.Info("discord connected", "bot", me.Username, "application", appID)
	a.log.Info("invite the bot to a server with this URL", "url", InviteURL(appID))

	a.goHandle(ctx, func(context.Context) { a.registerCommands(ctx, s, appID) })

	for {
		select {
		case <-ctx.Done():
			a.shutdown(s)
			return nil
		case <-a.revoked:
			// Only a restart with a new token helps; the rest of the bot goes on.
			if err := s.Close(); err != nil {
				a.log.Warn("close discord session", "err", err)
			}
			<-ctx.Done()
			a.shutdown(s)
			return nil
		case <-disconnected:
			if a.unauthorized.Load() {
				continue // the revoked case closes the session
			}
			a.setState(bot.PlatformUnavailable)
			a.log.Warn("discord gateway disconnected; reconnecting", "state", bot.PlatformUnavailable)
			err := a.openWithRetry(ctx, s, dialer)
			switch {
			case err == nil:
				a.setState(bot.PlatformReady)
				a.log.Info("discord gateway reconnected", "state", bot.PlatformReady)
			case ctx.Err() != nil:
				a.shutdown(s)
				return nil
			case errors.Is(err, ErrUnauthorized):
				a.revoke(err) // the next turn stops
			default:
				a.shutdown(s)
				return err
			}
		}
	}
}

func (a *Bot) shutdown(s *discordgo.Session) {
	a.sess.Store(nil)
	if err := s.Close(); err != nil {
		a.log.Warn("close discord session", "err", err)
	}
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	a.wg.Wait()
}

// newSession builds the discordgo session: our HTTP client, no internal
// reconnect loop (Run reconnects, honouring ctx), no rate-limit sleeps, no
// discordgo logging, no state cache, only the GUILDS intent.
func (a *Bot) newSession(ctx context.Context, dialer *gatewayDialer, disconnected chan<- struct{}) (*discordgo.Session, error) {
	s, err := discordgo.New("Bot " + a.token.Reveal())
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	s.Client = a.client
	s.Dialer = &websocket.Dialer{
		NetDialContext:   dialer.dial,
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 15 * time.Second,
	}
	// discordgo's own log lines go to the global standard logger; level -1
	// silences them for this session without touching discordgo.Logger.
	// Debug stays off: it prints the authorization header.
	s.LogLevel = -1
	s.Debug = false
	s.StateEnabled = false
	s.ShouldReconnectOnError = false
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
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
		a.log.Debug("discord ready", "guilds", len(r.Guilds))
	})
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
		select {
		case disconnected <- struct{}{}:
		default:
		}
	})
	s.AddHandler(func(s *discordgo.Session, ic *discordgo.InteractionCreate) {
		a.goBounded(ctx, "interaction", func(ctx context.Context) { a.onInteraction(ctx, s, ic) })
	})
	s.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildDelete) {
		if g == nil || g.Guild == nil || g.ID == "" || g.Unavailable {
			return // an outage of that server, not a removal
		}
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
	return s, nil
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

// openWithRetry opens the gateway session, retrying with backoff until it is
// up, ctx ends or Discord refuses the token.
func (a *Bot) openWithRetry(ctx context.Context, s *discordgo.Session, d *gatewayDialer) error {
	return adapterkit.Retry(ctx, a.clock, a.backoff(), a.log, "discord gateway connection failed; retrying", func(ctx context.Context) (time.Duration, error) {
		if a.unauthorized.Load() {
			return 0, adapterkit.Final(fmt.Errorf("discord: gateway: %w", ErrUnauthorized))
		}
		err := a.open(ctx, s, d)
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			return 0, nil
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			switch ce.Code {
			case 4004: // authentication failed
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway: %w", ErrUnauthorized))
			case 4010, 4011, 4012, 4013, 4014: // invalid shard, sharding required, invalid version, invalid or disallowed intents
				return 0, adapterkit.Final(fmt.Errorf("discord: gateway refused the session: %w", err))
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
