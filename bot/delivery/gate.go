package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"golang.org/x/time/rate"
)

// DefaultReplyWindow is how long Gate.Reply keeps trying to deliver a
// command's answer (rate limits, a platform hiccup) before it gives up.
const DefaultReplyWindow = 30 * time.Second

// DefaultReplyShare is the share of a platform's rate command answers may
// take while alerts are waiting: a fifth. At Telegram's 25 messages/s that
// is 5 answers a second, enough for a busy group's /status, while a fan-out
// keeps four fifths of the budget.
const DefaultReplyShare = 0.2

// DefaultMaxReplies bounds the command answers waiting in one gate at once
// (the chat's spacing, the share, the rate). Beyond it Reply refuses at once.
const DefaultMaxReplies = 64

// alertQuiet is how long after an alert's last turn the fan-out still counts
// as under way: between two sends a worker records its outcome and picks the
// next chat, and answers must not take the whole budget in that gap.
const alertQuiet = time.Second

// ErrReplyWindow is wrapped by Gate.Reply when the answer could not be sent
// within the reply window.
var ErrReplyWindow = errors.New("reply not delivered within the reply window")

// ErrTooManyReplies is wrapped by Gate.Reply when MaxReplies answers are
// already waiting: the answer is dropped, nothing was sent.
var ErrTooManyReplies = errors.New("too many command answers waiting for the platform's budget")

// Gate is one platform's sending budget, shared by alert fan-out and command
// replies: the overall rate, the least gap between two messages to one chat,
// and a platform-wide pause after a global rate limit.
//
// Alerts own the budget. While alerts are waiting for it (or took a turn in
// the last second), answers take at most ReplyShare of the rate, through a
// limiter of their own, and then queue for the overall rate behind the alert
// turns already booked (at most alertHorizon's worth): an alert worker never
// waits for an answer, and an answer waits behind a turn or two of alerts. With no alert
// under way answers may use the whole rate. An answer waits out its own
// chat's gap before it asks for a turn, holding nothing.
type Gate struct {
	clock   clock.Clock
	limiter *rate.Limiter
	share   *rate.Limiter // answers' share while alerts are under way; nil without a ceiling
	perChat time.Duration
	// ReplyWindow bounds how long Reply retries; DefaultReplyWindow if zero.
	ReplyWindow time.Duration
	// MaxReplies bounds the answers in Reply at once; DefaultMaxReplies if zero.
	MaxReplies int
	// Fence, if set, is asked right before each answer is sent: a replica
	// whose term ended (a long pause) must not answer commands that the new
	// leader will be given again. Its error is returned, nothing sent.
	Fence func(now time.Time) error

	mu        sync.Mutex
	lastSent  map[string]time.Time
	paused    time.Time // a global rate limit holds every send until then
	replies   int       // answers inside Reply
	alerts    int       // alert sends waiting in Take
	lastAlert time.Time // when the last alert send left Take
}

// NewGate builds the gate of a platform sending at most p.Rate messages per
// second (0: no ceiling) and one per p.PerChat to each chat; answers get
// DefaultReplyShare of the rate while alerts are under way.
func NewGate(p Policy, clk clock.Clock) *Gate {
	clk = clock.Or(clk)
	g := &Gate{clock: clk, limiter: rate.NewLimiter(rate.Inf, 1), perChat: p.PerChat, lastSent: map[string]time.Time{}}
	if p.Rate > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(p.Rate), 1)
		g.share = rate.NewLimiter(rate.Limit(p.Rate*DefaultReplyShare), 1)
	}
	return g
}

// HoldUntil is the earliest time chat may be sent to again.
func (g *Gate) HoldUntil(chat string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.paused
	if last, ok := g.lastSent[chat]; ok && last.Add(g.perChat).After(t) {
		t = last.Add(g.perChat)
	}
	return t
}

// Sent records a message delivered to chat at t.
func (g *Gate) Sent(chat string, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if at.After(g.lastSent[chat]) {
		g.lastSent[chat] = at
	}
}

