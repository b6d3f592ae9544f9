package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ChangeCount is how many changes are kept (tests only).
func (s *Store) ChangeCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count changes: %w", err)
	}
	return n, nil
}

// IncidentCount is how many incidents are kept (tests only).
func (s *Store) IncidentCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count incidents: %w", err)
	}
	return n, nil
}

// SchemaVersion returns the highest applied migration (tests only).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

// RoundCount is how many raw rounds are kept (tests only).
func (s *Store) RoundCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM rounds`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rounds: %w", err)
	}
	return n, nil
}

// DueRowsQuery is the query Due reads its rows with, for the pending rows
// that rows picks (tests only: a test reads its plan).
var DueRowsQuery = dueRowsQuery
