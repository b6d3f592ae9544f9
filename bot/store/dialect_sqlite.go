package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/xstatusbot/xstatusbot/bot"
)

// SQLite: one process, one file (modernc.org/sqlite: pure Go, no cgo). One
// connection, so no two goroutines of ours ever contend for the write lock;
// no claims and no lease, since one process is always the leader.

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// WithBusyTimeout sets how long a SQLite statement waits for another
// connection's write lock before failing with SQLITE_BUSY (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// OpenSQLite opens (creating it and its folder if needed) the database at
// path and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	s := &Store{options: defaults(), d: sqliteDialect{}}
	for _, o := range opts {
		o(&s.options)
	}
	v := url.Values{}
	busy := fmt.Sprintf("busy_timeout(%d)", s.busyTimeout.Milliseconds())
	// A page cache of 256 KiB rather than SQLite's 2 MiB: a round touches a
	// few dozen pages, and the default kept every page a round had written
	// until it held 2 MiB, the bot's resident memory growing 0.4 MB every ten
	// minutes for an hour (a fan-out to 10,000 chats took as long either way).
	for _, p := range []string{"journal_mode(WAL)", busy, "foreign_keys(1)", "synchronous(NORMAL)", "cache_size(-256)"} {
		v.Add("_pragma", p)
	}
	// Write transactions take the write lock at BEGIN, where busy_timeout
	// applies. A deferred one that reads first fails at once with SQLITE_BUSY
	// when another connection (a second store on the file) wrote meanwhile.
	v.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
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
	// After the migrations: a statement prepared before a schema change
	// would only be prepared again.
	s.stmts = newStmtCache(db)
	s.hist = &historyCache{}
	return s, nil
}

type sqliteDialect struct{}

// modernc.org/sqlite binds ? as written.
func (sqliteDialect) rebind(query string) string { return query }
func (sqliteDialect) lists() bool                { return false }

// No bound of our own: busy_timeout bounds the wait for the lock.
func (sqliteDialect) callTimeout() time.Duration { return 0 }

// Load reads outside a transaction: one connection sees each save whole.
func (sqliteDialect) readTx() *sql.TxOptions { return nil }

func (sqliteDialect) leaderTx(ctx context.Context, s *Store, fn func(q) error) error {
	return s.tx(ctx, fn)
}

func (sqliteDialect) claim() claimSQL { return claimSQL{column: `''`} }

// SQLite plans without statistics (no ANALYZE has ever been run).
func (sqliteDialect) analyzeOutbox() []string { return nil }

// SQLite walks the left table of a CROSS JOIN first, in the order asked.
func (sqliteDialect) newestFirst() (string, string) { return "", "" }

// Without claims no outcome is ever refused.
func (sqliteDialect) claimsLost(context.Context, q, []int64) (map[int64]string, error) {
	return nil, nil
}
func (sqliteDialect) refuse(map[int64]string) error { return bot.ErrDeposed }

// due reads outside a transaction: reads never wait for a writer in WAL
// mode, and the dispatcher's busy chats alone keep it from taking a chat
// twice. It pages: the heads (rows with no older pending row of their chat)
// are found walking outbox_due in id order, so it reads about as many rows
// as it returns, however many are pending.
func (sqliteDialect) due(ctx context.Context, s *Store, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	rs, err := s.q().query(ctx, `SELECT o.chat_id FROM outbox o INDEXED BY outbox_due
		WHERE o.platform = ? AND o.status = 'pending' AND o.next_at <= ?
		AND NOT EXISTS (SELECT 1 FROM outbox h WHERE h.platform = o.platform AND h.chat_id = o.chat_id AND h.status = 'pending' AND h.id < o.id)
		ORDER BY o.id LIMIT ?`, p, nanos(now), limit+len(busy))
	var heads []string
	if err == nil {
		heads, err = collect(rs, scanOne[string])
	}
	if err != nil {
		return nil, fmt.Errorf("due chats: %w", err)
	}
	var chats []string
	for _, id := range heads {
		if !busy[id] && len(chats) < limit {
			chats = append(chats, id)
		}
	}
	if len(chats) == 0 {
		return nil, nil
	}
	in, args := anyOf(s.d, "o.chat_id", chats)
	return dueRows(ctx, s.q(), p, `o.platform = ? AND `+in, append([]any{p}, args...)...)
}

// A round's time is the recording process's clock, the same as now's.
func (sqliteDialect) recordRegion() string {
	return `INSERT INTO region_rounds (region, at, verdict, causes) VALUES (?, ?, ?, ?)
		ON CONFLICT (region) DO UPDATE SET at = excluded.at, verdict = excluded.verdict, causes = excluded.causes`
}

func (sqliteDialect) regions(now time.Time, fresh time.Duration) (string, []any) {
	return `SELECT region, at, verdict, causes, at < ? FROM region_rounds WHERE at >= ? ORDER BY region`,
		[]any{nanos(now.Add(-fresh)), nanos(now.Add(-bot.SilentFor))}
}

// The write lock taken at BEGIN serialises migrations.
func (sqliteDialect) migrations() migrationSQL {
	return migrationSQL{
		fsys:  sqliteMigrations,
		dir:   "migrations/sqlite",
		table: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		record: func(version int) (string, []any) {
			return `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, []any{version, time.Now().UnixNano()}
		},
	}
}

func (sqliteDialect) close() error { return nil }
