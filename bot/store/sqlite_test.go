package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names as the adapters own them: bot names none.
const (
	tgPlatform bot.Platform = "telegram"
	dcPlatform bot.Platform = "discord"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func chat(p bot.Platform, id string) bot.ChatRef { return bot.ChatRef{Platform: p, ID: id} }

func subscribe(t *testing.T, s *store.Store, chats ...bot.ChatRef) {
	t.Helper()
	for i, c := range chats {
		if _, err := s.Subscribe(context.Background(), bot.Subscription{Chat: c, Kind: "private", Group: "g-" + c.ID, CreatedAt: t0.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrationsFromEmptyAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "bot.db")
	s := open(t, path)
	v, err := s.SchemaVersion(context.Background())
	if want := latestMigration(t); err != nil || v != want {
		t.Fatalf("schema version %d, %v; want %d", v, err, want)
	}
	subscribe(t, s, chat(tgPlatform, "1"))
	s.Close()

	s2 := open(t, path)
	if v, _ := s2.SchemaVersion(context.Background()); v != latestMigration(t) {
		t.Fatalf("schema version after reopen %d", v)
	}
	subs, err := s2.Subscriptions(context.Background())
	if err != nil || len(subs) != 1 || subs[0].Chat != chat(tgPlatform, "1") {
		t.Fatalf("subscriptions after reopen %+v, %v", subs, err)
	}
}

func TestRoundsArePrunedButUptimeKept(t *testing.T) {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.WithRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		r := probe.Round{Start: t0.Add(time.Duration(i) * time.Hour), Verdict: probe.VerdictUp}
		if err := s.SaveRound(ctx, &bot.Snapshot{Round: r, Status: probe.Status{State: probe.StateUp, Since: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RoundCount(ctx)
	if err != nil || n != 2 {
		t.Fatalf("rounds kept %d (%v), want 2 within the hour of retention", n, err)
	}
	up, err := s.Uptime(ctx, t0, t0.Add(5*time.Hour))
	if err != nil || up[probe.VerdictUp] != 4 {
		t.Fatalf("uptime %+v %v", up, err)
	}
}

// latestMigration is the version of the newest migration file: the schema
// version a fully migrated database has.
func latestMigration(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("migrations", "sqlite", "*.sql"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	slices.Sort(names)
	v, err := strconv.Atoi(strings.SplitN(filepath.Base(names[len(names)-1]), "_", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return v
}
