package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy is how fast and how persistently one platform is sent to.
type Policy struct {
	// Rate is the ceiling of messages per second across all chats (0: none).
	Rate float64
	// PerChat is the least time between two messages to one chat.
	PerChat time.Duration
	// Workers is how many sends may be in flight at once (one per chat at most).
	Workers int
	// MaxAttempts bounds retries of retryable errors before a row expires.
	MaxAttempts int
	// MaxAge expires a notification that could not be delivered for this long.
	MaxAge time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between retries.
	BackoffMin, BackoffMax time.Duration
}

// DefaultPolicy returns sane defaults for a platform sending at ratePerSec.
func DefaultPolicy(ratePerSec float64) Policy {
	return Policy{Rate: ratePerSec, PerChat: time.Second, Workers: 16, MaxAttempts: 8,
		MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: 5 * time.Minute}
}

// Channel is one platform's notifier and its policy.
type Channel struct {
	Platform Platform
	Notifier Notifier
	Policy   Policy
	// Gate is the platform's sending budget, shared with the adapter's command
	// replies; nil builds one from Policy.
	Gate *Gate
	// State reports how the adapter sees its platform; nil means always ready.
	State func() PlatformState
}

// DeliveryStore is what delivery needs from persistence.
type DeliveryStore interface {
	Outbox
	MigrateChat(ctx context.Context, from, to ChatRef) error
}

// Dispatcher drains the outbox: one loop per platform, chats in parallel,
// each chat's rows strictly in order.
type Dispatcher struct {
	store    DeliveryStore
	channels []*channel
	clock    Clock
	log      *slog.Logger
	metrics  *Metrics
	// ProgressEvery is how often a fan-out in progress is logged.
	ProgressEvery time.Duration
	// PollEvery bounds how long a loop sleeps before looking for due rows again.
	PollEvery time.Duration
}

type channel struct {
	Channel
	wake chan struct{}

	mu      sync.Mutex
	busy    map[string]bool
	retries []time.Time // when rescheduled rows fall due, so an idle loop wakes for them
	sent    int         // messages sent since the last progress line
}

// NewDispatcher builds a dispatcher over the given platforms.
func NewDispatcher(store DeliveryStore, chans []Channel, clock Clock, log *slog.Logger, m *Metrics) *Dispatcher {
	if clock == nil {
		clock = SystemClock{}
	}
	d := &Dispatcher{store: store, clock: clock, log: log, metrics: m, ProgressEvery: 5 * time.Second, PollEvery: time.Second}
	for _, c := range chans {
		p := c.Policy
		if p.Workers < 1 {
			p.Workers = 1
		}
		c.Policy = p
		if c.Gate == nil {
			c.Gate = NewGate(p, clock)
		}
		d.channels = append(d.channels, &channel{Channel: c, wake: make(chan struct{}, 1), busy: map[string]bool{}})
	}
	return d
}

func (d *Dispatcher) now() time.Time { return d.clock.Now() }

// Wake tells every platform loop that new rows may be due.
func (d *Dispatcher) Wake() {
	for _, c := range d.channels {
		c.signal()
	}
}

func (c *channel) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for sends in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range d.channels {
		wg.Add(1)
		go func() { defer wg.Done(); d.loop(ctx, c) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.report(ctx) }()
	wg.Wait()
}

func (d *Dispatcher) loop(ctx context.Context, c *channel) {
	sem := make(chan struct{}, c.Policy.Workers)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for ctx.Err() == nil {
		started := d.startDue(ctx, c, sem, &inflight)
		if started > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-c.wake:
		case <-d.clock.After(c.idle(d.now(), d.PollEvery)):
		}
	}
}

// startDue starts a worker for each due chat that is not busy and returns how many it started.
func (d *Dispatcher) startDue(ctx context.Context, c *channel, sem chan struct{}, inflight *sync.WaitGroup) int {
	c.mu.Lock()
	busy := make(map[string]bool, len(c.busy))
	for k := range c.busy {
		busy[k] = true
	}
	c.mu.Unlock()
	rows, err := d.store.Due(ctx, c.Platform, d.now(), 4*c.Policy.Workers, busy)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("read outbox", "err", err, "platform", c.Platform)
		}
		return 0
	}
	started := 0
	for _, chat := range groupByChat(rows) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return started
		}
		id := chat[0].Chat.ID
		c.mu.Lock()
		c.busy[id] = true
		c.mu.Unlock()
		inflight.Add(1)
		started++
		go func() {
			defer func() {
				c.mu.Lock()
				delete(c.busy, id)
				c.mu.Unlock()
				<-sem
				inflight.Done()
				c.signal()
			}()
			d.deliver(ctx, c, chat)
		}()
	}
	return started
}

