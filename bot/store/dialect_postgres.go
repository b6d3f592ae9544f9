//go:build !nopostgres

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/xstatusbot/xstatusbot/bot"
)

// PostgreSQL: several replicas share one database (lib/pq through
// database/sql: pgx made the binary 4.2 MB larger, lib/pq 0.6 MB, and a
// binary's size is most of the bot's resident memory). Only the leader
// writes rounds and claims outbox rows; its writes are fenced by the
// lease's epoch (lease_postgres.go). Expiries are judged on the database's
// clock, never a replica's.

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

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
	// pgCallTimeout bounds one store call (waiting for a connection
	// included) when the caller's context has no earlier deadline.
	pgCallTimeout = 15 * time.Second
)

// WithHolder sets this replica's name in the leader lease and in the claims
// of the outbox rows it sends (default: host name, process id and a random
// suffix, unique to this Store).
func WithHolder(id string) Option { return func(o *options) { o.holder = id } }

// WithClaimTTL sets how long an outbox row claimed by Due stays reserved for
// this replica (default 60 s): a replica that dies mid-send blocks its chats
// that long at most, unless a new leader (a newer epoch) takes them first.
func WithClaimTTL(d time.Duration) Option { return func(o *options) { o.claimTTL = d } }

// WithLeaseTTL sets the LEADER_LEASE_TTL the replicas use (default 9 s),
// from which the fence's margin and the server-side timeouts follow (see
// fenceMargin and idleInTx).
func WithLeaseTTL(d time.Duration) Option { return func(o *options) { o.leaseTTL = d } }

// OpenPostgres connects to the database at url (postgres://…) and applies
// pending migrations. Errors never carry the URL, which may hold a password.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Replica, error) {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	if o.holder == "" {
		id, err := defaultHolder()
		if err != nil {
			return nil, err
		}
		o.holder = id
	}
	cfg, err := pq.NewConfig(url)
	if err != nil {
		// The parser's error may quote the part it could not read, which
		// may be the password: say only that it is malformed.
		return nil, errors.New("parse DATABASE_URL: not a valid postgres:// URL or connection string")
	}
	if cfg.SSLMode == "" {
		cfg.SSLMode = pq.SSLModePrefer // libpq's default; lib/pq's own is require
	}
	// Parse, Bind and Execute go together: one round trip a statement.
	cfg.BinaryParameters = true
	if o.leaseTTL < 3*time.Second {
		return nil, fmt.Errorf("lease TTL %v: at least 3s", o.leaseTTL)
	}
	d := &postgresDialect{holder: o.holder, claimTTL: o.claimTTL, leaseTTL: o.leaseTTL}
	// A renewal waits for no answer past its third of the TTL, so that the
	// leader can step down on time whatever the network does.
	d.lease = openPool(cfg, d.leaseTTL/3, d.idleInTx(), d.leaseTTL/3, leaseConns)
	s := &Store{db: openPool(cfg, statementTimeout, d.idleInTx(), pgCallTimeout, maxConns), d: d, options: o}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", where(cfg), err)
	}
	return &Replica{Store: s, pg: d}, nil
}

