package store

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// The cached spans and incidents are what the queries give, round after
// round: spans extended and opened (state changes, rounds that say nothing,
// gaps), incidents opened, updated and closed, spans pruned, and writes by
// another connection to the file. The reference is a second store on the
// file that keeps no cache.
func TestHistoryCacheAnswersAsTheQueries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := OpenSQLite(ctx, path, WithSpanGap(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref, err := OpenSQLite(ctx, path, WithSpanGap(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ref.hist = nil
	other, err := OpenSQLite(ctx, path, WithSpanGap(90*time.Second)) // another connection that writes
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	status := probe.Status{State: probe.StateUp, Since: now}
	var open *bot.Incident
	compare := func(round int) {
		t.Helper()
		for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 120 * 24 * time.Hour, time.Hour} {
			got, err1 := s.Spans(ctx, now.Add(-back), now.Add(time.Second))
			want, err2 := ref.Spans(ctx, now.Add(-back), now.Add(time.Second))
			if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, spans of the last %s: %v (%v), the query's %v (%v)", round, back, got, err1, want, err2)
			}
		}
		for _, limit := range []int{3, 100, 1, 100} {
			got, err1 := s.Incidents(ctx, limit)
			want, err2 := ref.Incidents(ctx, limit)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %d incidents: %+v (%v), the query's %+v (%v)", round, limit, got, err1, want, err2)
			}
		}
	}
	for i := range 400 {
		step := 10 * time.Second
		switch rng.IntN(40) {
		case 0:
			step = 5 * time.Minute // a gap: a new span
		case 1:
			step = 60 * 24 * time.Hour // spans past their 100 days pruned
		}
		now = now.Add(step)
		writer := s
		if rng.IntN(10) == 0 {
			writer = other // behind the cache's back
		}
		verdict := probe.VerdictUp
		switch rng.IntN(6) {
		case 0:
			verdict = probe.VerdictDown
		case 1:
			verdict = probe.VerdictUnknown
		}
		snap := &bot.Snapshot{Round: probe.Round{Start: now, Verdict: verdict}, Flap: &bot.Flap{}}
		switch {
		case verdict == probe.VerdictDown && status.State != probe.StateDown:
			status = probe.Status{State: probe.StateDown, Since: now}
			open = &bot.Incident{Start: now, Worst: probe.StateDown}
			snap.Incident = open
		case verdict == probe.VerdictUp && status.State != probe.StateUp:
			status = probe.Status{State: probe.StateUp, Since: now}
			if open != nil {
				open.End = now
				snap.Incident = open
				open = nil
			}
		case verdict == probe.VerdictDown && open != nil && rng.IntN(2) == 0:
			open.Causes = []bot.Cause{{Component: "web", Detail: "HTTP 503", FirstSeen: open.Start, LastSeen: now}}
			snap.Incident = open
		}
		snap.Status = status
		if err := writer.SaveRound(ctx, snap); err != nil {
			t.Fatal(err)
		}
		compare(i)
	}
}
