package delivery

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// maxClaim bounds the chats one Due claims.
const maxClaim = 1024

// claimBatch is how many chats one Due claims: half a second of the
// platform's rate, and at least four per worker, at most maxClaim. Finding
// the due chats reads every pending row, so a fan-out costs that read once
// per batch: three replicas at 1000 messages a second sent at 0.90-0.92 of
// the rate with batches of a quarter of a second, 0.99 with half a second
// or a second. A claim is not free either: a chat claimed and not yet sent
// waits for its claim to expire (60 s) if the process dies, and rows read
// ahead may grow stale (a chat unsubscribed meanwhile gets its alert); with
// the batch claimed ahead that is about a second of sends, or eight chats
// per worker.
func (c *lane) claimBatch() int {
	n := 4 * c.Policy.Workers
	if c.Policy.Rate > 0 {
		n = max(n, min(int(c.Policy.Rate/2), maxClaim))
	}
	return n
}

// startDue starts a worker for each due chat that is not busy and returns
// how many it started. While a full batch is started, the next one is
// claimed ahead, so the loop need not wait for the database between two.
func (d *Dispatcher) startDue(ctx, sendCtx context.Context, c *lane, sem chan struct{}, inflight *sync.WaitGroup) (int, error) {
	limit := c.claimBatch()
	rows, err := d.due(ctx, c, limit)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	d.storeOK(c)
	chats := groupByChat(rows)
	if len(chats) > 0 {
		// Now, not once the batch is started (a second of sends): the
		// process lifts its memory budget for the fan-out, and under the
		// idle one the collector ran all the while.
		d.setWorking(c, true)
	}
	started := 0
	for i, chat := range chats {
		if _, paused := c.pauseState(); paused {
			break
		}
		if i == 0 && len(chats) >= limit {
			d.claimAhead(ctx, c, limit, chats)
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
				<-sem
				c.mu.Lock()
				delete(c.busy, id)
				c.signalLocked() // with the delete: never idle in between
				c.mu.Unlock()
				inflight.Done()
			}()
			d.deliver(ctx, sendCtx, c, chat)
		}()
	}
	return started, nil
}

// ahead is a Due made ahead, while the chats of the previous one are being
// started.
type ahead struct {
	done chan struct{}
	rows []bot.Delivery
	err  error
}

// due is the next batch of due chats: the one claimed ahead, if any, else
// one claimed now. The wait for the one ahead is bounded by the store call's
// own deadline.
func (d *Dispatcher) due(ctx context.Context, c *lane, limit int) ([]bot.Delivery, error) {
	if a := c.next; a != nil {
		c.next = nil
		<-a.done
		return a.rows, a.err
	}
	return d.store.Due(ctx, c.Platform, d.now(), limit, c.busySet(nil))
}

// claimAhead claims the next batch in the background while queued, the
// batch about to be started, is sent. queued is left out with the busy
// chats: every chat this loop holds is in flight, waiting for its outcome
// to be written, or in queued, so the batch ahead never holds one of them
// (where claims exist, this replica's own would not keep it out). It is used
// only by the next startDue, with no other send in between: anything else
// (a pause and its trial sends, a store episode, the stop) drops it first
// (dropAhead), since a trial may send to a chat of it.
func (d *Dispatcher) claimAhead(ctx context.Context, c *lane, limit int, queued [][]bot.Delivery) {
	extra := make(map[string]bool, len(queued))
	for _, chat := range queued {
		extra[chat[0].Chat.ID] = true
	}
	busy, now := c.busySet(extra), d.now()
	a := &ahead{done: make(chan struct{})}
	c.next = a
	c.mu.Lock()
	c.fetching = true
	c.mu.Unlock()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				d.metrics.RecoveredPanic("delivery")
				d.log.Error("panic while claiming due chats", "platform", c.Platform, "err", fmt.Sprint(p), "stack", string(debug.Stack()))
				a.rows, a.err = nil, fmt.Errorf("claim due chats: panic: %v", p)
			}
			c.mu.Lock()
			c.fetching = false
			c.mu.Unlock()
			close(a.done)
		}()
		a.rows, a.err = d.store.Due(ctx, c.Platform, now, limit, busy)
	}()
}

// dropAhead waits for the batch claimed ahead, if any, and lets it go: the
// loop is about to do something else (a pause, a trial send, a store
// episode, the stop), after which the batch may be stale. Its chats are not
// busy here, and where claims exist this replica's own claims never keep it
// from taking them again.
func (c *lane) dropAhead() {
	if a := c.next; a != nil {
		c.next = nil
		<-a.done
	}
}

// trial sends to one due chat of a paused platform, a different chat each
// time within a pause so that one broken chat cannot keep the platform
// paused. It reports whether there was a row to try.
func (d *Dispatcher) trial(ctx, sendCtx context.Context, c *lane) bool {
	c.mu.Lock()
	tried := c.tried
	c.mu.Unlock()
	rows, err := d.store.Due(ctx, c.Platform, d.now(), 1, c.busySet(tried))
	if err != nil {
		if ctx.Err() == nil {
			d.storeFailed(c, err)
		}
		return true
	}
	d.storeOK(c)
	if len(rows) == 0 {
		c.mu.Lock()
		again := len(c.tried) > 0
		c.tried = map[string]bool{}
		c.mu.Unlock()
		return again // every due chat was tried in this pause: start over
	}
	chat := groupByChat(rows)[0]
	c.mu.Lock()
	c.tried[chat[0].Chat.ID] = true
	c.trials++
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
func (d *Dispatcher) deliver(ctx, sendCtx context.Context, c *lane, rows []bot.Delivery) {
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
		d.record(ctx, c, chat.ID, bot.Outcome{IDs: stale, Status: bot.StatusExpired, Reason: "undelivered for longer than " + c.Policy.MaxAge.String(), At: now})
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
		var outs []bot.Outcome
		if len(live) > 1 {
			outs = append(outs, bot.Outcome{IDs: idsOf(live[:len(live)-1]), Status: bot.StatusCoalesced, MessageID: id,
				Reason: fmt.Sprintf("coalesced into outbox row %d", last.ID), At: sentAt})
		}
		outs = append(outs, bot.Outcome{IDs: []int64{last.ID}, Status: bot.StatusSent, MessageID: id, At: sentAt})
		d.record(ctx, c, chat.ID, outs...)
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
		d.record(ctx, c, chat.ID, bot.Outcome{IDs: idsOf(live), Status: bot.StatusGone, Reason: reason, At: sentAt})
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
			d.record(ctx, c, chat.ID, bot.Outcome{IDs: idsOf(live), Status: bot.StatusExpired,
				Reason: fmt.Sprintf("gave up after %d attempts: %s", attempts, reason), At: sentAt})
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
func (d *Dispatcher) answered(c *lane, now time.Time) {
	c.mu.Lock()
	clear(c.failChats)
	wasPaused, since, trials := c.paused, c.pausedAt, c.trials
	c.paused, c.trials = false, 0
	c.tried = map[string]bool{}
	c.mu.Unlock()
	if wasPaused {
		d.log.Info("platform answers again; delivery resumes", "platform", c.Platform,
			"paused_for", now.Sub(since).Round(time.Millisecond), "trials", trials)
		c.signal()
	}
}

// pauseState reports whether the platform is paused and when the next trial send is due.
func (c *lane) pauseState() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trialAt, c.paused
}

func idsOf(rows []bot.Delivery) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}
