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
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

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
	// Shards is the number of gateway shards (DISCORD_SHARDS); 0 means as
	// many as Discord recommends (see ParseShards).
	Shards int
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
	sess         atomic.Pointer[discordgo.Session] // the REST session; non-nil between the first shard's ready and the end of Run
	shards       atomic.Pointer[[]*shard]          // the gateway shards, once Run knows how many
	shardSetting int                               // Options.Shards: 0 means Discord's recommendation
	shardMu      sync.Mutex                        // orders shard state changes and the platform state they imply
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
	identifyWindow         time.Duration // IdentifyWindow
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
	clk := clock.Or(cfg.Clock)
	a := &Bot{
		token:          cfg.Token,
		base:           base,
		log:            log,
		h:              h,
		clock:          clk,
		revoked:        make(chan struct{}),
		invalid:        window{span: InvalidRequestWindow},
		invalidLimit:   InvalidRequestLimit,
		minBackoff:     time.Second,
		maxBackoff:     30 * time.Second,
		openTimeout:    30 * time.Second,
		identifyWindow: IdentifyWindow,
		shardSetting:   max(cfg.Shards, 0),
		handlerTimeout: 10 * time.Second,
		slots:          make(chan struct{}, cmp.Or(max(cfg.MaxHandlers, 0), DefaultMaxHandlers)),
		limiter:        cfg.Limiter,
		panics:         cfg.Panics,
	}
	a.client = newHTTPClient(cfg.Client, base, a.observe)
	a.setState(bot.PlatformConnecting)
	return a
}

// State is how the adapter sees Discord: connecting until every shard's
// first session, ready, unavailable while a shard's gateway connection or
// REST calls fail, and unauthorized once the token was revoked. Shards
// tells each shard apart.
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
