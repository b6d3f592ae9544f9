package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// upRound saves a round without a change; it is what triggers pruning.
func upRound(t testing.TB, s *store.Store, at time.Time) {
	t.Helper()
	snap := &bot.Snapshot{Round: probe.Round{Start: at, Verdict: probe.VerdictUp}, Status: probe.Status{State: probe.StateUp, Since: at}}
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
}

// saveRecovery closes the open incident with a down→up change.
func finish(t *testing.T, s *store.Store, row store.Outcome, status bot.DeliveryStatus, msg string, at time.Time) {
	t.Helper()
	if err := s.Finish(context.Background(), []int64{row.ID}, status, msg, "", at); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, f func(context.Context) (int, error)) int {
	t.Helper()
	n, err := f(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustOutcomes(t *testing.T, s *store.Store) []store.Outcome {
	t.Helper()
	out, err := s.Outcomes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Once caught up, pruning waits five minutes after the last one (the rest of
// the retention contract is in bot/storetest).
func TestOutboxPrunedAtMostEveryFiveMinutes(t *testing.T) {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	subscribe(t, s, chat(tgPlatform, "a"))
	storetest.SaveDown(t, s, t0)
	storetest.SaveDown(t, s, t0.Add(time.Minute))
	rows := mustOutcomes(t, s)
	finish(t, s, rows[0], bot.StatusExpired, "", t0)
	upRound(t, s, t0.Add(2*time.Hour))
	if n := len(mustOutcomes(t, s)); n != 1 {
		t.Fatalf("%d rows after the first pruning, want the pending one", n)
	}
	finish(t, s, rows[1], bot.StatusExpired, "", t0.Add(time.Minute))
	upRound(t, s, t0.Add(2*time.Hour+time.Minute))
	if n := len(mustOutcomes(t, s)); n != 1 {
		t.Fatalf("pruned again within a minute: %d rows left", n)
	}
	upRound(t, s, t0.Add(2*time.Hour+5*time.Minute))
	if out := mustOutcomes(t, s); len(out) != 0 {
		t.Fatalf("not pruned five minutes later: %+v", out)
	}
}

// A large backlog is pruned a batch per round, each round's transaction
// short, until it is gone.
func TestOutboxPruningGoesInBatches(t *testing.T) {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	chats := make([]bot.ChatRef, 2500)
	for i := range chats {
		chats[i] = chat(tgPlatform, string(rune('a'+i%26))+time.Duration(i).String())
	}
	subscribe(t, s, chats...)
	storetest.SaveDown(t, s, t0)
	var ids []int64
	for _, o := range mustOutcomes(t, s) {
		ids = append(ids, o.ID)
	}
	if err := s.Finish(ctx, ids, bot.StatusExpired, "", "too old", t0); err != nil {
		t.Fatal(err)
	}
	var left []int
	for i := range 4 {
		upRound(t, s, t0.Add(2*time.Hour+time.Duration(i)*30*time.Second))
		left = append(left, len(mustOutcomes(t, s)))
	}
	if want := []int{1500, 500, 0, 0}; !slices.Equal(left, want) {
		t.Fatalf("rows left after each round %v, want %v", left, want)
	}
	if n := count(t, s.ChangeCount); n != 0 {
		t.Errorf("the change outlived its rows: %d left", n)
	}
}

// Rows coalesced by a chat migration before version 2 had no finished_at;
// the migration gives them their creation time so they are pruned too.
func TestMigrationTwoBackfillsFinishedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	v1, err := os.ReadFile(filepath.Join("migrations", "sqlite", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		string(v1),
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		fmt.Sprintf(`INSERT INTO changes (id, from_state, to_state, at, began) VALUES (1, 'up', 'down', %d, %d)`, t0.UnixNano(), t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO outbox (change_id, platform, chat_id, status, reason, next_at, created_at) VALUES (1, 'telegram', '-100', 'coalesced', 'migrated', %d, %d)`, t0.UnixNano(), t0.UnixNano()),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("build a version 1 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := store.OpenSQLite(ctx, path, store.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latestMigration(t) {
		t.Fatalf("schema version %d, %v; want %d", v, err, latestMigration(t))
	}
	upRound(t, s, t0.Add(30*time.Minute))
	if n := len(mustOutcomes(t, s)); n != 1 {
		t.Fatalf("pruned within the retention: %d rows", n)
	}
	upRound(t, s, t0.Add(2*time.Hour))
	if out := mustOutcomes(t, s); len(out) != 0 {
		t.Fatalf("coalesced row from version 1 never pruned: %+v", out)
	}
}

// People's reports are pruned with the rounds, a batch per round, so a
// large backlog never makes one round's transaction long.
func TestReportPruningGoesInBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := store.OpenSQLite(context.Background(), path, store.WithRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// The backlog is written in one transaction beside the store: 2500
	// AddReport calls would commit 2500 times.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2500 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reports (platform, user_id, chat_id, kind, at) VALUES ('telegram', ?, '-100', 'post', ?)`,
			fmt.Sprint(i), t0.Add(time.Duration(i)).UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(tx.Commit(), db.Close()); err != nil {
		t.Fatal(err)
	}
	reports := func(context.Context) (int, error) { return s.ReportCount(ctx, time.Time{}, t0.Add(time.Hour)) }
	if n := count(t, reports); n != 2500 {
		t.Fatalf("%d reports written, want 2500", n)
	}
	var left []int
	for i := range 4 {
		upRound(t, s, t0.Add(2*time.Hour+time.Duration(i)*30*time.Second))
		left = append(left, count(t, reports))
	}
	if want := []int{1500, 500, 0, 0}; !slices.Equal(left, want) {
		t.Fatalf("reports left after each round %v, want %v", left, want)
	}
}
