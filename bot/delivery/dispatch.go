package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// Policy is how fast and how persistently one platform is sent to.
type Policy struct {
	// Rate is the ceiling of messages per second across all chats (0: none).
	Rate float64
	// PerChat is the least time between two messages to one chat.
	PerChat time.Duration
	// Workers is how many sends may be in flight at once (one per chat at most).
	Workers int
	// MaxAttempts bounds retries of retryable (chat-specific) errors before a
	// row expires. Unavailable (platform-wide) errors never spend attempts.
	MaxAttempts int
	// MaxAge expires a notification that could not be delivered for this long.
	MaxAge time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between retries.
	BackoffMin, BackoffMax time.Duration
	// ProbeMin and ProbeMax bound the wait between two probe sends to a
	// paused (unavailable) platform: it doubles from ProbeMin to ProbeMax.
	ProbeMin, ProbeMax time.Duration
	// PauseAfter is how many different chats must fail as unavailable, with
	// no answer from the platform in between, to pause the platform: one
	// chat failing however often is that chat's problem, never a pause.
	PauseAfter int
}

// Defaults of the circuit breaker. A probe every 4 s at most costs nothing to
// a platform that is down, and puts the backlog back in motion within about
// 5 s of its return, whatever the length of the outage.
const (
	DefaultProbeMin   = time.Second
	DefaultProbeMax   = 4 * time.Second
	DefaultPauseAfter = 3
	// DefaultShutdownGrace bounds how long sends in flight may finish after
	// the dispatcher is told to stop.
	DefaultShutdownGrace = 10 * time.Second
)

// DefaultPolicy returns sane defaults for a platform sending at ratePerSec.
func DefaultPolicy(ratePerSec float64) Policy {
	return Policy{Rate: ratePerSec, PerChat: time.Second, Workers: 16, MaxAttempts: 8,
		MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: 5 * time.Minute,
		ProbeMin: DefaultProbeMin, ProbeMax: DefaultProbeMax, PauseAfter: DefaultPauseAfter}
}

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

// DeliveryStore is what delivery needs from persistence.
type DeliveryStore interface {
	bot.Outbox
	MigrateChat(ctx context.Context, from, to bot.ChatRef) error
}

// Dispatcher drains the outbox: one loop per platform, chats in parallel,
// each chat's rows strictly in order.
//
// Three promises shape it. A platform that does not answer is paused and
// probed, not spent: its rows keep their attempts and wait (until MaxAge).
// A message the platform accepted is never sent again by this process, even
// when the store cannot record it: the outcome waits in memory and is
// written as soon as the store takes it. A stop lets the sends in flight
// finish (within ShutdownGrace) and records them before Run returns.
type Dispatcher struct {
	store    DeliveryStore
	channels []*channel
	clock    bot.Clock
	log      *slog.Logger
	metrics  *metrics.Metrics
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

	workMu  sync.Mutex
	working int // platforms whose last look found rows to send
}

type channel struct {
	Channel
	wake    chan struct{}
	working bool // the loop's last look found rows to send (loop goroutine only)

	mu      sync.Mutex
	busy    map[string]bool
	retries []time.Time // when rescheduled rows fall due, so an idle loop wakes for them
	sent    int         // messages sent since the last progress line

	// Circuit breaker: paused while the platform does not answer.
	failChats map[string]bool // chats whose sends failed as unavailable since the platform last answered
	paused    bool            // sends stopped; one probe at a time
	pausedAt  time.Time       // start of the pause
	probeAt   time.Time       // next probe send
	probes    int             // probes made in this pause
	probed    map[string]bool
	lastState bot.PlatformState

	// unanswered counts, per chat, the platform failures in a row that did
	// not pause the platform, so the wait grows without spending attempts.
	unanswered map[string]int
	// refusals counts, per chat, the sends refused for rights in a row.
	// Kept in memory only: a restart starts each chat's count again.
	refusals map[string]int

	// Outcomes decided but not yet written, by chat: the chat is not sent to
	// again until they are written.
	unrecorded map[string][]outcome
	storeErr   error     // the store error of the current episode, nil when healthy
	storeWait  time.Time // no store work before this time during an episode
	storeFails int
}

// outcome is one write to the outbox: finishing rows, or rescheduling one.
type outcome struct {
	ids      []int64
	status   bot.DeliveryStatus // empty for a reschedule
	msgID    string
	reason   string
	at       time.Time
	next     time.Time // reschedule only
	attempts int       // reschedule only
}

