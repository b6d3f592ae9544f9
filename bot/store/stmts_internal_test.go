package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// A round's statements, met inside its transaction, are prepared once it
// is over; the next rounds prepare nothing more. Answers and errors are
// those of the statements run as written.
func TestStatementsArePreparedOnceAndReused(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "bot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	save := func(i int) {
		t.Helper()
		r := probe.Round{Start: t0.Add(time.Duration(i) * time.Second), Verdict: probe.VerdictUp}
		if err := s.SaveRound(ctx, &bot.Snapshot{Round: r, Status: probe.Status{State: probe.StateUp, Since: t0}, Flap: &bot.Flap{}}); err != nil {
			t.Fatal(err)
		}
	}
	save(0)
	prepared := s.stmts.len()
	if prepared < 5 {
		t.Fatalf("%d statements prepared after a round, want the round's (at least 5)", prepared)
	}
	for i := 1; i < 20; i++ {
		save(i)
	}
	if n := s.stmts.len(); n != prepared {
		t.Fatalf("%d statements prepared after 20 rounds, %d after the first: the same rounds prepared again", n, prepared)
	}
	if n, err := s.RoundCount(ctx); err != nil || n != 20 {
		t.Fatalf("%d rounds kept (%v), want 20", n, err)
	}
	for range 2 { // the first time as written, then prepared: the same error
		if _, err := s.q().exec(ctx, `UPDATE no_such_table SET x = 1`); err == nil || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("a bad statement: %v", err)
		}
	}
}

// The cache holds at most maxStmts statements: queries made of lists of ?
// of every length start it again rather than grow it.
func TestStatementCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "bot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for n := 1; n <= maxStmts+10; n++ {
		where, args := anyOf(s.d, `chat_id`, make([]string, n))
		var count int
		if err := s.q().row(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM subscriptions WHERE %s`, where), args...).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if got := s.stmts.len(); got > maxStmts {
			t.Fatalf("%d statements kept, at most %d", got, maxStmts)
		}
	}
}
