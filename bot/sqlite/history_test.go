package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/sqlite"
	"github.com/xstatusbot/xstatusbot/probe"
)

// saveAs saves a round with a verdict that leaves the announced state at state.
func saveAs(t *testing.T, s *sqlite.Store, at time.Duration, v probe.Verdict, state probe.State) {
	t.Helper()
	snap := &bot.Snapshot{Round: probe.Round{Start: t0.Add(at), Verdict: v}, Status: probe.Status{State: state, Since: t0}}
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
}

func span(st probe.State, from, to time.Duration) bot.Span {
	return bot.Span{State: st, From: t0.Add(from), To: t0.Add(to)}
}

func TestSpansFollowRoundsAndGaps(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	const (
		upS, down, unknown = probe.StateUp, probe.StateDown, probe.StateUnknown
	)
	saveAs(t, s, 0, probe.VerdictUp, upS)
	saveAs(t, s, 30*time.Second, probe.VerdictUp, upS)
	saveAs(t, s, 60*time.Second, probe.VerdictDown, upS) // failing, not yet announced
	saveAs(t, s, 90*time.Second, probe.VerdictDown, down)
	saveAs(t, s, 120*time.Second, probe.VerdictDown, down)
	// The bot stops for ten minutes: more than the 90 s span gap.
	saveAs(t, s, 12*time.Minute, probe.VerdictUp, down)
	saveAs(t, s, 12*time.Minute+30*time.Second, probe.VerdictUnknown, down) // own network down: no data
	saveAs(t, s, 13*time.Minute, probe.VerdictUp, upS)

	tests := []struct {
		name     string
		from, to time.Duration
		want     []bot.Span
	}{
		{"whole history, read just after the last round", -time.Hour, 13*time.Minute + 20*time.Second, []bot.Span{
			span(upS, 0, 90*time.Second), span(down, 90*time.Second, 2*time.Minute),
			span(down, 12*time.Minute, 12*time.Minute+30*time.Second),
			span(unknown, 12*time.Minute+30*time.Second, 13*time.Minute),
			span(upS, 13*time.Minute, 13*time.Minute+20*time.Second), // runs on until now
		}},
		{"read long after the last round: the bot stopped", -time.Hour, time.Hour, []bot.Span{
			span(upS, 0, 90*time.Second), span(down, 90*time.Second, 2*time.Minute),
			span(down, 12*time.Minute, 12*time.Minute+30*time.Second),
			span(unknown, 12*time.Minute+30*time.Second, 13*time.Minute),
		}},
		{"clipped to the window", 60 * time.Second, 100 * time.Second, []bot.Span{
			span(upS, 60*time.Second, 90*time.Second), span(down, 90*time.Second, 100*time.Second),
		}},
		{"a window inside a gap is not stretched over it", 5 * time.Minute, 6 * time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Spans(ctx, t0.Add(tt.from), t0.Add(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("spans\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSpanGapOption(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), sqlite.WithSpanGap(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	saveAs(t, s, 0, probe.VerdictUp, probe.StateUp)
	saveAs(t, s, 5*time.Minute, probe.VerdictUp, probe.StateUp) // a 5-minute schedule: no gap
	got, err := s.Spans(context.Background(), t0, t0.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bot.Span{span(probe.StateUp, 0, 5*time.Minute)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("spans %+v, want %+v", got, want)
	}
}

func TestSpansPrunedAfterHundredDays(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	saveAs(t, s, 0, probe.VerdictUp, probe.StateUp)
	saveAs(t, s, time.Minute, probe.VerdictUp, probe.StateUp)
	later := 99 * 24 * time.Hour
	saveAs(t, s, later, probe.VerdictUp, probe.StateUp)
	if got, _ := s.Spans(ctx, t0, t0.Add(later)); len(got) != 1 {
		t.Fatalf("spans at 99 days %+v: the first one should still be kept", got)
	}
	latest := 101 * 24 * time.Hour
	saveAs(t, s, latest, probe.VerdictUp, probe.StateUp)
	got, err := s.Spans(ctx, t0, t0.Add(latest+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bot.Span{span(probe.StateUp, latest, latest+time.Second)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("spans %+v, want only %+v", got, want)
	}
}

func TestIncidentsNewestFirstWithCauseTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s := open(t, path)
	ctx := context.Background()
	if got, err := s.Incidents(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("incidents of a new store %+v, %v", got, err)
	}
	for k := range 3 {
		start := t0.Add(time.Duration(k) * time.Hour)
		cause := bot.Cause{Component: "api", Detail: "HTTP 503", FirstSeen: start, LastSeen: start.Add(5 * time.Minute)}
		inc := &bot.Incident{Start: start, End: start.Add(10 * time.Minute), Worst: probe.StateDown, Causes: []bot.Cause{cause}}
		snap := &bot.Snapshot{Round: downRound(start), Status: probe.Status{State: probe.StateDown, Since: start}, Incident: inc}
		if err := s.SaveRound(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Incidents(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Start.Equal(t0.Add(2*time.Hour)) || !got[1].Start.Equal(t0.Add(time.Hour)) {
		t.Fatalf("incidents %+v, want the two latest, newest first", got)
	}
	if c := got[0].Causes[0]; !c.FirstSeen.Equal(t0.Add(2*time.Hour)) || !c.LastSeen.Equal(t0.Add(2*time.Hour+5*time.Minute)) {
		t.Errorf("cause times not kept: %+v", c)
	}

	// A row written before causes had times still decodes, with zero times.
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO incidents (start_at, end_at, worst, causes) VALUES (?, NULL, 'degraded', '[{"component":"web","detail":"slow"}]')`, t0.Add(5*time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = open(t, path)
	got, err = s.Incidents(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Open() || got[0].Causes[0] != (bot.Cause{Component: "web", Detail: "slow"}) {
		t.Fatalf("old incident row %+v", got)
	}
}