// NewDispatcher builds a dispatcher over the given platforms.
func NewDispatcher(store DeliveryStore, chans []Channel, clock bot.Clock, log *slog.Logger, m *metrics.Metrics) *Dispatcher {
	if clock == nil {
		clock = bot.SystemClock{}
	}
	d := &Dispatcher{store: store, clock: clock, log: log, metrics: m, progressEvery: 5 * time.Second,
		PollEvery: time.Second, ShutdownGrace: DefaultShutdownGrace}
	for _, c := range chans {
		p := c.Policy
		p.Workers = max(p.Workers, 1)
		if p.ProbeMin <= 0 {
			p.ProbeMin = DefaultProbeMin
		}
		if p.ProbeMax < p.ProbeMin {
			p.ProbeMax = max(DefaultProbeMax, p.ProbeMin)
		}
		if p.PauseAfter <= 0 {
			p.PauseAfter = DefaultPauseAfter
		}
		c.Policy = p
		if c.Gate == nil {
			c.Gate = NewGate(p, clock)
		}
		d.channels = append(d.channels, &channel{Channel: c, wake: make(chan struct{}, 1), busy: map[string]bool{},
			unrecorded: map[string][]outcome{}, probed: map[string]bool{}, unanswered: map[string]int{},
			failChats: map[string]bool{}, refusals: map[string]int{}})
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

// Run delivers until ctx ends. Sends in flight then get ShutdownGrace to
// finish, on a context the stop does not cancel; their outcomes are recorded
// before Run returns. When ctx ends because this replica was deposed (its
// cause is ErrDeposed), sends in flight are cancelled at once instead.
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
		if errors.Is(context.Cause(ctx), bot.ErrDeposed) {
			// Another replica leads, or soon will, and may send these rows:
			// cut the sends short rather than race it (their rows stay pending).
			grace = 0
		}
		select {
		case <-stopped:
		case <-d.clock.After(grace):
			if grace > 0 {
				d.log.Warn("sends still in flight after the shutdown grace; cancelling them", "grace", grace)
			}
			cancelSends()
		}
	}()
	var wg sync.WaitGroup
	for _, c := range d.channels {
		wg.Add(1)
		go func() { defer wg.Done(); d.loop(ctx, sendCtx, c) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.report(ctx) }()
	wg.Wait()
	d.recordAtExit(ctx)
}

// recordAtExit writes outcomes still held in memory, once more, briefly.
func (d *Dispatcher) recordAtExit(ctx context.Context) {
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, c := range d.channels {
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

func (d *Dispatcher) loop(ctx, sendCtx context.Context, c *channel) {
	sem := make(chan struct{}, c.Policy.Workers)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for ctx.Err() == nil {
		now := d.now()
		if wait := c.storeBlocked(now); wait > 0 {
			d.sleep(ctx, c, wait)
			continue
		}
		if !d.recordHeld(ctx, c) {
			continue
		}
		if probeAt, paused := c.pauseState(); paused {
			if wait := probeAt.Sub(now); wait > 0 {
				d.sleep(ctx, c, wait)
				continue
			}
			inflight.Wait() // a probe is one send, alone
			if !d.probe(ctx, sendCtx, c) {
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
func (d *Dispatcher) setWorking(c *channel, working bool) {
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
func (d *Dispatcher) sleep(ctx context.Context, c *channel, wait time.Duration) {
	if wait <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-c.wake:
	case <-d.clock.After(wait):
	}
}

// busySet is a copy of the chats not to start: in flight, or with outcomes
// waiting to be recorded.
func (c *channel) busySet(extra map[string]bool) map[string]bool {
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

// startDue starts a worker for each due chat that is not busy and returns how many it started.
func (d *Dispatcher) startDue(ctx, sendCtx context.Context, c *channel, sem chan struct{}, inflight *sync.WaitGroup) (int, error) {
	rows, err := d.store.Due(ctx, c.Platform, d.now(), 4*c.Policy.Workers, c.busySet(nil))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	d.storeOK(c)
	started := 0
	for _, chat := range groupByChat(rows) {
		if _, paused := c.pauseState(); paused {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return started, nil
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
			d.deliver(ctx, sendCtx, c, chat)
		}()
	}
	return started, nil
}

// probe sends to one due chat of a paused platform, a different chat each
// time within a pause so that one broken chat cannot keep the platform
// paused. It reports whether there was anything to probe with.
func (d *Dispatcher) probe(ctx, sendCtx context.Context, c *channel) bool {
	c.mu.Lock()
	probed := c.probed
	c.mu.Unlock()
	rows, err := d.store.Due(ctx, c.Platform, d.now(), 1, c.busySet(probed))
	if err != nil {
		if ctx.Err() == nil {
			d.storeFailed(c, err)
		}
		return true
	}
	d.storeOK(c)
	if len(rows) == 0 {
		c.mu.Lock()
		again := len(c.probed) > 0
		c.probed = map[string]bool{}
		c.mu.Unlock()
		return again // every due chat was tried in this pause: start over
	}
	chat := groupByChat(rows)[0]
	c.mu.Lock()
	c.probed[chat[0].Chat.ID] = true
	c.probes++
	c.mu.Unlock()
	d.deliver(ctx, sendCtx, c, chat)
	return true
}

func groupByChat(rows []bot.Delivery) [][]bot.Delivery {
	var out [][]bot.Delivery
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

// deliver sends one chat's pending rows as one message and records the
// outcome. ctx ending stops it before the send; sendCtx bounds the send.
func (d *Dispatcher) deliver(ctx, sendCtx context.Context, c *channel, rows []bot.Delivery) {
	defer d.survive(ctx, c, rows)
	chat := rows[0].Chat
	now := d.now()
	var live []bot.Delivery
	var stale []int64
	for _, r := range rows {
		if c.Policy.MaxAge > 0 && now.Sub(r.CreatedAt) > c.Policy.MaxAge {
			stale = append(stale, r.ID)
		} else {
			live = append(live, r)
		}
	}
	if len(stale) > 0 {
		d.record(ctx, c, chat.ID, outcome{ids: stale, status: bot.StatusExpired, reason: "undelivered for longer than " + c.Policy.MaxAge.String(), at: now})
		d.metrics.Send(c.Platform, "expired", 0)
		d.log.Warn("notifications expired", "platform", c.Platform, "chat", chat.ID, "count", len(stale))
	}
	if len(live) == 0 {
		return
	}
	head := live[0]
	if wait := c.Gate.HoldUntil(chat.ID).Sub(now); wait > 0 {
		d.reschedule(ctx, c, head, now.Add(wait), head.Attempts, "waiting for the platform's rate limit")
		return
	}
	if err := c.Gate.Take(ctx); err != nil {
		return // stopping before the send; the row stays pending
	}
	if d.Fence != nil {
		if err := d.Fence(d.now()); err != nil {
			d.log.Warn("not sending: this replica's term is over", "platform", c.Platform, "chat", chat.ID, "err", err)
			return
		}
	}
	msg := text.RenderAlert(live[0].Lang, live, d.now())
	begin := time.Now()
	id, err := c.Notifier.Send(sendCtx, chat.ID, msg)
	took := time.Since(begin)
	sentAt := d.now()
	if err == nil {
		c.Gate.Sent(chat.ID, sentAt)
		d.answered(c, sentAt)
		c.mu.Lock()
		c.sent++
		delete(c.unanswered, chat.ID)
		delete(c.refusals, chat.ID)
		c.mu.Unlock()
		last := live[len(live)-1]
		if len(live) > 1 {
			d.record(ctx, c, chat.ID, outcome{ids: idsOf(live[:len(live)-1]), status: bot.StatusCoalesced, msgID: id,
				reason: fmt.Sprintf("coalesced into outbox row %d", last.ID), at: sentAt})
		}
		d.record(ctx, c, chat.ID, outcome{ids: []int64{last.ID}, status: bot.StatusSent, msgID: id, at: sentAt})
		d.metrics.Send(c.Platform, "sent", took)
		return
	}
	if sendCtx.Err() != nil && errors.Is(err, sendCtx.Err()) {
		return // the shutdown grace ran out during the send; it is retried after restart
	}
	se := bot.ClassOf(err)
	reason := bot.Truncate(err.Error(), 500)
	if se.Class == bot.Unavailable {
		d.metrics.Send(c.Platform, "unavailable", took)
		if d.unavailable(c, chat.ID, sentAt, reason) {
			return // paused: the row keeps its place and its attempts
		}
		// Not (yet) judged a platform outage: retry this chat later, without
		// spending an attempt, waiting longer each time it stays unanswered.
		c.mu.Lock()
		c.unanswered[chat.ID]++
		n := c.unanswered[chat.ID]
		c.mu.Unlock()
		d.reschedule(ctx, c, head, sentAt.Add(c.Policy.backoff(n)), head.Attempts, reason)
		d.log.Warn("send failed; will retry", "platform", c.Platform, "chat", chat.ID, "class", se.Class, "err", reason)
		return
	}
	d.answered(c, sentAt)
	c.mu.Lock()
	delete(c.unanswered, chat.ID)
	c.mu.Unlock()
	switch se.Class {
	case bot.RateLimited:
		after := max(se.RetryAfter, time.Second)
		c.Gate.Limit(chat.ID, sentAt.Add(after), se.Global)
		d.reschedule(ctx, c, head, sentAt.Add(after), head.Attempts, reason)
		d.metrics.Send(c.Platform, "rate_limited", took)
		d.log.Warn("rate limited", "platform", c.Platform, "chat", chat.ID, "retry_after", after, "global", se.Global)
	case bot.NoRights:
		d.refused(ctx, c, chat.ID, live, sentAt, reason, took)
	case bot.Permanent:
		d.record(ctx, c, chat.ID, outcome{ids: idsOf(live), status: bot.StatusGone, reason: reason, at: sentAt})
		d.metrics.Send(c.Platform, "gone", took)
		d.log.Warn("chat refuses the bot: subscription ended", "platform", c.Platform, "chat", chat.ID, "err", reason)
	case bot.Migrated:
		to := bot.ChatRef{Platform: c.Platform, ID: se.NewChatID}
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := d.store.MigrateChat(rec, chat, to); err != nil {
			d.log.Error("migrate chat", "err", err, "platform", c.Platform, "chat", chat.ID)
			d.reschedule(ctx, c, head, sentAt.Add(c.Policy.BackoffMin), head.Attempts+1, reason)
			return
		}
		d.metrics.Send(c.Platform, "migrated", took)
		d.log.Info("chat migrated; resending under its new id", "platform", c.Platform, "chat", chat.ID, "to", to.ID)
	default:
		attempts := head.Attempts + 1
		if se.Class == bot.Rejected || c.Policy.MaxAttempts > 0 && attempts >= c.Policy.MaxAttempts {
			d.record(ctx, c, chat.ID, outcome{ids: idsOf(live), status: bot.StatusExpired,
				reason: fmt.Sprintf("gave up after %d attempts: %s", attempts, reason), at: sentAt})
			d.metrics.Send(c.Platform, "expired", took)
			d.log.Error("notification expired after retries", "platform", c.Platform, "chat", chat.ID, "attempts", attempts, "err", reason)
			return
		}
		d.reschedule(ctx, c, head, sentAt.Add(c.Policy.backoff(attempts)), attempts, reason)
		d.metrics.Send(c.Platform, "retry", took)
		d.log.Warn("send failed; will retry", "platform", c.Platform, "chat", chat.ID, "attempt", attempts, "err", reason)
	}
}

// answered notes that the platform answered a send: a pause ends at once.
func (d *Dispatcher) answered(c *channel, now time.Time) {
	c.mu.Lock()
	clear(c.failChats)
	wasPaused, since, probes := c.paused, c.pausedAt, c.probes
	c.paused, c.probes = false, 0
	c.probed = map[string]bool{}
	c.mu.Unlock()
	if wasPaused {
		d.log.Info("platform answers again; delivery resumes", "platform", c.Platform,
			"paused_for", now.Sub(since).Round(time.Millisecond), "probes", probes)
		c.signal()
	}
}

// pauseState reports whether the platform is paused and when to probe next.
func (c *channel) pauseState() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.probeAt, c.paused
}

func idsOf(rows []bot.Delivery) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// record writes an outcome, or keeps it in memory when the store refuses:
// the chat is then left alone until recordHeld gets it written.
func (d *Dispatcher) record(ctx context.Context, c *channel, chat string, o outcome) {
	c.mu.Lock()
	held := len(c.unrecorded[chat]) > 0
	if held {
		c.unrecorded[chat] = append(c.unrecorded[chat], o)
	}
	c.mu.Unlock()
	if held {
		return // keep the order of a chat's outcomes
	}
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.write(rec, o); err != nil {
		c.mu.Lock()
		c.unrecorded[chat] = append(c.unrecorded[chat], o)
		c.mu.Unlock()
		d.storeFailed(c, err)
	}
}

func (d *Dispatcher) write(ctx context.Context, o outcome) error {
	if o.status == "" {
		return d.store.Retry(ctx, o.ids[0], o.next, o.attempts, o.reason)
	}
	return d.store.Finish(ctx, o.ids, o.status, o.msgID, o.reason, o.at)
}

func (d *Dispatcher) reschedule(ctx context.Context, c *channel, r bot.Delivery, next time.Time, attempts int, reason string) {
	d.record(ctx, c, r.Chat.ID, outcome{ids: []int64{r.ID}, next: next, attempts: attempts, reason: reason})
	c.mu.Lock()
	c.retries = append(c.retries, next)
	c.mu.Unlock()
}

// recordHeld writes the outcomes held in memory; it reports whether none is
// left. It does nothing while a store episode's backoff runs.
func (d *Dispatcher) recordHeld(ctx context.Context, c *channel) bool {
	c.mu.Lock()
	if len(c.unrecorded) == 0 {
		c.mu.Unlock()
		return true
	}
	if d.now().Before(c.storeWait) {
		c.mu.Unlock()
		return false
	}
	held := c.unrecorded
	c.unrecorded = map[string][]outcome{}
	c.mu.Unlock()
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var failed error
	for chat, outs := range held {
		for i, o := range outs {
			if failed == nil {
				failed = d.write(rec, o)
			}
			if failed != nil {
				c.mu.Lock()
				c.unrecorded[chat] = append(c.unrecorded[chat], outs[i:]...)
				c.mu.Unlock()
				break
			}
		}
	}
	if failed != nil {
		d.storeFailed(c, failed)
		return false
	}
	d.storeOK(c)
	return true
}

func (c *channel) heldCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heldLocked()
}

// heldLocked counts the outcomes held in memory; c.mu must be held.
func (c *channel) heldLocked() int {
	n := 0
	for _, outs := range c.unrecorded {
		n += len(outs)
	}
	return n
}

// storeFailed starts or extends a store episode: delivery of this platform
// backs off (1 s doubling to 30 s) and the episode is logged once.
func (d *Dispatcher) storeFailed(c *channel, err error) {
	c.mu.Lock()
	first := c.storeErr == nil
	c.storeErr = err
	c.storeFails++
	wait := min(time.Second<<min(c.storeFails-1, 5), 30*time.Second)
	c.storeWait = d.now().Add(wait)
	held := c.heldLocked()
	c.mu.Unlock()
	if first {
		d.log.Error("store failing: delivery backs off; sent messages are kept in memory until recorded, never sent again",
			"platform", c.Platform, "err", err, "held", held)
	}
}

// storeOK ends a store episode, once nothing is held in memory any more.
func (d *Dispatcher) storeOK(c *channel) {
	c.mu.Lock()
	if len(c.unrecorded) > 0 {
		c.mu.Unlock()
		return
	}
	episode := c.storeErr != nil
	c.storeErr, c.storeFails, c.storeWait = nil, 0, time.Time{}
	c.mu.Unlock()
	if episode {
		d.log.Info("store recovered: delivery resumes", "platform", c.Platform)
		c.signal()
	}
}

// storeBlocked is how long a store episode's backoff still holds the loop.
func (c *channel) storeBlocked(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.storeErr == nil {
		return 0
	}
	return c.storeWait.Sub(now)
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
	return bot.Backoff{Min: p.BackoffMin, Max: p.BackoffMax}.Delay(attempt)
}

// Platforms reports the health of every platform.
func (d *Dispatcher) Platforms() map[bot.Platform]bot.PlatformHealth {
	out := make(map[bot.Platform]bot.PlatformHealth, len(d.channels))
	for _, c := range d.channels {
		out[c.Platform] = c.health()
	}
	return out
}

func (c *channel) health() bot.PlatformHealth {
	h := bot.PlatformHealth{State: bot.PlatformReady}
	if c.State != nil {
		h.State = c.State()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		h.PausedSince = c.pausedAt
		if h.State == bot.PlatformReady {
			h.State = bot.PlatformUnavailable
		}
	}
	h.Unrecorded = c.heldLocked()
	if c.storeErr != nil {
		h.StoreError = c.storeErr.Error()
	}
	return h
}

// report logs fan-out progress and refreshes the backlog and platform
// metrics, from one backlog query per tick.
func (d *Dispatcher) report(ctx context.Context) {
	lastPending := make(map[bot.Platform]int, len(d.channels))
	for {
		for _, c := range d.channels {
			h := c.health()
			d.metrics.Platform(c.Platform, h)
			if h.State != c.lastState {
				if c.lastState != "" || h.State != bot.PlatformReady {
					d.log.Info("platform state", "platform", c.Platform, "state", h.State)
				}
				c.lastState = h.State
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.clock.After(d.progressEvery):
		}
		backlog, err := d.store.Backlog(ctx)
		if err != nil {
			continue
		}
		now := d.now()
		for _, c := range d.channels {
			b := backlog[c.Platform]
			d.metrics.Backlog(c.Platform, b, now)
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
func (d *Dispatcher) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	return d.store.Backlog(ctx)
}
