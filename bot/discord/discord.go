// Package discord is the Discord adapter: a gateway session (discordgo) that
// answers the bot's slash commands, and a bot.Notifier that posts alerts as
// embeds, mapping Discord's errors to the bot's error classes.
package discord

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

// DefaultAPIURL is the base every REST call goes to unless Options.APIURL says otherwise.
const DefaultAPIURL = "https://discord.com/"

// ErrUnauthorized means Discord refused the bot token (REST 401 or gateway close 4004).
var ErrUnauthorized = errors.New("discord rejected the bot token (check DISCORD_BOT_TOKEN)")

// errNotReady is returned by Send before the first gateway session is up and after Run ended.
var errNotReady = errors.New("discord adapter not connected yet")

// Handler answers commands and records membership events; *command.Service satisfies it.
type Handler interface {
	Handle(ctx context.Context, cmd command.Command) (bot.Message, bool)
	ChatGone(ctx context.Context, chat bot.ChatRef) error
	GroupGone(ctx context.Context, p bot.Platform, group string) error
}

// Options wire a Bot: the settings from Config and what main hands in.
type Options struct {
	Token adapterkit.Secret
	// APIURL replaces https://discord.com/ for every REST call (DISCORD_API_URL);
	// the gateway URL is discovered from it. Empty means DefaultAPIURL.
	APIURL string
	// Client is an optional base HTTP client; its transport, timeout and
	// redirect policy are kept. Nil means a client with a 20 s timeout.
	Client *http.Client
	// Log is used as given: main tags it with platform=discord.
	Log *slog.Logger
	// Clock times the invalid-request window, the pauses after 429s
	// without rate-limit headers and the waits between login and gateway
	// retries; nil means clock.System{}.
	Clock clock.Clock
	// Limiter is the per-person command limit shared with the other
	// adapters; nil admits every command.
	Limiter *command.Limiter
	// Panics counts panics recovered while handling an event or interaction;
	// nil counts nothing.
	Panics *adapterkit.Panics
	// MaxHandlers bounds the events and interactions handled at once; 0
	// means DefaultMaxHandlers.
	MaxHandlers int
}

// Bot is the running Discord client. Build it with NewBot, start it with Run.
type Bot struct {
	token  adapterkit.Secret
	base   *url.URL
	client *http.Client
	log    *slog.Logger
	h      Handler
	clock  clock.Clock

	running      atomic.Bool
	sess         atomic.Pointer[discordgo.Session] // non-nil between the first ready and the end of Run
	appID        atomic.Pointer[string]
	state        atomic.Pointer[bot.PlatformState]
	unauthorized atomic.Bool   // the token was revoked while running: no more calls until restart
	revoked      chan struct{} // closed when unauthorized is set

	invalid      window // 401, 403 and 429 answers, towards Discord's IP ban
	invalidLimit int
	overLimit    atomic.Bool // sends are paused by the invalid-request limit (logged once per episode)
	headerless   headerlessPause

	// wg counts event goroutines; stopping (under mu) refuses new ones once
	// shutdown waits, since discordgo may still deliver an event it had read.
	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup
	// slots bounds the gateway events handled at once (a token per handler).
	slots chan struct{}

	limiter *command.Limiter
	panics  *adapterkit.Panics

	// Tunables, unexported so tests in this package can shorten them.
	minBackoff, maxBackoff time.Duration
	openTimeout            time.Duration // the gateway handshake up to READY
	handlerTimeout         time.Duration // the work done for one event or interaction
}

var _ bot.Notifier = (*Bot)(nil)

// NewBot builds a Bot. It makes no network call.
func NewBot(cfg Options, h Handler) *Bot {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	base, err := url.Parse(raw)
	if err != nil || base.Scheme == "" || base.Host == "" {
		// Validation belongs to config loading (see ValidateAPIURL); fall back loudly.
		log.Error("invalid DISCORD_API_URL; using the default", "err", err)
		base, _ = url.Parse(DefaultAPIURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	clock := clock.Or(cfg.Clock)
	a := &Bot{
		token:          cfg.Token,
		base:           base,
		log:            log,
		h:              h,
		clock:          clock,
		revoked:        make(chan struct{}),
		invalid:        window{span: InvalidRequestWindow},
		invalidLimit:   InvalidRequestLimit,
		minBackoff:     time.Second,
		maxBackoff:     30 * time.Second,
		openTimeout:    30 * time.Second,
		handlerTimeout: 10 * time.Second,
		slots:          make(chan struct{}, cmp.Or(max(cfg.MaxHandlers, 0), DefaultMaxHandlers)),
		limiter:        cfg.Limiter,
		panics:         cfg.Panics,
	}
	a.client = newHTTPClient(cfg.Client, base, a.observe)
	a.setState(bot.PlatformConnecting)
	return a
}

// State is how the adapter sees Discord: connecting until the first
// session, ready, unavailable while the gateway or REST calls fail, and
// unauthorized once the token was revoked.
func (a *Bot) State() bot.PlatformState {
	if a.unauthorized.Load() {
		return bot.PlatformUnauthorized // final, whatever a racing setState stored
	}
	return *a.state.Load()
}

func (a *Bot) setState(st bot.PlatformState) { a.state.Store(&st) }

// InvalidRequests is the number of answers Discord counts towards its IP
// ban (401, 403, 429) in the last InvalidRequestWindow.
func (a *Bot) InvalidRequests() int { return a.invalid.count(a.clock.Now()) }

// observe sees every REST answer.
func (a *Bot) observe(resp *http.Response) {
	if countsAsInvalid(resp) {
		a.invalid.add(a.clock.Now())
	}
}

// revoke stops every call to Discord after it refused the token while
// running: one error line, state unauthorized, Run closes the gateway
// session and waits for its end. The bot goes on; alerts wait for a restart
// with a valid token.
func (a *Bot) revoke(cause error) {
	if !a.unauthorized.CompareAndSwap(false, true) {
		return
	}
	a.log.Error("discord rejected the bot token while running; no more calls to Discord until restart (check DISCORD_BOT_TOKEN)",
		"err", cause, "state", bot.PlatformUnauthorized)
	close(a.revoked)
}

// ValidateAPIURL checks a DISCORD_API_URL value, for configuration loading.
func ValidateAPIURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("DISCORD_API_URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("DISCORD_API_URL: want an http(s) URL like %s, got %q", DefaultAPIURL, raw)
	}
	return nil
}

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

// Permissions the bot asks for in its invite and needs in a subscribed channel.
const (
	invitePermissions = discordgo.PermissionSendMessages | discordgo.PermissionEmbedLinks | discordgo.PermissionReadMessageHistory
	neededInChannel   = discordgo.PermissionViewChannel | invitePermissions
	adminPermissions  = discordgo.PermissionManageChannels | discordgo.PermissionAdministrator
)

// InviteURL is the OAuth2 link that adds the bot to a server with the scopes
// and permissions it needs.
func InviteURL(appID string) string {
	q := url.Values{}
	q.Set("client_id", appID)
	q.Set("scope", "bot applications.commands")
	q.Set("permissions", fmt.Sprint(invitePermissions))
	return "https://discord.com/oauth2/authorize?" + q.Encode()
}

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