// Limit records a rate limit the platform answered: for one chat, or for
// every chat when global.
func (g *Gate) Limit(chat string, until time.Time, global bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if global {
		if until.After(g.paused) {
			g.paused = until
		}
		return
	}
	// Pretend a message went out so the per-chat gap covers the wait.
	if t := until.Add(-g.perChat); t.After(g.lastSent[chat]) {
		g.lastSent[chat] = t
	}
}

// Paused is the end of a platform-wide pause (zero or past if none).
func (g *Gate) Paused() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// Forget drops per-chat send times older than age, so the map does not grow
// with every chat ever sent to.
func (g *Gate) Forget(now time.Time, age time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for chat, at := range g.lastSent {
		if now.Sub(at) > max(age, g.perChat) {
			delete(g.lastSent, chat)
		}
	}
}

// Take waits for a fan-out send slot: after a global pause, within the
// overall rate. It does not wait for the per-chat gap (the dispatcher
// reschedules such rows instead of holding a worker), nor for answers.
func (g *Gate) Take(ctx context.Context) error {
	g.mu.Lock()
	g.alerts++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.alerts--
		g.lastAlert = g.clock.Now()
		g.mu.Unlock()
	}()
	_, err := g.turn(ctx, false, time.Time{})
	return err
}

// alerting reports whether a fan-out is under way: an alert is waiting for
// its turn or had one within alertQuiet.
func (g *Gate) alerting(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.alerts > 0 || (!g.lastAlert.IsZero() && now.Sub(g.lastAlert) < alertQuiet)
}

// turn waits for one token of the overall rate, after any global pause; an
// answer first takes one of its share while alerts are under way. A turn
// that would come after deadline (when set) is not taken: turn reports
// false and how long it would have waited.
func (g *Gate) turn(ctx context.Context, reply bool, deadline time.Time) (time.Duration, error) {
	for {
		now := g.clock.Now()
		if wait := g.Paused().Sub(now); wait > 0 {
			if !deadline.IsZero() && now.Add(wait).After(deadline) {
				return wait, errTooLate
			}
			if !clock.Sleep(ctx, g.clock, wait) {
				return 0, ctx.Err()
			}
			continue
		}
		if reply && g.share != nil && g.alerting(now) {
			if wait, err := g.reserve(ctx, g.share, deadline); err != nil {
				return wait, err
			}
		}
		if !reply && g.share != nil {
			// An alert books its token only within alertHorizon of the
			// turns already booked: an answer that passed its share then
			// waits behind a turn or two, not behind every worker of a fan-out.
			if wait := g.aheadWait(now); wait > 0 {
				if !clock.Sleep(ctx, g.clock, wait) {
					return 0, ctx.Err()
				}
				continue
			}
		}
		if wait, err := g.reserve(ctx, g.limiter, deadline); err != nil {
			return wait, err
		}
		// A global limit may have come while this send waited for its turn.
		if g.Paused().After(g.clock.Now()) {
			continue
		}
		return 0, nil
	}
}

// alertHorizon is how far ahead alerts may book turns of the overall rate
// (one turn at least). It bounds what an answer that passed its share waits
// behind alerts: at 25/s one turn, 40 ms; at 1000/s 50 turns, 50 ms. Booking
// a little ahead keeps the rate fully used when a worker's timer fires late.
const alertHorizon = 50 * time.Millisecond

// aheadWait is how long until the turns booked ahead fit in alertHorizon.
func (g *Gate) aheadWait(now time.Time) time.Duration {
	perSec := float64(g.limiter.Limit())
	owed := -max(1, perSec*alertHorizon.Seconds()) - g.limiter.TokensAt(now)
	if owed <= 0 {
		return 0
	}
	return time.Duration(owed / perSec * float64(time.Second))
}

// errTooLate: the turn would come after the caller's deadline.
var errTooLate = errors.New("turn after the deadline")

