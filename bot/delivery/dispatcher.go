// Package delivery drains the outbox to the chat platforms: one loop per
// platform, chats in parallel and each chat in order, within the platform's
// budget (the gate, shared with command answers, alerts first). A chat that
// fails backs off on its own; a platform that stops answering is paused and
// tried with one trial send at a time; an accepted message is never sent
// twice by this process, even while the store refuses writes.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
)

// Channel is one platform's notifier and its policy.
type Channel struct {
	Platform bot.Platform
	Notifier bot.Notifier
	Policy   Policy
	// Gate is the platform's sending budget, shared with the adapter's command
	// replies; nil builds one from Policy.
	Gate *Gate
	// State reports how the adapter sees its platform; nil means always ready.
	State func() bot.PlatformState
}

// BacklogReader reads the pending rows per platform.
type BacklogReader interface {
	Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error)
}

// DeliveryStore is what delivery needs from persistence.
type DeliveryStore interface {
	bot.Outbox
	MigrateChat(ctx context.Context, from, to bot.ChatRef) error
}

// Dispatcher drains the outbox: one loop per platform, chats in parallel,
// each chat's rows strictly in order.
//
// Three promises shape it. A platform that does not answer is paused and
// tried, not spent: its rows keep their attempts and wait (until MaxAge).
// A message the platform accepted is never sent again by this process, even
// when the store cannot record it: the outcome waits in memory and is
// written as soon as the store takes it. A stop lets the sends in flight
// finish (within ShutdownGrace) and records them before Run returns.
type Dispatcher struct {
	store   DeliveryStore
	lanes   []*lane
	clock   clock.Clock
	log     *slog.Logger
	metrics *metrics.Metrics
	// progressEvery is how often a fan-out in progress is logged.
	progressEvery time.Duration
	// PollEvery bounds how long a loop sleeps before looking for due rows
	// again (rows may come from another process sharing the database).
	PollEvery time.Duration
	// ShutdownGrace bounds how long sends in flight may finish once Run's
	// context ends; their outcomes are recorded after that.
	ShutdownGrace time.Duration
	// Working, if set, is told when delivery starts (some platform found
	// rows to send) and when every platform has gone idle again, so the
	// process can lift its memory budget for a fan-out. Set before Run.
	Working func(working bool)
	// Fence, if set, is asked right before each send whether this replica
	// may still send (Leader.Fence): an error leaves the rows pending, unsent.
	Fence func(now time.Time) error
	// BacklogSource, if set, is where the progress lines and the backlog metrics
	// read the pending rows, instead of the store: one reading shared with
	// /healthz (web.CachedBacklog) rather than a second count of every
	// pending row. Set before Run.
	BacklogSource BacklogReader

	workMu  sync.Mutex
	working int // platforms whose last look found rows to send

	// rec writes the workers' outcomes in batches while Run runs; nil
	// otherwise (Flush writes each at once).
	rec atomic.Pointer[recorder]
}

// lane is one platform as the dispatcher runs it: its Channel and the loop's
// bookkeeping (pause and trial sends, busy chats, per-chat failures, outcomes
// the store has not taken yet).
type lane struct {
	Channel
	wake    chan struct{}
	working bool // the loop's last look found rows to send (loop goroutine only)

	mu      sync.Mutex
	busy    map[string]bool
	retries []time.Time // when rescheduled rows fall due, so an idle loop wakes for them
	sent    int         // messages sent since the last progress line

	// asleepUntil is when the loop's sleep on the clock ends; zero while it
	// is awake or a wake-up is on its way (Dispatcher.Settled).
	asleepUntil time.Time

	// Circuit breaker: paused while the platform does not answer.
	failChats map[string]bool // chats whose sends failed as unavailable since the platform last answered
	paused    bool            // sends stopped; one trial at a time
	pausedAt  time.Time       // start of the pause
	trialAt   time.Time       // next trial send
	trials    int             // trials made in this pause
	tried     map[string]bool
	lastState bot.PlatformState

	// unanswered counts, per chat, the platform failures in a row that did
	// not pause the platform, so the wait grows without spending attempts.
	unanswered map[string]int
	// refusals counts, per chat, the sends refused for rights in a row.
	// Kept in memory only: a restart starts each chat's count again.
	refusals map[string]int

	// Outcomes decided but not yet written, by chat: the chat is not sent to
	// again until they are written.
	unrecorded map[string][]bot.Outcome
	storeErr   error     // the store error of the current episode, nil when healthy
	storeWait  time.Time // no store work before this time during an episode
	storeFails int

	// next is the batch of due chats claimed ahead (loop goroutine only);
	// fetching is set while its query runs.
	next     *ahead
	fetching bool
}

// NewDispatcher builds a dispatcher over the given platforms.
func NewDispatcher(store DeliveryStore, chans []Channel, clk clock.Clock, log *slog.Logger, m *metrics.Metrics) *Dispatcher {
	clk = clock.Or(clk)
	d := &Dispatcher{store: store, clock: clk, log: log, metrics: m, progressEvery: 5 * time.Second,
		PollEvery: time.Second, ShutdownGrace: DefaultShutdownGrace}
	for _, c := range chans {
		p := c.Policy
		p.Workers = max(p.Workers, 1)
		if p.TrialMin <= 0 {
			p.TrialMin = DefaultTrialMin
		}
		if p.TrialMax < p.TrialMin {
			p.TrialMax = max(DefaultTrialMax, p.TrialMin)
		}
		if p.PauseAfter <= 0 {
			p.PauseAfter = DefaultPauseAfter
		}
		c.Policy = p
		if c.Gate == nil {
			c.Gate = NewGate(p, clk)
		}
		d.lanes = append(d.lanes, &lane{Channel: c, wake: make(chan struct{}, 1), busy: map[string]bool{},
			unrecorded: map[string][]bot.Outcome{}, tried: map[string]bool{}, unanswered: map[string]int{},
			failChats: map[string]bool{}, refusals: map[string]int{}})
	}
	return d
}

