package delivery

import (
	"context"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

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

// record writes an outcome, or keeps it in memory when the store refuses:
// the chat is then left alone until recordHeld gets it written.
func (d *Dispatcher) record(ctx context.Context, c *lane, chat string, o outcome) {
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

func (d *Dispatcher) reschedule(ctx context.Context, c *lane, r bot.Delivery, next time.Time, attempts int, reason string) {
	d.record(ctx, c, r.Chat.ID, outcome{ids: []int64{r.ID}, next: next, attempts: attempts, reason: reason})
	c.mu.Lock()
	c.retries = append(c.retries, next)
	c.mu.Unlock()
}

// recordHeld writes the outcomes held in memory; it reports whether none is
// left. It does nothing while a store episode's backoff runs.
func (d *Dispatcher) recordHeld(ctx context.Context, c *lane) bool {
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

func (c *lane) heldCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heldLocked()
}

// heldLocked counts the outcomes held in memory; c.mu must be held.
func (c *lane) heldLocked() int {
	n := 0
	for _, outs := range c.unrecorded {
		n += len(outs)
	}
	return n
}

// storeFailed starts or extends a store episode: delivery of this platform
// backs off (1 s doubling to 30 s) and the episode is logged once.
func (d *Dispatcher) storeFailed(c *lane, err error) {
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
func (d *Dispatcher) storeOK(c *lane) {
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
func (c *lane) storeBlocked(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.storeErr == nil {
		return 0
	}
	return c.storeWait.Sub(now)
}