// reserve takes one token of lim, on the gate's clock, and waits for it;
// past deadline (when set) the token is given back and errTooLate returned
// with the wait it would have taken.
func (g *Gate) reserve(ctx context.Context, lim *rate.Limiter, deadline time.Time) (time.Duration, error) {
	now := g.clock.Now()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return 0, errors.New("rate gate: burst too small")
	}
	d := r.DelayFrom(now)
	if !deadline.IsZero() && now.Add(d).After(deadline) {
		r.CancelAt(now)
		return d, errTooLate
	}
	if d > 0 && !clock.Sleep(ctx, g.clock, d) {
		r.CancelAt(g.clock.Now())
		return 0, ctx.Err()
	}
	return 0, nil
}

// Reply delivers a command's answer within the platform's budget: it waits
// for the chat's gap and a global pause (holding no token meanwhile), then
// for its turn (see Gate); a rate-limited answer waits the platform's
// retry_after and is tried again, an unavailable platform or a retryable
// error is retried with backoff, for as long as the reply window lasts.
// Permanent, migrated and no-rights errors are returned at once. When
// MaxReplies answers are already waiting, it returns an error wrapping
// ErrTooManyReplies without sending. send must return *SendError for the
// gate to tell errors apart.
func (g *Gate) Reply(ctx context.Context, chat string, send func(ctx context.Context) error) error {
	window := g.ReplyWindow
	if window <= 0 {
		window = DefaultReplyWindow
	}
	limit := g.MaxReplies
	if limit <= 0 {
		limit = DefaultMaxReplies
	}
	deadline := g.clock.Now().Add(window)
	g.mu.Lock()
	if g.replies >= limit {
		g.mu.Unlock()
		return fmt.Errorf("reply to chat %s: %w (%d already waiting): dropped", chat, ErrTooManyReplies, limit)
	}
	g.replies++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.replies--
		g.mu.Unlock()
	}()

	backoff := 250 * time.Millisecond
	var last error
	for attempt := 1; ; attempt++ {
		now := g.clock.Now()
		if hold := g.HoldUntil(chat); hold.After(now) {
			if hold.After(deadline) {
				return g.expired(chat, attempt-1, last, hold.Sub(now))
			}
			if !clock.Sleep(ctx, g.clock, hold.Sub(now)) {
				return ctx.Err()
			}
		}
		if wait, err := g.turn(ctx, true, deadline); err != nil {
			if errors.Is(err, errTooLate) {
				return g.expired(chat, attempt-1, last, wait)
			}
			return err
		}
		if g.Fence != nil {
			if err := g.Fence(g.clock.Now()); err != nil {
				return fmt.Errorf("reply to chat %s: %w", chat, err)
			}
		}
		err := sendSafely(ctx, send)
		now = g.clock.Now()
		if err == nil {
			g.Sent(chat, now)
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		last = err
		se := bot.ClassOf(err)
		var next time.Time
		switch se.Class {
		case bot.RateLimited:
			next = now.Add(max(se.RetryAfter, time.Second))
			g.Limit(chat, next, se.Global)
		case bot.Unavailable, bot.Retryable:
			next = now.Add(backoff)
			backoff = min(2*backoff, 8*time.Second)
		default:
			return err
		}
		if next.After(deadline) {
			return g.expired(chat, attempt, last, next.Sub(now))
		}
		if !clock.Sleep(ctx, g.clock, next.Sub(now)) {
			return ctx.Err()
		}
	}
}

// ErrSendPanicked is wrapped by Gate.Reply when send panicked (rendering
// the answer, say): the answer is lost, the caller and the process go on.
var ErrSendPanicked = errors.New("sending the answer panicked")

// sendSafely calls send, turning a panic into a Permanent error so that one
// answer cannot end the adapter's reply worker, or the process.
func sendSafely(ctx context.Context, send func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &bot.SendError{Class: bot.Permanent, Err: fmt.Errorf("%w: %v", ErrSendPanicked, r)}
		}
	}()
	return send(ctx)
}

func (g *Gate) expired(chat string, attempts int, last error, wait time.Duration) error {
	if last == nil {
		last = errors.New("no turn within the budget")
	}
	return fmt.Errorf("reply to chat %s: %w after %d attempts (would wait %s more): %w",
		chat, ErrReplyWindow, attempts, wait.Round(time.Millisecond), last)
}
