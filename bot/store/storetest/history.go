package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

var historyTests = []test{
	{"SpansFollowRoundsAndGaps", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		const upS, down, unknown = probe.StateUp, probe.StateDown, probe.StateUnknown
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
				got, err := s.Spans(t.Context(), t0.Add(tt.from), t0.Add(tt.to))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(utcSpans(got), tt.want) {
					t.Errorf("spans\n got %+v\nwant %+v", got, tt.want)
				}
			})
		}
	}},
	{"SpanGapOption", func(t *testing.T, b Backend) {
		opts := Defaults()
		opts.SpanGap = 10 * time.Minute
		s, _ := fresh(t, b, opts)
		saveAs(t, s, 0, probe.VerdictUp, probe.StateUp)
		saveAs(t, s, 5*time.Minute, probe.VerdictUp, probe.StateUp) // a 5-minute schedule: no gap
		got, err := s.Spans(t.Context(), t0, t0.Add(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := []bot.Span{span(probe.StateUp, 0, 5*time.Minute)}; !reflect.DeepEqual(utcSpans(got), want) {
			t.Fatalf("spans %+v, want %+v", got, want)
		}
	}},
	{"SpansPrunedAfterHundredDays", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		saveAs(t, s, 0, probe.VerdictUp, probe.StateUp)
		saveAs(t, s, time.Minute, probe.VerdictUp, probe.StateUp)
		later := 99 * 24 * time.Hour
		saveAs(t, s, later, probe.VerdictUp, probe.StateUp)
		if got, err := s.Spans(t.Context(), t0, t0.Add(later)); err != nil || len(got) != 1 {
			t.Fatalf("spans at 99 days %+v, %v: the first one should still be kept", got, err)
		}
		latest := 101 * 24 * time.Hour
		saveAs(t, s, latest, probe.VerdictUp, probe.StateUp)
		got, err := s.Spans(t.Context(), t0, t0.Add(latest+time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if want := []bot.Span{span(probe.StateUp, latest, latest+time.Second)}; !reflect.DeepEqual(utcSpans(got), want) {
			t.Fatalf("spans %+v, want only %+v", got, want)
		}
	}},
	{"IncidentsNewestFirstWithCauseTimes", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		if got, err := s.Incidents(t.Context(), 10); err != nil || len(got) != 0 {
			t.Fatalf("incidents of a new store %+v, %v", got, err)
		}
		for k := range 3 {
			start := t0.Add(time.Duration(k) * time.Hour)
			cause := bot.Cause{Component: "api", Detail: "HTTP 503", FirstSeen: start, LastSeen: start.Add(5 * time.Minute)}
			inc := &bot.Incident{Start: start, End: start.Add(10 * time.Minute), Worst: probe.StateDown, Causes: []bot.Cause{cause}}
			if k == 2 {
				inc.End = time.Time{}
			}
			snap := &bot.Snapshot{Round: DownRound(start), Status: probe.Status{State: probe.StateDown, Since: start}, Incident: inc}
			if err := s.SaveRound(t.Context(), snap); err != nil {
				t.Fatal(err)
			}
		}
		s = reopen(t, b, s, db, Defaults())
		got, err := s.Incidents(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Start.Equal(t0.Add(2*time.Hour)) || !got[1].Start.Equal(t0.Add(time.Hour)) {
			t.Fatalf("incidents %+v, want the two latest, newest first", got)
		}
		if !got[0].Open() || got[1].Open() || !got[1].End.Equal(t0.Add(time.Hour+10*time.Minute)) || got[1].Worst != probe.StateDown {
			t.Errorf("incident ends %+v", got)
		}
		if c := got[0].Causes[0]; !c.FirstSeen.Equal(t0.Add(2*time.Hour)) || !c.LastSeen.Equal(t0.Add(2*time.Hour+5*time.Minute)) || c.Detail != "HTTP 503" {
			t.Errorf("cause times not kept: %+v", c)
		}
	}},
	{"IncidentUpdatedInPlace", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		snap := SaveDown(t, s, t0)
		inc := *snap.Incident
		inc.Worst = probe.StateDown
		inc.Causes = append(inc.Causes, bot.Cause{Component: "web", Detail: "timeout", FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(time.Minute)})
		next := &bot.Snapshot{Round: DownRound(t0.Add(time.Minute)), Status: probe.Status{State: probe.StateDown, Since: t0}, Incident: &inc}
		if err := s.SaveRound(t.Context(), next); err != nil {
			t.Fatal(err)
		}
		if next.Incident.ID != snap.Incident.ID {
			t.Fatalf("updated incident got id %d, want %d", next.Incident.ID, snap.Incident.ID)
		}
		got, err := s.Incidents(t.Context(), 10)
		if err != nil || len(got) != 1 || len(got[0].Causes) != 2 || got[0].Causes[1].Component != "web" {
			t.Fatalf("incidents %+v, %v", got, err)
		}
		if saved := load(t, s); saved.Incident == nil || len(saved.Incident.Causes) != 2 {
			t.Fatalf("loaded incident %+v", saved.Incident)
		}
	}},
}

// utcSpans gives back spans in UTC, as the tests write them.
func utcSpans(spans []bot.Span) []bot.Span {
	for i := range spans {
		spans[i].From, spans[i].To = spans[i].From.UTC(), spans[i].To.UTC()
	}
	return spans
}
