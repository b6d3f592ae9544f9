package sqlstore

import (
	"sync"
	"time"
)

const (
	// PruneEvery spaces outbox pruning out once it has caught up.
	PruneEvery = 5 * time.Minute
	// PruneBatch bounds the rows deleted per table in one round's
	// transaction, so pruning a large backlog never holds locks for long;
	// while batches come back full, the next round prunes again.
	PruneBatch = 1000
)

// PruneCadence decides which rounds prune the outbox: the first, then one
// every PruneEvery, and every round while the last pruning came back full.
// Its zero value is ready; it is safe for concurrent use.
type PruneCadence struct {
	mu    sync.Mutex
	last  time.Time // round time of the last committed pruning
	again bool      // the last pruning hit PruneBatch
}

// Due says whether the round at now should prune. A clock that went back
// (now before the last pruning) prunes rather than wait.
func (c *PruneCadence) Due(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.again || c.last.IsZero() || now.Before(c.last) || now.Sub(c.last) >= PruneEvery
}

// Pruned records a committed pruning at now; full says a batch was full.
func (c *PruneCadence) Pruned(now time.Time, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.again = now, full
}
