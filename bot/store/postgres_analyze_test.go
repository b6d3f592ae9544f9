//go:build !nopostgres

package store_test

import (
	"context"
	"fmt"
	"testing"

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
	url := pgtest.URL(t)
	ctx := context.Background()
	s := openPG(t, url, "a")
	const chats = 1200
	pgExec(t, url, fmt.Sprintf(`INSERT INTO subscriptions (platform, chat_id, kind, created_at)
		SELECT '%s', 'c' || g, 'private', 0 FROM generate_series(1, %d) g`, tgPlatform, chats))
	lead(t, s)
	// The outbox once held rows and was analyzed empty: pages, zero rows
	// (its rows need no change: it has no foreign key on PostgreSQL).
	pgExec(t, url, `INSERT INTO outbox (change_id, platform, chat_id, next_at, created_at) SELECT 999999, 'x', 'c' || g, 0, 0 FROM generate_series(1, 5000) g`)
	pgExec(t, url, `DELETE FROM outbox`)
	pgExec(t, url, `ANALYZE outbox`)
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
