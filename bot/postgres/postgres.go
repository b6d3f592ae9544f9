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
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ bot.Store          = (*Store)(nil)
	_ bot.VantageStore   = (*Store)(nil)
	_ bot.Lease          = (*Store)(nil)
	_ command.FixedStore = (*Store)(nil)
)

// migrationLock is the advisory lock key that serialises migrations across
// replicas starting at once (any constant unlikely to clash: "xstatusb").
const migrationLock int64 = 0x7873746174757362

// maxConns bounds the work pool: the bot's transactions are short and few.
// The lease has a pool of its own (leaseConns), so no work can starve it.
const (
	maxConns   = 4
	leaseConns = 2
)

// Server-side bounds, set on every connection (RuntimeParams), so that no
// statement and no transaction left open by a frozen or dead replica holds
// locks for long: the server ends them whatever the client is doing.
const (
	// statementTimeout bounds one statement of the work pool.
	statementTimeout = 10 * time.Second
	// callTimeout bounds one store call (waiting for a connection included)
	// when the caller's context has no earlier deadline.
	callTimeout = 15 * time.Second
)

// Store implements bot.Store, bot.VantageStore and bot.Lease.
type Store struct {
	pool *pgxpool.Pool
	// leasePool holds the lease's connections only: a renewal never waits
	// for a connection busy with a fan-out.
	leasePool       *pgxpool.Pool
	leaseTTL        time.Duration
	retention       time.Duration
	outboxRetention time.Duration
	spanGap         time.Duration
	holder          string
	claimTTL        time.Duration

	// term is the lease term this replica holds, nil when it holds none:
	// the epoch that leader writes are fenced with.
	term atomic.Pointer[bot.Term]

	pruning sqlstore.PruneCadence

	// onDeposed, if set, is told when a leader write is refused by the fence.
	onDeposed atomic.Pointer[func(error)]
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

// WithLeaseTTL sets the LEADER_LEASE_TTL the replicas use (default 9 s),
// from which the fence's margin and the server-side timeouts follow (see
// fenceMargin and idleInTx).
func WithLeaseTTL(d time.Duration) Option { return func(s *Store) { s.leaseTTL = d } }

// Open connects to the database at url (postgres://…) and applies pending
// migrations. Errors never carry the URL, which may hold a password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{retention: 7 * 24 * time.Hour, outboxRetention: 30 * 24 * time.Hour, spanGap: 90 * time.Second, claimTTL: time.Minute, leaseTTL: 9 * time.Second}
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
	if s.leaseTTL < 3*time.Second {
		return nil, fmt.Errorf("lease TTL %v: at least 3s", s.leaseTTL)
	}
	leaseCfg := cfg.Copy()
	cfg.MaxConns = maxConns
	runtimeParams(cfg, statementTimeout, s.idleInTx())
	leaseCfg.MaxConns = leaseConns
	runtimeParams(leaseCfg, s.leaseTTL/3, s.idleInTx())
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", where(cfg), err)
	}
	leasePool, err := pgxpool.NewWithConfig(ctx, leaseCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", where(cfg), err)
	}
	s.pool, s.leasePool = pool, leasePool
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", where(cfg), err)
	}
	return s, nil
}

// runtimeParams sets the server-side timeouts of every connection of a pool.
func runtimeParams(cfg *pgxpool.Config, statement, idle time.Duration) {
	p := cfg.ConnConfig.RuntimeParams
	p["statement_timeout"] = fmt.Sprint(statement.Milliseconds())
	p["idle_in_transaction_session_timeout"] = fmt.Sprint(idle.Milliseconds())
}

// idleInTx is idle_in_transaction_session_timeout: a transaction whose
// client stops talking (a frozen process) is ended after TTL/6, well within
// the fence's margin of TTL/3, so a leader write checked by the fence either
// commits or is rolled back before the lease can pass to another replica.
func (s *Store) idleInTx() time.Duration { return s.leaseTTL / 6 }

// fenceMargin is how long the lease must still run, on the database's
// clock, when a leader write commits: TTL/3, the same third of the TTL the
// leader keeps as its local safety margin (leader.Leader).
func (s *Store) fenceMargin() time.Duration { return s.leaseTTL / 3 }

// bound gives a store call a deadline of its own when the caller's is later.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// OnDeposed sets f to be told, at once, when a leader write is refused by
// the fence (bot.ErrDeposed): the replica then steps down without waiting
// for its next renewal.
func (s *Store) OnDeposed(f func(error)) { s.onDeposed.Store(&f) }

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

// Close closes the pools. It does not release the lease: Release does.
func (s *Store) Close() error {
	s.pool.Close()
	s.leasePool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
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
