// Package telegram is the Telegram adapter: it long-polls the Bot API for
// commands and membership changes, hands commands to the bot service, and
// delivers alerts (bot.Notifier) with Telegram errors mapped to bot error
// classes. It is built on github.com/go-telegram-bot-api/telegram-bot-api/v5
// but uses only its request plumbing, types and errors. Its constructors are
// avoided because each makes a getMe request, without a context; its update
// channel because it retries every error every 3 s forever and cannot be
// restarted; its logger because it would print the token that every request
// URL carries.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// DefaultEndpoint is the Bot API URL format: token, then method.
const DefaultEndpoint = tgbotapi.APIEndpoint

// DefaultPollTimeout is how long one getUpdates call waits for updates.
const DefaultPollTimeout = 30 * time.Second

// defaultCallTimeout bounds every API call other than the long poll (and is
// added to the poll timeout for getUpdates).
const defaultCallTimeout = 30 * time.Second

// ErrUnauthorized means Telegram rejected the token (401, or 404 for a
// malformed one). Retrying cannot help. At start Run returns an error
// wrapping it; later (a token revoked while running) the adapter stops
// calling the API and Send returns bot.Unavailable errors wrapping it.
var ErrUnauthorized = errors.New("telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)")

// errNotConnected is wrapped in the Unavailable error Send returns before Run
// has identified the bot.
var errNotConnected = errors.New("telegram adapter not connected yet")

// maxBackoff caps the wait between getMe and getUpdates retries, so polling
// resumes within 30 s of Telegram's return even when nothing else calls it.
const maxBackoff = 30 * time.Second

// replyDrain is how long answers already queued get to go out when Run's
// context ends.
const replyDrain = 5 * time.Second

// replyWorkers bounds how many chats' answers are being sent at once.
const replyWorkers = 32

// Handler answers commands and records membership changes; *command.Service
// satisfies it.
type Handler interface {
	Handle(ctx context.Context, cmd command.Command) (bot.Message, bool)
	ChatGone(ctx context.Context, chat bot.ChatRef) error
	ChatMigrated(ctx context.Context, from, to bot.ChatRef) error
}

var (
	_ Handler      = (*command.Service)(nil)
	_ bot.Notifier = (*Bot)(nil)
)

// Options wire a Bot: the settings from Config and what main hands in.
type Options struct {
	Token adapterkit.Secret
	// Endpoint is a format string, token then method, like the library's
	// APIEndpoint (TELEGRAM_API_ENDPOINT). Empty means DefaultEndpoint.
	Endpoint string
	// Client is optional. The adapter works on a copy whose Timeout is
	// replaced by per-call deadlines (Client.Timeout if set, else 30s, plus
	// PollTimeout for getUpdates), and every error it returns is redacted.
	Client *http.Client
	// Log is used as given: main adds platform=telegram to it.
	Log *slog.Logger
	// PollTimeout is the long-poll timeout, in whole seconds (at least 1s);
	// default 30s.
	PollTimeout time.Duration
	// Replier sends command answers within the platform's sending budget;
	// main passes the *delivery.Gate the dispatcher uses, so answers go ahead of
	// alert fan-out. Nil: a gate of its own at 25 messages/s, 1/s per chat.
	Replier Replier
	// Limiter is the per-person command limit and the answers pending per
	// chat (shared with the other adapters); nil admits every command.
	Limiter *command.Limiter
	// Panics counts panics recovered while handling an update or sending an
	// answer; nil counts nothing.
	Panics *adapterkit.Panics
	// PaidBroadcast sends alerts (never command answers or edits) with
	// allow_paid_broadcast (TELEGRAM_PAID_BROADCAST=on): Telegram then takes
	// up to 1000 a second and bills the bot's Stars for those beyond 30.
	PaidBroadcast bool
}

