// Package postgres is the bot's Store on PostgreSQL (jackc/pgx/v5), for
// several replicas sharing one database: versioned migrations embedded in the
// binary, a leader lease whose epoch fences the leader's writes, and outbox
// rows claimed by the replica sending them. Its SQL is the SQLite store's,
// ported: the same rules for fan-out, reminders, mutes, flapping and pruning.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ bot.Store        = (*Store)(nil)
	_ bot.VantageStore = (*Store)(nil)
	_ bot.Lease        = (*Store)(nil)
	_ bot.FixedStore   = (*Store)(nil)
)

// migrationLock is the advisory lock key that serialises migrations across
// replicas starting at once (any constant unlikely to clash: "xstatusb").
const migrationLock int64 = 0x7873746174757362

// maxConns bounds the pool: the bot's transactions are short and few.
const maxConns = 4

// Store implements bot.Store, bot.VantageStore and bot.Lease.
type Store struct {
	pool            *pgxpool.Pool
	retention       time.Duration
	outboxRetention time.Duration
	spanGap         time.Duration
	holder          string
	claimTTL        time.Duration

	// term is the lease term this replica holds, nil when it holds none:
	// the epoch that leader writes are fenced with.
	term atomic.Pointer[bot.Term]

	pruning sqlstore.PruneCadence
}

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long raw round results are kept (default 7 days);
// hourly uptime counts are kept for good.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithOutboxRetention sets how long finished outbox rows and changes left
// without rows are kept (default 30 days; 0 keeps them for good). Pending
// rows and incidents are never pruned, nor the sent rows an unfinished
// incident still replies to.
func WithOutboxRetention(d time.Duration) Option { return func(s *Store) { s.outboxRetention = d } }

// WithHolder sets this replica's name in the leader lease and in the claims
// of the outbox rows it sends (default: host name, process id and a random
// suffix, unique to this Store).
func WithHolder(id string) Option { return func(s *Store) { s.holder = id } }

// WithClaimTTL sets how long an outbox row claimed by Due stays reserved for
// this replica (default 60 s): a replica that dies mid-send blocks its chats
// that long at most, unless a new leader (a newer epoch) takes them first.
func WithClaimTTL(d time.Duration) Option { return func(s *Store) { s.claimTTL = d } }

// Open connects to the database at url (postgres://…) and applies pending
// migrations. Errors never carry the URL, which may hold a password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{retention: 7 * 24 * time.Hour, outboxRetention: 30 * 24 * time.Hour, spanGap: 90 * time.Second, claimTTL: time.Minute}
	for _, o := range opts {
		o(s)
	}
	if s.holder == "" {
		id, err := defaultHolder()
		if err != nil {
			return nil, err
		}
		s.holder = id
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password it recognises, but a malformed URL may
		// hide it where pgx does not look: say only that it is malformed.
		return nil, errors.New("parse DATABASE_URL: not a valid postgres:// URL or connection string")
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", where(cfg), err)
	}
	s.pool = pool
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate database %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names a database for errors: host, port and name, no credentials.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s on %s:%d", c.Database, c.Host, c.Port)
}

func defaultHolder() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "replica"
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a lease holder id: %w", err)
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)), nil
}

// Close closes the pool. It does not release the lease: Release does.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Holder is this replica's name in the lease and in claims.
func (s *Store) Holder() string { return s.holder }

// migrate applies each pending migration in its own transaction. Replicas
// that start at the same moment queue on a transaction-scoped advisory lock
// (released at commit, so pgxpool may recycle the connection freely); the
// one that comes second finds the version recorded and skips it.
func (s *Store) migrate(ctx context.Context) error {
	list, err := sqlstore.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range list {
		err = s.tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil || applied {
				return err
			}
			if _, err := tx.Exec(ctx, m.Body); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		// Rollback's own error matters less than fn's; a broken connection
		// is discarded by the pool either way.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