// openPool is a database/sql pool of at most n connections, kept open,
// each with the server-side timeouts given (runtimeParams) and no wait for
// an answer longer than bound (boundedDialer).
func openPool(cfg pq.Config, statement, idle, bound time.Duration, n int) *sql.DB {
	cfg = cfg.Clone()
	runtimeParams(&cfg, statement, idle)
	c, _ := pq.NewConnectorConfig(cfg) // never fails: the config is parsed
	c.Dialer(boundedDialer{bound: bound})
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// runtimeParams sets the server-side timeouts of every connection of a pool,
// and turns the JIT compiler off: at 100,000 subscribers the planner's
// estimate of a fan-out passes jit_above_cost and each such INSERT … SELECT
// spent 230–330 ms compiling code it then ran once, in a round's
// transaction (EXPLAIN ANALYZE); the bot's queries are short, never worth it.
func runtimeParams(cfg *pq.Config, statement, idle time.Duration) {
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	p := cfg.Runtime
	p["statement_timeout"] = fmt.Sprint(statement.Milliseconds())
	p["idle_in_transaction_session_timeout"] = fmt.Sprint(idle.Milliseconds())
	p["jit"] = "off"
}

// where names a database for errors: host, port and name, no credentials.
func where(c pq.Config) string {
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

type postgresDialect struct {
	// lease holds the lease's connections only: a renewal never waits
	// for a connection busy with a fan-out.
	lease    *sql.DB
	holder   string
	claimTTL time.Duration
	leaseTTL time.Duration

	// term is the lease term this replica holds, nil when it holds none:
	// the epoch that leader writes are fenced with.
	term atomic.Pointer[bot.Term]
	// onDeposed, if set, is told when a leader write is refused by the fence.
	onDeposed atomic.Pointer[func(error)]

	// rebound caches each query's $n form: the set of queries is fixed.
	rebound sync.Map
}

// rebind numbers the ? placeholders $1, $2, … as PostgreSQL wants them (no query
// holds a ? in a literal); queries written with $n pass unchanged.
func (d *postgresDialect) rebind(query string) string {
	if v, ok := d.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if p, ok := strings.CutSuffix(part, "?"); ok {
			n++
			b.WriteString(p + "$" + strconv.Itoa(n))
			continue
		}
		b.WriteString(part)
	}
	d.rebound.Store(query, b.String())
	return b.String()
}

func (d *postgresDialect) lists() bool                { return true }
func (d *postgresDialect) callTimeout() time.Duration { return pgCallTimeout }

// Load's reads share one snapshot (REPEATABLE READ, read-only).
func (d *postgresDialect) readTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// newestFirst keeps PostgreSQL from sorting the changes it walks newest
// first: with no statistics on changes yet (fewer than 50 rows, under
// autovacuum's threshold) it sorted them, and so looked every one of them up
// for each chat with reminders instead of stopping at the first (a round's
// reminder check 0.97 s instead of 0.12 s for 20,000 such chats); walking
// changes_pkey backwards needs no sort. Only for the statements between.
func (d *postgresDialect) newestFirst() (string, string) {
	return `SET LOCAL enable_sort = off`, `SET LOCAL enable_sort = on`
}

// A round that queued a fan-out analyzes the outbox before it commits
// (ANALYZE counts its own transaction's rows): autovacuum would take up to a
// minute, and until then PostgreSQL plans with what it saw last. After a
// quiet month the outbox is pruned empty, analyzed at zero rows on the pages
// it still has, and every estimate is one row: Due's claim of 1,000 chats
// of a 90,000-row fan-out ran its subquery once per pending row and hit the
// 10 s statement timeout (BenchmarkSizePostgres). It samples 3,000 rows,
// not the default 30,000: with a year of outages kept (3 GB) the full
// sample took up to 1.25 s of the change's save, and row counts and the
// share of pending rows are what the plans need. SET LOCAL ends with the
// round's transaction, which commits right after.
func (d *postgresDialect) analyzeOutbox() []string {
	return []string{`SET LOCAL default_statistics_target = 10`, `ANALYZE outbox`}
}

func (d *postgresDialect) claim() claimSQL {
	return claimSQL{
		unclaim:   `, ` + unclaimed,
		column:    `claimed_by`,
		fence:     ` AND claimed_by IN ('', ?)`,
		fenceArgs: []any{d.holder},
		forUpdate: ` FOR UPDATE`,
	}
}

// unclaimed is the SET clause that hands a row back: finished, or to be
// retried by whichever replica leads when it is due again.
const unclaimed = `claimed_by = '', claim_epoch = 0, claimed_until = NULL`

// recordRegion records when the round was heard on the database's clock:
// freshness is judged on it, never on the replicas' own clocks.
func (d *postgresDialect) recordRegion() string {
	return `INSERT INTO region_rounds (region, at, verdict, causes, heard_at) VALUES (?, ?, ?, ?, now())
		ON CONFLICT (region) DO UPDATE SET at = excluded.at, verdict = excluded.verdict, causes = excluded.causes, heard_at = now()`
}

// regions judges freshness on the database's clock (heard_at, now()), so
// replicas whose clocks disagree still agree on who was heard; now is not used.
func (d *postgresDialect) regions(_ time.Time, fresh time.Duration) (string, []any) {
	return `SELECT region, at, verdict, causes, heard_at < now() - make_interval(secs => ?::float8)
		FROM region_rounds WHERE heard_at >= now() - make_interval(secs => ?::float8) ORDER BY region`,
		[]any{fresh.Seconds(), bot.SilentFor.Seconds()}
}

// Replicas that start at the same moment queue on a transaction-scoped
// advisory lock (released at commit, so the pool may recycle the
// connection freely).
func (d *postgresDialect) migrations() migrationSQL {
	return migrationSQL{
		fsys:  postgresMigrations,
		dir:   "migrations/postgres",
		lock:  fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLock),
		table: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		record: func(version int) (string, []any) {
			return `INSERT INTO schema_migrations (version) VALUES (?)`, []any{version}
		},
	}
}

func (d *postgresDialect) close() error { return d.lease.Close() }
