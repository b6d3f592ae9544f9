//go:build !nopostgres

package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// A fan-out into an outbox that PostgreSQL last analyzed empty (a quiet
// month pruned it) is planned with its real size at once: the round that
// queued it analyzed the outbox before committing, so Due's claim of a
// page of 1,000 chats reads those chats' rows, not every pending row once
// per row. Without it the statistics said one row until autovacuum came by,
// and that claim hit the statement timeout (BenchmarkSizePostgres).
func TestFanOutLeavesTheOutboxAnalyzed(t *testing.T) {
	ctx := context.Background()
	const chats = 1200
	url, s := leadingOver(t, chats)
	// The outbox once held rows and was analyzed empty: pages, zero rows
	// (its rows need no change: it has no foreign key on PostgreSQL).
	pgtest.Exec(t, url, `INSERT INTO outbox (change_id, platform, chat_id, next_at, created_at) SELECT 999999, 'x', 'c' || g, 0, 0 FROM generate_series(1, 5000) g`)
	pgtest.Exec(t, url, `DELETE FROM outbox`)
	pgtest.Exec(t, url, `ANALYZE outbox`)
	if n := pgCount(t, url, `SELECT reltuples::int FROM pg_class WHERE relname = 'outbox'`); n != 0 {
		t.Fatalf("outbox analyzed at %d rows before the fan-out, want 0", n)
	}
	pgSave(t, s, storetest.DownSnapshot(t0))
	if n := pgCount(t, url, `SELECT reltuples::int FROM pg_class WHERE relname = 'outbox'`); n < chats {
		t.Errorf("the outbox's statistics say %d rows after a fan-out of %d: not analyzed with it", n, chats)
	}
	due, err := s.Due(ctx, tgPlatform, t0, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1000 {
		t.Errorf("Due of 1,000 chats gave %d rows", len(due))
	}
}

// Due's lookup of the message a recovery replies to never reads
// outbox_finished, whatever the statistics say: a fan-out is analyzed
// while all its rows are pending, so as it is sent PostgreSQL believes the
// finished rows are none, and with an index of them that any query with
// status <> 'pending' could use it scanned every row sent so far for each
// row of a Due (2–3.5 s a page of 1,000 chats). Migration 0008 names
// finished_at in that index's predicate: only pruning may use it.
func TestDueLeavesTheFinishedRowsAlone(t *testing.T) {
	ctx := context.Background()
	const chats = 1200
	url, s := leadingOver(t, chats)
	pgSave(t, s, storetest.DownSnapshot(t0)) // analyzed with its 1,200 rows pending
	sent, err := s.Due(ctx, tgPlatform, t0, 1000, nil)
	if err != nil || len(sent) != 1000 {
		t.Fatalf("Due: %d rows, %v", len(sent), err)
	}
	if err := s.Finish(ctx, ids(sent), bot.StatusSent, "m1", "", t0); err != nil {
		t.Fatal(err)
	}
	due, err := s.Due(ctx, tgPlatform, t0, 1000, nil) // the rest: claimed, still pending
	if err != nil || len(due) != chats-1000 {
		t.Fatalf("%d rows left pending, %v", len(due), err)
	}
	rest := ids(due)

	rs, err := pgtest.Open(t, url).QueryContext(ctx, `EXPLAIN `+store.DueRowsQuery(`o.id = ANY($1)`), rest)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "outbox_finished") {
		t.Errorf("Due's rows are read through outbox_finished:\n%s", p)
	}
}

// leadingOver is a replica leading on a fresh database where chats
// Telegram chats are subscribed, written straight into the table.
func leadingOver(t *testing.T, chats int) (url string, s *store.Replica) {
	t.Helper()
	url = pgtest.URL(t)
	s = openPG(t, url, "a")
	pgtest.Exec(t, url, fmt.Sprintf(`INSERT INTO subscriptions (platform, chat_id, kind, created_at)
		SELECT '%s', 'c' || g, 'private', 0 FROM generate_series(1, %d) g`, tgPlatform, chats))
	lead(t, s)
	return url, s
}