func (d *Dispatcher) now() time.Time { return d.clock.Now() }

// Wake tells every platform loop that new rows may be due.
func (d *Dispatcher) Wake() {
	for _, c := range d.lanes {
		c.signal()
	}
}

func (c *lane) signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signalLocked()
}

// signalLocked wakes the loop; c.mu must be held.
func (c *lane) signalLocked() {
	c.asleepUntil = time.Time{}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Sends in flight then get ShutdownGrace to
// finish, on a context the stop does not cancel; their outcomes are recorded
// before Run returns. So too when this replica was deposed: a send already
// on its way may have been taken by the platform, and cutting it short would
// leave its row pending for the next leader to send again. Its claim keeps
// the row this replica's (claims outlast the grace), so recording the
// outcome is safe and no other replica sends it meanwhile.
func (d *Dispatcher) Run(ctx context.Context) {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-stopped:
			return
		case <-ctx.Done():
		}
		grace := d.ShutdownGrace
		select {
		case <-stopped:
		case <-d.clock.After(grace):
			d.log.Warn("sends still in flight after the shutdown grace; cancelling them", "grace", grace)
			cancelSends()
		}
	}()
	// One write per worker (and per trial send) at most waits in the
	// recorder's queue: each waits for its own to be written.
	capacity := 0
	for _, c := range d.lanes {
		capacity += c.Policy.Workers + 1
	}
	rec := newRecorder(d.store, d.log, d.metrics, capacity)
	go rec.run()
	d.rec.Store(rec)
	var wg sync.WaitGroup
	for _, c := range d.lanes {
		wg.Add(1)
		go func() { defer wg.Done(); d.loop(ctx, sendCtx, c) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.report(ctx) }()
	wg.Wait()
	d.rec.Store(nil)
	rec.close() // every worker has returned: nothing is left in its queue
	d.recordAtExit(ctx)
}

// recordAtExit writes outcomes still held in memory, once more, briefly.
func (d *Dispatcher) recordAtExit(ctx context.Context) {
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, c := range d.lanes {
		c.mu.Lock()
		c.storeWait = time.Time{}
		c.mu.Unlock()
		d.recordHeld(rec, c)
		if n := c.heldCount(); n > 0 {
			d.log.Error("stopping with delivery outcomes the store did not take; those chats may get their last alert again after restart",
				"platform", c.Platform, "count", n)
		}
	}
}

func (d *Dispatcher) loop(ctx, sendCtx context.Context, c *lane) {
	sem := make(chan struct{}, c.Policy.Workers)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	defer c.dropAhead()
	for ctx.Err() == nil {
		now := d.now()
		if wait := c.storeBlocked(now); wait > 0 {
			c.dropAhead()
			d.sleep(ctx, c, wait)
			continue
		}
		if !d.recordHeld(ctx, c) {
			c.dropAhead()
			continue
		}
		if trialAt, paused := c.pauseState(); paused {
			c.dropAhead()
			if wait := trialAt.Sub(now); wait > 0 {
				d.sleep(ctx, c, wait)
				continue
			}
			inflight.Wait() // a trial is one send, alone
			if !d.trial(ctx, sendCtx, c) {
				d.sleep(ctx, c, d.PollEvery)
			}
			continue
		}
		started, err := d.startDue(ctx, sendCtx, c, sem, &inflight)
		if err != nil {
			d.storeFailed(c, err)
			continue
		}
		d.setWorking(c, started > 0)
		if started > 0 {
			continue
		}
		d.sleep(ctx, c, c.idle(d.now(), d.PollEvery))
	}
}

// setWorking records whether c's loop has rows to send and tells Working
// when the first platform starts and when the last one stops.
func (d *Dispatcher) setWorking(c *lane, working bool) {
	if d.Working == nil || c.working == working {
		return
	}
	c.working = working
	d.workMu.Lock()
	defer d.workMu.Unlock()
	before := d.working > 0
	if working {
		d.working++
	} else {
		d.working--
	}
	if after := d.working > 0; after != before {
		d.Working(after)
	}
}

// sleep waits d, a wake-up or the end of ctx.
func (d *Dispatcher) sleep(ctx context.Context, c *lane, wait time.Duration) {
	if wait <= 0 {
		return
	}
	c.mu.Lock()
	timer := d.clock.After(wait)
	if len(c.wake) == 0 {
		c.asleepUntil = d.now().Add(wait)
	}
	c.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-c.wake:
	case <-timer:
	}
}

// busySet is a copy of the chats not to start: in flight, or with outcomes
// waiting to be recorded.
func (c *lane) busySet(extra map[string]bool) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	busy := make(map[string]bool, len(c.busy)+len(c.unrecorded)+len(extra))
	for k := range c.busy {
		busy[k] = true
	}
	for k := range c.unrecorded {
		busy[k] = true
	}
	for k := range extra {
		busy[k] = true
	}
	return busy
}

// idle is how long the loop may sleep when nothing is due: until the next
// rescheduled row falls due, at most poll (rows may also come from elsewhere).
func (c *lane) idle(now time.Time, poll time.Duration) time.Duration {
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