// Validate reports every problem of the configuration at once.
func (c Options) Validate() error {
	var errs []error
	if c.Token.Reveal() == "" {
		errs = append(errs, errors.New("TELEGRAM_BOT_TOKEN is empty"))
	} else if strings.ContainsAny(c.Token.Reveal(), "/?#% \t\r\n") {
		errs = append(errs, errors.New("TELEGRAM_BOT_TOKEN contains characters a token cannot have"))
	}
	if err := validateEndpoint(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.PollTimeout < 0 {
		errs = append(errs, errors.New("telegram poll timeout is negative"))
	}
	return errors.Join(errs...)
}

// identity is the bot as getMe describes it.
type identity struct {
	ID       int64
	UserName string
}

// Bot is the running Telegram client. Build it with NewBot, start it with Run
// (once); Send may be called concurrently from any goroutine.
type Bot struct {
	token       adapterkit.Secret
	endpoint    string
	client      *http.Client
	log         *slog.Logger
	h           Handler
	pollTimeout time.Duration
	callTimeout time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	// handleTries is how often a failing update (store error) is retried
	// before it is skipped so it cannot block every later update.
	handleTries int
	cfgErr      error
	clock       clock.Clock
	replier     Replier
	replies     *replyQueue
	replyDrain  time.Duration
	limiter     *command.Limiter
	panics      *adapterkit.Panics
	// paid is set when alerts ask for paid broadcast.
	paid *paidBroadcast

	self atomic.Pointer[identity]

	mu    sync.Mutex
	state bot.PlatformState
	// wake gets a token when a call finds Telegram answering after it was
	// unavailable, so a poll loop sleeping in backoff retries at once.
	wake chan struct{}
	// revoked ends when the token is found revoked: the poll in flight is
	// abandoned and no call is made any more.
	revoked     context.Context
	revoke      context.CancelFunc
	pollStopped chan struct{} // closed when the poll loop has returned
}

// NewBot builds a Bot. It makes no network call; Run connects.
func NewBot(cfg Options, h Handler) *Bot {
	a := &Bot{
		token:       cfg.Token,
		endpoint:    cfg.Endpoint,
		log:         cfg.Log,
		h:           h,
		pollTimeout: cfg.PollTimeout,
		callTimeout: defaultCallTimeout,
		minBackoff:  time.Second,
		maxBackoff:  maxBackoff,
		handleTries: 3,
		cfgErr:      cfg.Validate(),
		clock:       clock.System{},
		replier:     cfg.Replier,
		replies:     newReplyQueue(),
		replyDrain:  replyDrain,
		limiter:     cfg.Limiter,
		panics:      cfg.Panics,
		state:       bot.PlatformConnecting,
		wake:        make(chan struct{}, 1),
		pollStopped: make(chan struct{}),
	}
	a.revoked, a.revoke = context.WithCancel(context.Background())
	if cfg.PaidBroadcast {
		a.paid = newPaidBroadcast()
	}
	if a.replier == nil {
		a.replier = delivery.NewGate(delivery.Policy{Rate: 25, PerChat: time.Second}, nil)
	}
	if a.endpoint == "" {
		a.endpoint = DefaultEndpoint
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.replies.panicked = func(p any) {
		a.panics.Inc()
		a.log.Error("telegram: panic while sending a command answer; skipped", "panic", RedactTokens(fmt.Sprint(p)))
	}
	a.replies.dropped = func() {
		a.log.Warn("telegram: too many command answers waiting; dropping new ones until the queue drains", "limit", maxQueued)
	}
	if a.pollTimeout <= 0 {
		a.pollTimeout = DefaultPollTimeout
	}
	a.pollTimeout = max(a.pollTimeout.Round(time.Second), time.Second)
	a.client = adapterkit.NewHTTPClient(cfg.Client, defaultCallTimeout)
	a.callTimeout = a.client.Timeout
	a.client.Timeout = 0 // per-call deadlines instead: a long poll outlasts any short client timeout
	return a
}

// Run connects (getMe, retried with backoff while Telegram is unreachable or
// failing), registers the command menu, then long-polls for updates until ctx
// ends, when it returns nil. A token rejected at start returns an error
// wrapping ErrUnauthorized. A token revoked later stops polling and every
// call, but not Run: the process and the other platforms go on, and Run
// returns nil when ctx ends. Command answers still queued then get
// replyDrain to go out.
func (a *Bot) Run(ctx context.Context) error {
	if a.cfgErr != nil {
		return fmt.Errorf("telegram: %w", a.cfgErr)
	}
	me, err := a.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.self.Store(me)
	a.log.Info("telegram connected", "bot", me.UserName)
	if a.paid != nil {
		a.log.Info("telegram: paid broadcast on: alerts are sent with allow_paid_broadcast; Telegram bills 0.1 Star for each beyond 30 a second")
	}
	// Answers outlive ctx by replyDrain, so their context is not ctx.
	rctx, stopReplies := context.WithCancel(context.WithoutCancel(ctx))
	workers := a.replies.start(rctx, replyWorkers)
	a.registerCommands(ctx)
	a.poll(ctx)
	close(a.pollStopped)
	<-ctx.Done() // after a revoked token: idle until shutdown

	dctx, cancel := context.WithTimeout(rctx, a.replyDrain)
	a.replies.wait(dctx)
	cancel()
	stopReplies()
	workers.Wait()
	if n := a.replies.len(); n > 0 {
		a.log.Warn("telegram: shutting down with command answers unsent", "unsent", n)
	}
	return nil
}

// State is how the adapter sees Telegram, for /healthz and /metrics.
func (a *Bot) State() bot.PlatformState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// answered records that Telegram answered a call. A return from
// unavailability wakes the poll loop, unless the call was the poll itself.
func (a *Bot) answered(method string) {
	a.mu.Lock()
	prev := a.state
	if prev != bot.PlatformUnauthorized {
		a.state = bot.PlatformReady
	}
	a.mu.Unlock()
	if prev == bot.PlatformUnavailable && method != "getUpdates" {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// unavailable records that Telegram as a whole did not answer. Before the
// first success the state stays connecting.
func (a *Bot) unavailable() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == bot.PlatformReady {
		a.state = bot.PlatformUnavailable
	}
}

// tokenRevoked switches the adapter off after Telegram refused the token of
// a running bot: one error line, no call any more, polling abandoned.
func (a *Bot) tokenRevoked(err error) {
	a.mu.Lock()
	prev := a.state
	a.state = bot.PlatformUnauthorized
	a.mu.Unlock()
	if prev == bot.PlatformUnauthorized {
		return
	}
	a.revoke()
	a.log.Error("telegram: the bot token was revoked; Telegram is switched off until a restart with a valid TELEGRAM_BOT_TOKEN (alerts wait in the outbox)",
		"err", err, "state", string(bot.PlatformUnauthorized))
}

// connect calls getMe until it answers, the token is rejected or ctx ends.
func (a *Bot) connect(ctx context.Context) (*identity, error) {
	var me *identity
	err := adapterkit.Retry(ctx, a.clock, bot.Backoff{Min: a.minBackoff, Max: a.maxBackoff}, a.log, "telegram unreachable; retrying",
		func(ctx context.Context) (time.Duration, error) {
			res, err := a.call(ctx, "getMe", nil, a.callTimeout)
			if err == nil {
				var u struct {
					ID       int64  `json:"id"`
					UserName string `json:"username"`
				}
				if err := json.Unmarshal(res, &u); err == nil && u.ID != 0 {
					me = &identity{ID: u.ID, UserName: u.UserName}
					return 0, nil
				}
				err = errors.New("telegram getMe: unexpected result")
			}
			if unauthorized(err) {
				return 0, adapterkit.Final(fmt.Errorf("%w: %v", ErrUnauthorized, err))
			}
			return retryAfter(err), err
		})
	return me, err
}

// unauthorized reports whether err is Telegram rejecting the token: 401, or
// 404 in Telegram's JSON shape (what api.telegram.org answers for a malformed
// token), or a call refused because the token was found revoked. A non-JSON
// 404 is a wrong endpoint, not a wrong token.
func unauthorized(err error) bool {
	if errors.Is(err, ErrUnauthorized) {
		return true
	}
	var ce *callError
	if !errors.As(err, &ce) || !ce.api {
		return false
	}
	return ce.Code == http.StatusUnauthorized || ce.Code == http.StatusNotFound
}

// backoff is the wait before retry number attempt (1-based): what a 429
// asked for, else bot.Backoff from minBackoff to maxBackoff.
func (a *Bot) backoff(attempt int, err error) time.Duration {
	if wait := retryAfter(err); wait > 0 {
		return wait
	}
	return bot.Backoff{Min: a.minBackoff, Max: a.maxBackoff}.Delay(attempt)
}

// retryAfter is the wait Telegram asked for in a failed call, 0 if none.
func retryAfter(err error) time.Duration {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return 0
}
