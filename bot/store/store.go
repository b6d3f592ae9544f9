// Package store is the bot's one SQL store over database/sql, for SQLite
// (one process, one file) and PostgreSQL (several replicas sharing one
// database under a leader lease). Every rule — who hears of which change,
// how the outbox is drained and pruned, subscriptions, settings, history —
// is written once, in the files named after it, with ? placeholders; the
// dialect files (dialect_sqlite.go, dialect_postgres.go) hold only what
// differs: opening, placeholders, locking, claims, the lease and its fence.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

var (
	_ bot.Store          = (*Store)(nil)
	_ bot.VantageStore   = (*Store)(nil)
	_ bot.ReportStore    = (*Store)(nil)
	_ command.FixedStore = (*Store)(nil)
)

// Store implements bot.Store, bot.VantageStore and command.FixedStore.
type Store struct {
	db *sql.DB
	d  dialect
	options

	pruning  pruneCadence // the outbox
	trimming pruneCadence // rounds, reports and spans
	// stmts keeps prepared statements where the dialect wants them (SQLite);
	// nil elsewhere.
	stmts *stmtCache
	// hist keeps the spans and incidents read last, for a store alone on
	// its file (SQLite); nil where replicas share the database.
	hist *historyCache
}

// options are what Option sets; each backend reads the ones it knows.
type options struct {
	retention       time.Duration
	outboxRetention time.Duration
	spanGap         time.Duration
	busyTimeout     time.Duration // SQLite
	holder          string        // PostgreSQL
	claimTTL        time.Duration // PostgreSQL
	leaseTTL        time.Duration // PostgreSQL
}

func defaults() options {
	return options{
		retention: 7 * 24 * time.Hour, outboxRetention: 30 * 24 * time.Hour, spanGap: 90 * time.Second,
		busyTimeout: 5 * time.Second, claimTTL: time.Minute, leaseTTL: 9 * time.Second,
	}
}

// Option configures a Store.
type Option func(*options)

