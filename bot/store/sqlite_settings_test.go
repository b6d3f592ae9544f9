package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// A subscription made before migration 4 gets the default settings, and a
// down alert queued then still gets its recovery.
func TestMigrationFourKeepsSubscriptionsWithDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`}
	for v, name := range []string{"0001_init.sql", "0002_outbox_retention.sql", "0003_spans.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", "sqlite", name))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(body), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, 0)`, v+1))
	}
	stmts = append(stmts,
		fmt.Sprintf(`INSERT INTO subscriptions (platform, chat_id, kind, lang, created_at) VALUES ('telegram', '1', 'private', 'fr', %d)`, t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO incidents (id, start_at, worst) VALUES (1, %d, 'down')`, t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO state (id, state, since, incident_id) VALUES (1, 'down', %d, 1)`, t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO changes (id, from_state, to_state, at, began, incident_id) VALUES (1, 'up', 'down', %d, %d, 1)`, t0.UnixNano(), t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO outbox (change_id, platform, chat_id, status, message_id, next_at, created_at) VALUES (1, 'telegram', '1', 'sent', '77', %d, %d)`, t0.UnixNano(), t0.UnixNano()),
	)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("build a version 3 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path)
	cs, ok, err := s.Settings(ctx, chat(tgPlatform, "1"))
	if err != nil || !ok || cs.Level != bot.AlertsAll || !cs.MutedUntil.IsZero() || cs.RemindEvery != 0 || cs.Lang != "fr" {
		t.Fatalf("settings after migration: %+v, %v, %v", cs, ok, err)
	}
	if _, ok, err := s.Settings(ctx, chat(tgPlatform, "2")); ok || err != nil {
		t.Fatalf("a chat never subscribed has settings: %v, %v", ok, err)
	}
	if _, ok, err := s.UpdateSettings(ctx, chat(tgPlatform, "2"), func(cs *bot.ChatSettings) { cs.Level = bot.AlertsOutages }); ok || err != nil {
		t.Fatalf("settings changed for a chat never subscribed: %v, %v", ok, err)
	}
	// Muted since, the chat still gets the recovery of the alert it got.
	if _, _, err := s.UpdateSettings(ctx, chat(tgPlatform, "1"), func(cs *bot.ChatSettings) { cs.MutedUntil = t0.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	storetest.SaveRecovery(t, s, t0.Add(time.Minute))
	due, err := s.Due(ctx, tgPlatform, t0.Add(time.Minute), 10, nil)
	if err != nil || len(due) != 1 || due[0].Change.Transition.To != probe.StateUp || due[0].ReplyTo != "77" {
		t.Fatalf("recovery after migration: %+v, %v", due, err)
	}
}
