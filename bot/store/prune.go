package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const (
	// pruneEvery spaces outbox pruning out once it has caught up.
	pruneEvery = 5 * time.Minute
	// pruneBatch bounds the rows deleted per table in one round's
	// transaction, so pruning a large backlog never holds locks for long;
	// while batches come back full, the next round prunes again.
	pruneBatch = 1000
)

// pruneCadence decides which rounds prune (the outbox; rounds, reports and
// spans): the first, then one every pruneEvery, and every round while the
// last pruning came back full.
// Its zero value is ready; it is safe for concurrent use.
type pruneCadence struct {
	mu    sync.Mutex
	last  time.Time // round time of the last committed pruning
	again bool      // the last pruning hit pruneBatch
}

// due says whether the round at now should prune. A clock that went back
// (now before the last pruning) prunes rather than wait.
func (c *pruneCadence) due(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.again || c.last.IsZero() || now.Before(c.last) || now.Sub(c.last) >= pruneEvery
}

// pruned records a committed pruning at now; full says a batch was full.
func (c *pruneCadence) pruned(now time.Time, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.again = now, full
}

// pruneOutbox deletes up to pruneBatch finished outbox rows and as many
// changes left without rows, all older than before. It keeps the sent rows of
// an incident that is open or still has pending rows: a recovery replies to
// them. It reports whether a batch was full.
func pruneOutbox(ctx context.Context, tx q, before time.Time) (bool, error) {
	rows, err := tx.affected(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT o.id FROM outbox o JOIN changes c ON c.id = o.change_id
		WHERE o.status <> 'pending' AND o.finished_at < ?
		AND NOT (o.status = 'sent' AND o.message_id <> '' AND c.incident_id IS NOT NULL AND c.incident_id IN (
			SELECT id FROM incidents WHERE end_at IS NULL
			UNION SELECT pc.incident_id FROM outbox p JOIN changes pc ON pc.id = p.change_id
				WHERE p.status = 'pending' AND pc.incident_id IS NOT NULL))
		LIMIT ?)`, nanos(before), pruneBatch)
	if err != nil {
		return false, fmt.Errorf("prune outbox rows: %w", err)
	}
	changes, err := tx.affected(ctx, `DELETE FROM changes WHERE id IN (
		SELECT c.id FROM changes c WHERE c.at < ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.change_id = c.id)
		LIMIT ?)`, nanos(before), pruneBatch)
	if err != nil {
		return false, fmt.Errorf("prune changes: %w", err)
	}
	return rows == pruneBatch || changes == pruneBatch, nil
}

// trim deletes what is past its retention as of now: raw rounds and people's
// reports after DB_ROUND_RETENTION (a batch of reports), spans after
// spanRetention. It runs on the pruning cadence, not every round: an old row
// left a few minutes longer changes nothing anyone sees. It reports whether
// the batch of reports was full.
func (s *Store) trim(ctx context.Context, tx q, now time.Time) (bool, error) {
	if _, err := tx.exec(ctx, `DELETE FROM spans WHERE to_at < ?`, nanos(now.Add(-spanRetention))); err != nil {
		return false, fmt.Errorf("prune spans: %w", err)
	}
	if s.retention <= 0 {
		return false, nil
	}
	before := now.Add(-s.retention)
	if _, err := tx.exec(ctx, `DELETE FROM rounds WHERE at < ?`, nanos(before)); err != nil {
		return false, fmt.Errorf("prune rounds: %w", err)
	}
	return pruneReports(ctx, tx, before)
}

// pruneReports deletes up to pruneBatch reports made before before: people's
// reports are kept as long as the rounds (DB_ROUND_RETENTION) and pruned with
// them, a batch at a time, so a backlog goes over the next rounds. It
// reports whether the batch was full.
func pruneReports(ctx context.Context, tx q, before time.Time) (bool, error) {
	n, err := tx.affected(ctx, `DELETE FROM reports WHERE id IN (
		SELECT id FROM reports WHERE at < ? LIMIT ?)`, nanos(before), pruneBatch)
	if err != nil {
		return false, fmt.Errorf("prune reports: %w", err)
	}
	return n == pruneBatch, nil
}