// WithRetention sets how long raw round results are kept (default 7 days);
// hourly uptime counts are kept for good.
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithOutboxRetention sets how long finished outbox rows (sent, gone,
// expired, coalesced) and changes left without rows are kept (default 30
// days; 0 keeps them for good). Pending rows and incidents are never pruned,
// nor the sent rows an unfinished incident still replies to.
func WithOutboxRetention(d time.Duration) Option { return func(o *options) { o.outboxRetention = d } }

// WithSpanGap sets how long after the previous round a round may come and
// still continue its span (default 90 s). A longer silence is a gap: time the
// bot was not running, shown as "no data". Give it a few schedule intervals.
func WithSpanGap(d time.Duration) Option { return func(o *options) { o.spanGap = d } }

// dialect is what differs between the backends. The shared code writes
// its queries with ? placeholders and asks the dialect for the rest.
type dialect interface {
	// rebind turns a query's ? placeholders into the driver's.
	rebind(query string) string
	// lists says the driver takes a slice as one parameter (= ANY(?)).
	lists() bool
	// callTimeout bounds one store call; 0 leaves the caller's context alone.
	callTimeout() time.Duration
	// readTx is the transaction that Load's reads share; nil: none.
	readTx() *sql.TxOptions
	// leaderTx runs fn as a write only the leader may make (fenced where
	// replicas share the database).
	leaderTx(ctx context.Context, s *Store, fn func(q) error) error
	// due finds, claims where claims exist, and reads the due rows.
	due(ctx context.Context, s *Store, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error)
	// newestFirst is what a transaction runs before, and after, the queries
	// that walk the changes newest first (newestHeard), so that each stops
	// at its first hit; "" where nothing is needed.
	newestFirst() (before, after string)
	// analyzeOutbox is what brings the planner's statistics of the outbox
	// up to date within a round that queued analyzeAfter rows or more;
	// nothing where the planner keeps none.
	analyzeOutbox() []string
	// claim is the outbox columns and conditions of claims by replicas.
	claim() claimSQL
	// claimsLost finds which of ids are still pending under another
	// replica's claim (a fenced update left them), with that replica's name.
	claimsLost(ctx context.Context, tx q, ids []int64) (map[int64]string, error)
	// refuse is the error for outcomes refused because of the claims lost
	// (wrapping bot.ErrDeposed); it tells the replica it was deposed.
	refuse(lost map[int64]string) error
	// recordRegion is the upsert of a region's latest round, its args
	// region, at, verdict, causes.
	recordRegion() string
	// regions is the query of the regions heard from lately, with its args.
	regions(now time.Time, fresh time.Duration) (string, []any)
	// migrations are the dialect's schema steps and their bookkeeping.
	migrations() migrationSQL
	close() error
}

// claimSQL is how outbox rows carry claims: all empty without them.
type claimSQL struct {
	// unclaim is a SET clause (", …") that hands a row back.
	unclaim string
	// column reads the claim's holder ('' where there are none).
	column string
	// fence is a condition (" AND …") that an update of a claimed row
	// holds only for its claim's holder, with its args.
	fence     string
	fenceArgs []any
	// forUpdate locks a row read to be updated (" FOR UPDATE").
	forUpdate string
}

// Close closes the database. It does not release a lease: Release does.
func (s *Store) Close() error {
	s.stmts.close()
	err := errors.Join(s.db.Close(), s.d.close())
	if err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// bound gives a store call a deadline of its own when the dialect has one
// and the caller's is later.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := s.d.callTimeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// querier is *sql.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q runs queries written with ? placeholders on a database or transaction,
// through the store's prepared statements where it keeps them.
type q struct {
	x     querier
	d     dialect
	stmts *stmtCache // nil: every query is prepared as it runs
	tx    *sql.Tx    // x, when it is a transaction
}

// prepared is the statement kept for query, bound to the transaction if q
// is one; nil: run the query as written.
func (q q) prepared(ctx context.Context, query string) *sql.Stmt {
	st := q.stmts.get(ctx, query, q.tx != nil)
	if st != nil && q.tx != nil {
		st = q.tx.StmtContext(ctx, st) // the same prepared statement: one connection
	}
	return st
}

func (q q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = q.d.rebind(query)
	if st := q.prepared(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.x.ExecContext(ctx, query, args...)
}

func (q q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.d.rebind(query)
	if st := q.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.x.QueryContext(ctx, query, args...)
}

func (q q) row(ctx context.Context, query string, args ...any) *sql.Row {
	query = q.d.rebind(query)
	if st := q.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.x.QueryRowContext(ctx, query, args...)
}

// affected runs an update and counts its rows.
func (q q) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// q is the store's database, outside any transaction.
func (s *Store) q() q { return q{x: s.db, d: s.d, stmts: s.stmts} }

// tx runs fn in a transaction on db, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(q) error) error {
	return s.runTx(ctx, nil, fn)
}

func (s *Store) runTx(ctx context.Context, opts *sql.TxOptions, fn func(q) error) error {
	// Statements first met inside are prepared once the connection is free.
	defer s.stmts.prepareWanted(ctx)
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(q{x: tx, d: s.d, stmts: s.stmts, tx: tx}); err != nil {
		// A transaction its context ended was rolled back already.
		if rb := tx.Rollback(); rb != nil && !errors.Is(rb, sql.ErrTxDone) {
			err = errors.Join(err, rb)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// anyOf is the condition that col is one of vals (at least one), and its
// args: one list where the driver takes lists, else one ? per value.
func anyOf[T any](d dialect, col string, vals []T) (string, []any) {
	if d.lists() {
		return col + ` = ANY(?)`, []any{vals}
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return col + ` IN (?` + strings.Repeat(",?", len(vals)-1) + `)`, args
}