func groupByChat(rows []Delivery) [][]Delivery {
	var out [][]Delivery
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Chat == rows[i].Chat {
			j++
		}
		out = append(out, rows[i:j])
		i = j
	}
	return out
}

// Flush delivers, one chat after the other, every row that is due now, until
// none is left. Tests and tools use it to drive delivery without goroutines.
func (d *Dispatcher) Flush(ctx context.Context) error {
	for _, c := range d.channels {
		for {
			rows, err := d.store.Due(ctx, c.Platform, d.now(), 64, nil)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			for _, chat := range groupByChat(rows) {
				d.deliver(ctx, c, chat)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// deliver sends one chat's pending rows as one message and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context, c *channel, rows []Delivery) {
	chat := rows[0].Chat
	now := d.now()
	// Recording an outcome must not be cut short by shutdown: a sent message
	// left pending would be sent again after restart.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()

	var live []Delivery
	var stale []int64
	for _, r := range rows {
		if c.Policy.MaxAge > 0 && now.Sub(r.CreatedAt) > c.Policy.MaxAge {
			stale = append(stale, r.ID)
		} else {
			live = append(live, r)
		}
	}
	if len(stale) > 0 {
		d.finish(rec, c, stale, StatusExpired, "", "undelivered for longer than "+c.Policy.MaxAge.String(), now)
		d.log.Warn("notifications expired", "platform", c.Platform, "chat", chat.ID, "count", len(stale))
	}
	if len(live) == 0 {
		return
	}
	if wait := c.Gate.HoldUntil(chat.ID).Sub(now); wait > 0 {
		d.reschedule(rec, c, live[0], now.Add(wait), live[0].Attempts, "waiting for the platform's rate limit")
		return
	}
	if err := c.Gate.Take(ctx); err != nil {
		return // shutting down; the row stays pending
	}
	msg := RenderAlert(live[0].Lang, live, d.now())
	begin := time.Now()
	id, err := c.Notifier.Send(ctx, chat.ID, msg)
	took := time.Since(begin)
	sentAt := d.now()
	if err == nil {
		c.Gate.Sent(chat.ID, sentAt)
		c.mu.Lock()
		c.sent++
		c.mu.Unlock()
		last := live[len(live)-1]
		if len(live) > 1 {
			d.finish(rec, c, idsOf(live[:len(live)-1]), StatusCoalesced, id, fmt.Sprintf("coalesced into outbox row %d", last.ID), sentAt)
		}
		d.finish(rec, c, []int64{last.ID}, StatusSent, id, "", sentAt)
		d.metrics.send(c.Platform, "sent", took)
		return
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return // shutdown interrupted the send; it is retried after restart
	}
	head := live[0]
	se := ClassOf(err)
	reason := Truncate(err.Error(), 500)
	switch se.Class {
	case RateLimited:
		after := max(se.RetryAfter, time.Second)
		c.Gate.Limit(chat.ID, sentAt.Add(after), se.Global)
		d.reschedule(rec, c, head, sentAt.Add(after), head.Attempts, reason)
		d.metrics.send(c.Platform, "rate_limited", took)
		d.log.Warn("rate limited", "platform", c.Platform, "chat", chat.ID, "retry_after", after, "global", se.Global)
	case Permanent:
		d.finish(rec, c, idsOf(live), StatusGone, "", reason, sentAt)
		d.metrics.send(c.Platform, "gone", took)
		d.log.Warn("chat refuses the bot: subscription ended", "platform", c.Platform, "chat", chat.ID, "err", reason)
	case Migrated:
		to := ChatRef{Platform: c.Platform, ID: se.NewChatID}
		if err := d.store.MigrateChat(rec, chat, to); err != nil {
			d.log.Error("migrate chat", "err", err, "platform", c.Platform, "chat", chat.ID)
			d.reschedule(rec, c, head, sentAt.Add(c.Policy.BackoffMin), head.Attempts+1, reason)
			return
		}
		d.metrics.send(c.Platform, "migrated", took)
		d.log.Info("chat migrated; resending under its new id", "platform", c.Platform, "chat", chat.ID, "to", to.ID)
	default:
		attempts := head.Attempts + 1
		if c.Policy.MaxAttempts > 0 && attempts >= c.Policy.MaxAttempts {
			d.finish(rec, c, idsOf(live), StatusExpired, "", fmt.Sprintf("gave up after %d attempts: %s", attempts, reason), sentAt)
			d.metrics.send(c.Platform, "expired", took)
			d.log.Error("notification expired after retries", "platform", c.Platform, "chat", chat.ID, "attempts", attempts, "err", reason)
			return
		}
		d.reschedule(rec, c, head, sentAt.Add(c.Policy.backoff(attempts)), attempts, reason)
		d.metrics.send(c.Platform, "retry", took)
		d.log.Warn("send failed; will retry", "platform", c.Platform, "chat", chat.ID, "attempt", attempts, "err", reason)
	}
}

func idsOf(rows []Delivery) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func (d *Dispatcher) finish(ctx context.Context, c *channel, ids []int64, st DeliveryStatus, msgID, reason string, at time.Time) {
	if err := d.store.Finish(ctx, ids, st, msgID, reason, at); err != nil {
		d.log.Error("record delivery outcome", "err", err, "platform", c.Platform, "status", st)
	}
}

func (d *Dispatcher) reschedule(ctx context.Context, c *channel, r Delivery, next time.Time, attempts int, reason string) {
	if err := d.store.Retry(ctx, r.ID, next, attempts, reason); err != nil {
		d.log.Error("reschedule delivery", "err", err, "platform", r.Chat.Platform, "chat", r.Chat.ID)
	}
	c.mu.Lock()
	c.retries = append(c.retries, next)
	c.mu.Unlock()
}

// idle is how long the loop may sleep when nothing is due: until the next
// rescheduled row falls due, at most poll (rows may also come from elsewhere).
func (c *channel) idle(now time.Time, poll time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	wait := poll
	kept := c.retries[:0]
	for _, t := range c.retries {
		if d := t.Sub(now); d > 0 {
			kept = append(kept, t)
			wait = min(wait, d)
		} else {
			wait = 0 // fell due since the last look: look once more
		}
	}
	c.retries = kept
	return wait
}

func (p Policy) backoff(attempt int) time.Duration {
	d := p.BackoffMin << min(attempt-1, 20)
	if d > p.BackoffMax || d <= 0 {
		d = p.BackoffMax
	}
	// Full jitter on the upper half keeps retries of many chats from marching in step.
	return d/2 + rand.N(d/2+1)
}

// report logs fan-out progress and refreshes the backlog metrics of every
// platform, from one backlog query per tick.
func (d *Dispatcher) report(ctx context.Context) {
	t := time.NewTicker(d.ProgressEvery)
	defer t.Stop()
	lastPending := make(map[Platform]int, len(d.channels))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		backlog, err := d.store.Backlog(ctx)
		if err != nil {
			continue
		}
		now := d.now()
		for _, c := range d.channels {
			b := backlog[c.Platform]
			d.metrics.backlog(c.Platform, b, now)
			sent := c.takeSent(now)
			// Quiet while nothing moves: rows waiting out a long backoff are in the metrics.
			if sent > 0 || b.Pending != lastPending[c.Platform] {
				d.log.Info("delivery progress", "platform", c.Platform, "sent", sent, "pending", b.Pending)
			}
			lastPending[c.Platform] = b.Pending
		}
	}
}

// takeSent returns the messages sent since the last call and forgets
// per-chat send times too old to hold anything back.
func (c *channel) takeSent(now time.Time) int {
	c.Gate.Forget(now, time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = 0
	return sent
}

// Backlog reports the undelivered rows per platform.
func (d *Dispatcher) Backlog(ctx context.Context) (map[Platform]Backlog, error) {
	return d.store.Backlog(ctx)
}
