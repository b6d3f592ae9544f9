package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// record writes a chat's outcomes, or keeps them in memory when the store
// refuses: the chat is then left alone until recordHeld gets them written.
// While the loops run, the recorder writes them with other workers'
// outcomes in one transaction; record returns once they are written, so
// the chat stays busy (and its worker's slot taken) until then.
func (d *Dispatcher) record(ctx context.Context, c *lane, chat string, outs ...bot.Outcome) {
	c.mu.Lock()
	held := len(c.unrecorded[chat]) > 0
	if held {
		c.unrecorded[chat] = append(c.unrecorded[chat], outs...)
	}
	c.mu.Unlock()
	if held {
		return // keep the order of a chat's outcomes
	}
	var err error
	if r := d.rec.Load(); r != nil {
		err = r.submit(outs)
	} else {
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err = writeOutcomes(rec, d.store, outs, d.log, d.metrics)
		cancel()
	}
	if err == nil || d.claimedElsewhere(c, chat, err) {
		return
	}
	c.mu.Lock()
	c.unrecorded[chat] = append(c.unrecorded[chat], outs...)
	c.mu.Unlock()
	d.storeFailed(c, err)
}

// claimedElsewhere reports whether err is the store refusing some outcomes because
// another replica claimed their rows (the others were written): those are
// dropped, since that replica sends them now; a message this replica sent
// meanwhile may arrive twice, so it is logged.
func (d *Dispatcher) claimedElsewhere(c *lane, chat string, err error) bool {
	var ref *bot.RefusedError
	if !errors.As(err, &ref) {
		return false
	}
	d.log.Error("outcomes refused: another replica has claimed these rows and sends them; a message sent meanwhile may arrive twice",
		"platform", c.Platform, "chat", chat, "count", len(ref.Refused), "err", ref.Err)
	return true
}

func (d *Dispatcher) reschedule(ctx context.Context, c *lane, r bot.Delivery, next time.Time, attempts int, reason string) {
	d.record(ctx, c, r.Chat.ID, bot.Outcome{IDs: []int64{r.ID}, Next: next, Attempts: attempts, Reason: reason})
	c.mu.Lock()
	c.retries = append(c.retries, next)
	c.mu.Unlock()
}

// recordHeld writes the outcomes held in memory, all in one transaction
// (each chat's in order); it reports whether none is left. It does nothing
// while a store episode's backoff runs.
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
	c.unrecorded = map[string][]bot.Outcome{}
	c.mu.Unlock()
	var outs []bot.Outcome
	for _, o := range held {
		outs = append(outs, o...)
	}
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := writeOutcomes(rec, d.store, outs, d.log, d.metrics); err != nil && !d.claimedElsewhere(c, "", err) {
		c.mu.Lock()
		for chat, o := range held {
			c.unrecorded[chat] = append(o, c.unrecorded[chat]...)
		}
		c.mu.Unlock()
		d.storeFailed(c, err)
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
