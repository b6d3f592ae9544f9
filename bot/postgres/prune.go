package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// pruneOutbox deletes up to sqlstore.PruneBatch finished outbox rows and as many
// changes left without rows, all older than before. It keeps the sent rows of
// an incident that is open or still has pending rows: a recovery replies to
// them. It reports whether a batch was full.
func pruneOutbox(ctx context.Context, tx pgx.Tx, before time.Time) (bool, error) {
	rows, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT o.id FROM outbox o JOIN changes c ON c.id = o.change_id
		WHERE o.status <> 'pending' AND o.finished_at < $1
		AND NOT (o.status = 'sent' AND o.message_id <> '' AND c.incident_id IS NOT NULL AND c.incident_id IN (
			SELECT id FROM incidents WHERE end_at IS NULL
			UNION SELECT pc.incident_id FROM outbox p JOIN changes pc ON pc.id = p.change_id
				WHERE p.status = 'pending' AND pc.incident_id IS NOT NULL))
		LIMIT $2)`, sqlstore.Nanos(before), sqlstore.PruneBatch)
	if err != nil {
		return false, fmt.Errorf("prune outbox rows: %w", err)
	}
	changes, err := tx.Exec(ctx, `DELETE FROM changes WHERE id IN (
		SELECT c.id FROM changes c WHERE c.at < $1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.change_id = c.id)
		LIMIT $2)`, sqlstore.Nanos(before), sqlstore.PruneBatch)
	if err != nil {
		return false, fmt.Errorf("prune changes: %w", err)
	}
	return rows.RowsAffected() == sqlstore.PruneBatch || changes.RowsAffected() == sqlstore.PruneBatch, nil
}
