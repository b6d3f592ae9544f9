package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// within runs f and fails the test if it has not returned by a generous
// deadline: the point is that it returns at all, not how fast.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still blocked on the held lock after 30s", what)
		return nil
	}
}

// Another connection holding the write lock (a backup tool, a second
// instance, an operator's sqlite3 shell) makes writes fail with SQLITE_BUSY
// after the busy timeout, with context, instead of hanging; they succeed
// once the lock is released.
func TestWritesFailWhileLockedAndRecover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, path, store.WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := chat(tgPlatform, "a")
	subscribe(t, s, a)
	storetest.SaveDown(t, s, t0)
	row := mustOutcomes(t, s)[0]

	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	round := func(at time.Time) *bot.Snapshot {
		return &bot.Snapshot{Round: probe.Round{Start: at, Verdict: probe.VerdictDown}, Status: probe.Status{State: probe.StateDown, Since: t0}}
	}
	writes := []struct {
		name, context string
		do            func() error
	}{
		{"Finish", "finish outbox rows", func() error {
			return s.Finish(ctx, []int64{row.ID}, bot.StatusSent, "m-1", "", t0.Add(time.Second))
		}},
		{"Retry", "reschedule outbox row", func() error { return s.Retry(ctx, row.ID, t0.Add(time.Minute), 1, "HTTP 502") }},
		{"SaveRound", "save round", func() error { return s.SaveRound(ctx, round(t0.Add(time.Minute))) }},
	}
	for _, w := range writes {
		err := within(t, w.name, w.do)
		var se *driver.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			t.Fatalf("%s with the lock held: %v, want SQLITE_BUSY", w.name, err)
		}
		if !strings.Contains(err.Error(), w.context) {
			t.Errorf("%s error lacks its context %q: %v", w.name, w.context, err)
		}
	}
	if o := mustOutcomes(t, s)[0]; o.Status != bot.StatusPending || o.Attempts != 0 {
		t.Fatalf("a failed write left a trace: %+v", o)
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1, 0, 2} { // Retry, then Finish, then SaveRound
		if err := within(t, writes[w].name, writes[w].do); err != nil {
			t.Fatalf("%s after the lock was released: %v", writes[w].name, err)
		}
	}
	if o := mustOutcomes(t, s)[0]; o.Status != bot.StatusSent || o.MessageID != "m-1" || o.Attempts != 1 {
		t.Errorf("row after recovery %+v", o)
	}
	saved, err := s.Load(ctx)
	if err != nil || saved.LastRound == nil || !saved.LastRound.Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("round after recovery %+v, %v", saved.LastRound, err)
	}
}
