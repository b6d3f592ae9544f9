package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultReplyWindow is how long Gate.Reply keeps trying to deliver a
// command's answer (rate limits, a platform hiccup) before it gives up.
const DefaultReplyWindow = 30 * time.Second

// ErrReplyWindow is wrapped by Gate.Reply when the answer could not be sent
// within the reply window.
var ErrReplyWindow = errors.New("reply not delivered within the reply window")

// Gate is one platform's sending budget, shared by alert fan-out and command
// replies: the overall rate, the least gap between two messages to one chat,
// and a platform-wide pause after a global rate limit. Replies go first: a
// fan-out send waits while any reply is waiting.
type Gate struct {
	clock   Clock
	limiter *rate.Limiter
	perChat time.Duration
	// ReplyWindow bounds how long Reply retries; DefaultReplyWindow if zero.
	ReplyWindow time.Duration

	mu       sync.Mutex
	lastSent map[string]time.Time
	paused   time.Time     // a global rate limit holds every send until then
	replies  int           // replies waiting for their turn
	noReply  chan struct{} // closed when replies drops to 0
}

// NewGate builds the gate of a platform sending at most p.Rate messages per
// second (0: no ceiling) and one per p.PerChat to each chat.
func NewGate(p Policy, clock Clock) *Gate {
	if clock == nil {
		clock = SystemClock{}
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if p.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(p.Rate), 1)
	}
	closed := make(chan struct{})
	close(closed)
	return &Gate{clock: clock, limiter: lim, perChat: p.PerChat, lastSent: map[string]time.Time{}, noReply: closed}
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

// Take waits for a fan-out send slot: after every waiting reply, after a
// global pause, within the overall rate. It does not wait for the per-chat
// gap (the dispatcher reschedules such rows instead of holding a worker).
func (g *Gate) Take(ctx context.Context) error {
	for {
		g.mu.Lock()
		waiting, noReply, paused := g.replies, g.noReply, g.paused
		g.mu.Unlock()
		if waiting > 0 {
			select {
			case <-noReply:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if wait := paused.Sub(g.clock.Now()); wait > 0 {
			if !Sleep(ctx, g.clock, wait) {
				return ctx.Err()
			}
			continue
		}
		if err := g.wait(ctx); err != nil {
			return err
		}
		// A global limit may have come while this send waited for its turn.
		if g.Paused().After(g.clock.Now()) {
			continue
		}
		return nil
	}
}

// wait takes one token of the overall rate, on the gate's clock.
func (g *Gate) wait(ctx context.Context) error {
	now := g.clock.Now()
	r := g.limiter.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("rate gate: burst too small")
	}
	if d := r.DelayFrom(now); d > 0 && !Sleep(ctx, g.clock, d) {
		r.CancelAt(g.clock.Now())
		return ctx.Err()
	}
	return nil
}

// Reply delivers a command's answer with priority over fan-out: it waits for
// the chat's gap, a global pause and the overall rate; a rate-limited answer
// waits the platform's retry_after and is tried again, an unavailable
// platform or a retryable error is retried with backoff, for as long as the
// reply window lasts. Permanent and migrated errors are returned at once.
// send must return *SendError for the gate to tell them apart.
func (g *Gate) Reply(ctx context.Context, chat string, send func(ctx context.Context) error) error {
	window := g.ReplyWindow
	if window <= 0 {
		window = DefaultReplyWindow
	}
	deadline := g.clock.Now().Add(window)
	g.mu.Lock()
	if g.replies == 0 {
		g.noReply = make(chan struct{})
	}
	g.replies++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.replies--
		if g.replies == 0 {
			close(g.noReply)
		}
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
			if !Sleep(ctx, g.clock, hold.Sub(now)) {
				return ctx.Err()
			}
		}
		if err := g.wait(ctx); err != nil {
			return err
		}
		err := send(ctx)
		now = g.clock.Now()
		if err == nil {
			g.Sent(chat, now)
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		last = err
		se := ClassOf(err)
		var next time.Time
		switch se.Class {
		case RateLimited:
			next = now.Add(max(se.RetryAfter, time.Second))
			g.Limit(chat, next, se.Global)
		case Unavailable, Retryable:
			next = now.Add(backoff)
			backoff = min(2*backoff, 8*time.Second)
		default:
			return err
		}
		if next.After(deadline) {
			return g.expired(chat, attempt, last, next.Sub(now))
		}
		if !Sleep(ctx, g.clock, next.Sub(now)) {
			return ctx.Err()
		}
	}
}

func (g *Gate) expired(chat string, attempts int, last error, wait time.Duration) error {
	if last == nil {
		last = errors.New("chat is rate limited")
	}
	return fmt.Errorf("reply to chat %s: %w after %d attempts (would wait %s more): %w",
		chat, ErrReplyWindow, attempts, wait.Round(time.Millisecond), last)
}
