package delivery

import (
	"context"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Platforms reports the health of every platform.
func (d *Dispatcher) Platforms() map[bot.Platform]bot.PlatformHealth {
	out := make(map[bot.Platform]bot.PlatformHealth, len(d.lanes))
	for _, c := range d.lanes {
		out[c.Platform] = c.health()
	}
	return out
}

func (c *lane) health() bot.PlatformHealth {
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
	lastPending := make(map[bot.Platform]int, len(d.lanes))
	for {
		for _, c := range d.lanes {
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
		backlog, err := d.Backlog(ctx)
		if err != nil {
			continue
		}
		now := d.now()
		for _, c := range d.lanes {
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
func (c *lane) takeSent(now time.Time) int {
	c.Gate.Forget(now, time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = 0
	return sent
}

// Backlog reports the undelivered rows per platform: BacklogSource's
// reading when it is set, the store's otherwise.
func (d *Dispatcher) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	if d.BacklogSource != nil {
		return d.BacklogSource.Backlog(ctx)
	}
	return d.store.Backlog(ctx)
}

// Settled reports whether every platform loop sleeps on its clock with
// nothing to do before its timer: no chat in flight, no claim being read
// ahead, no wake-up on its way.
// Whoever drives a manual clock (the in-process scenarios) moves it only
// then, so the clock never runs ahead of a loop or of a worker not yet run.
func (d *Dispatcher) Settled() bool {
	now := d.now()
	for _, c := range d.lanes {
		c.mu.Lock()
		rest := len(c.busy) == 0 && !c.fetching && c.asleepUntil.After(now)
		c.mu.Unlock()
		if !rest {
			return false
		}
	}
	return true
}
