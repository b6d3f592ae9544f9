// Package sqlite is the bot's Store on an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo), with versioned migrations embedded in
// the binary and applied in transactions at open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ bot.Store = (*Store)(nil)

// Store implements bot.Store.
type Store struct {
	db              *sql.DB
	retention       time.Duration
	outboxRetention time.Duration
	busyTimeout     time.Duration
	spanGap         time.Duration

	pruning sqlstore.PruneCadence
}

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long raw round results are kept (default 7 days);
// hourly uptime counts are kept for good.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithOutboxRetention sets how long finished outbox rows (sent, gone,
// expired, coalesced) and changes left without rows are kept (default 30
// days; 0 keeps them for good). Pending rows and incidents are never pruned,
// nor the sent rows an unfinished incident still replies to.
func WithOutboxRetention(d time.Duration) Option { return func(s *Store) { s.outboxRetention = d } }

// WithBusyTimeout sets how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(s *Store) { s.busyTimeout = d } }

// Open opens (creating it and its folder if needed) the database at path and
// applies pending migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	s := &Store{retention: 7 * 24 * time.Hour, outboxRetention: 30 * 24 * time.Hour, busyTimeout: 5 * time.Second, spanGap: 90 * time.Second}
	for _, o := range opts {
		o(s)
	}
	q := url.Values{}
	busy := fmt.Sprintf("busy_timeout(%d)", s.busyTimeout.Milliseconds())
	for _, p := range []string{"journal_mode(WAL)", busy, "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// Write transactions take the write lock at BEGIN, where busy_timeout
	// applies. A deferred one that reads first fails at once with SQLITE_BUSY
	// when another connection (a second store on the file) wrote meanwhile.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this rules out SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	s.db = db
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	list, err := sqlstore.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range list {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.Body); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
