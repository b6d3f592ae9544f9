package history_test

import (
	"math"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/probe"
)

// midnight is a UTC midnight; timelines below are hours from it.
var midnight = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return midnight.Add(time.Duration(h * float64(time.Hour))) }

func sp(st probe.State, from, to float64) bot.Span {
	return bot.Span{State: st, From: at(from), To: at(to)}
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

func TestComputeUptime(t *testing.T) {
	const (
		upS, deg, dn, unk = probe.StateUp, probe.StateDegraded, probe.StateDown, probe.StateUnknown
	)
	tests := []struct {
		name                       string
		spans                      []bot.Span
		from, to                   float64
		up, degraded, down, noData float64 // hours
		percent                    float64
	}{
		{"empty history", nil, 0, 24, 0, 0, 0, 24, -1},
		{"up all day", []bot.Span{sp(upS, 0, 24)}, 0, 24, 24, 0, 0, 0, 100},
		{"a gap: the bot was not running", []bot.Span{sp(upS, 0, 10), sp(upS, 14, 24)}, 0, 24, 20, 0, 0, 4, 100},
		{"unknown time is no data", []bot.Span{sp(upS, 0, 20), sp(unk, 20, 24)}, 0, 24, 20, 0, 0, 4, 100},
		{"only unknown time", []bot.Span{sp(unk, 0, 24)}, 0, 24, 0, 0, 0, 24, -1},
		{"one hour down", []bot.Span{sp(upS, 0, 10), sp(dn, 10, 11), sp(upS, 11, 24)}, 0, 24, 23, 0, 1, 0, 23.0 / 24 * 100},
		{"degraded is not up", []bot.Span{sp(upS, 0, 18), sp(deg, 18, 24)}, 0, 24, 18, 6, 0, 0, 75},
		{"down during a gap-free half, no data the other half", []bot.Span{sp(upS, 12, 18), sp(dn, 18, 24)}, 0, 24, 6, 0, 6, 12, 50},
		{"spans outside the window are clipped", []bot.Span{sp(dn, -5, 1), sp(upS, 1, 23), sp(dn, 23, 30)}, 0, 24, 22, 0, 2, 0, 22.0 / 24 * 100},
		// The 30-day window ends now (day 30) and starts at day 0: an outage
		// ending exactly at the edge counts for nothing, one straddling it only inside.
		{"30-day edge: outage ending at the edge", []bot.Span{sp(dn, -2, 0), sp(upS, 0, 720)}, 0, 720, 720, 0, 0, 0, 100},
		{"30-day edge: outage straddling the edge", []bot.Span{sp(dn, -2, 1), sp(upS, 1, 720)}, 0, 720, 719, 0, 1, 0, 719.0 / 720 * 100},
		{"empty window", []bot.Span{sp(upS, 0, 24)}, 5, 5, 0, 0, 0, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := history.ComputeUptime(tt.spans, at(tt.from), at(tt.to))
			if u.Window != at(tt.to).Sub(at(tt.from)) {
				t.Errorf("window %v", u.Window)
			}
			if u.Up != hours(tt.up) || u.Degraded != hours(tt.degraded) || u.Down != hours(tt.down) || u.NoData != hours(tt.noData) {
				t.Errorf("up %v degraded %v down %v no data %v; want %vh %vh %vh %vh", u.Up, u.Degraded, u.Down, u.NoData, tt.up, tt.degraded, tt.down, tt.noData)
			}
			if math.Abs(u.Percent-tt.percent) > 1e-9 {
				t.Errorf("percent %v, want %v", u.Percent, tt.percent)
			}
		})
	}
}

func TestDays(t *testing.T) {
	t.Run("an incident crossing midnight counts on both days", func(t *testing.T) {
		spans := []bot.Span{sp(probe.StateUp, -24, -1), sp(probe.StateDown, -1, 1), sp(probe.StateUp, 1, 12)}
		days := history.Days(spans, at(12), 2)
		if len(days) != 2 || !days[0].Date.Equal(at(-24)) || !days[1].Date.Equal(midnight) {
			t.Fatalf("days %+v", days)
		}
		for k, d := range days {
			if d.Worst != probe.StateDown || d.Downtime != time.Hour {
				t.Errorf("day %d: worst %s downtime %v; want down for 1h", k, d.Worst, d.Downtime)
			}
		}
		if days[0].NoData != 0 || days[1].NoData != 0 {
			t.Errorf("no data %v, %v; the day in progress counts only up to now", days[0].NoData, days[1].NoData)
		}
	})
	t.Run("days without data, degraded days and oldest first", func(t *testing.T) {
		end := at(24*89 + 6) // 06:00 on the 90th day
		spans := []bot.Span{
			sp(probe.StateUp, 24*10, 24*10+12), // day 10: half a day up, half no data
			sp(probe.StateDegraded, 24*10+12, 24*10+13),
			sp(probe.StateUp, 24*89, 24*89+6),
		}
		days := history.Days(spans, end, history.BoardDays)
		if len(days) != history.BoardDays {
			t.Fatalf("%d days", len(days))
		}
		for k, d := range days {
			if !d.Date.Equal(midnight.AddDate(0, 0, k)) {
				t.Fatalf("day %d is %v: want midnight UTC, oldest first", k, d.Date)
			}
			want := probe.StateUnknown
			switch k {
			case 10:
				want = probe.StateDegraded
			case 89:
				want = probe.StateUp
			}
			if d.Worst != want {
				t.Errorf("day %d worst %s, want %s", k, d.Worst, want)
			}
		}
		if d := days[10]; d.Downtime != time.Hour || d.NoData != 11*time.Hour {
			t.Errorf("day 10 downtime %v no data %v; want 1h and 11h", d.Downtime, d.NoData)
		}
		if d := days[0]; d.NoData != 24*time.Hour || d.Downtime != 0 {
			t.Errorf("empty day %+v", d)
		}
	})
	t.Run("empty history", func(t *testing.T) {
		days := history.Days(nil, at(3), 3)
		if len(days) != 3 {
			t.Fatalf("%d days", len(days))
		}
		for _, d := range days {
			if d.Worst != probe.StateUnknown || d.Downtime != 0 {
				t.Errorf("day %+v", d)
			}
		}
		if days[2].NoData != 3*time.Hour {
			t.Errorf("today's no data %v, want 3h (until now)", days[2].NoData)
		}
	})
}

func TestStoredSpans(t *testing.T) {
	gap := 90 * time.Second
	tests := []struct {
		name     string
		spans    []bot.Span
		from, to float64
		want     []bot.Span
	}{
		{"clipped to the window, the empty dropped",
			[]bot.Span{sp(probe.StateUp, 0, 2), sp(probe.StateDown, 2, 3), sp(probe.StateUp, 5, 6)}, 1, 5.5,
			[]bot.Span{sp(probe.StateUp, 1, 2), sp(probe.StateDown, 2, 3), sp(probe.StateUp, 5, 5.5)}},
		{"the latest runs on to the end within the gap",
			[]bot.Span{sp(probe.StateDown, 1, 3.99)}, 0, 4,
			[]bot.Span{sp(probe.StateDown, 1, 4)}},
		{"the latest stops after a silence",
			[]bot.Span{sp(probe.StateDown, 1, 3)}, 0, 4,
			[]bot.Span{sp(probe.StateDown, 1, 3)}},
		{"none", nil, 0, 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := history.StoredSpans(tc.spans, at(tc.from), at(tc.to), gap)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].State != tc.want[i].State || !got[i].From.Equal(tc.want[i].From) || !got[i].To.Equal(tc.want[i].To) {
					t.Errorf("span %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestAsHeard(t *testing.T) {
	for _, tc := range []struct {
		level    bot.AlertLevel
		st, want probe.State
	}{
		{bot.AlertsOutages, probe.StateDegraded, probe.StateUp},
		{bot.AlertsOutages, probe.StateDown, probe.StateDown},
		{bot.AlertsAll, probe.StateDegraded, probe.StateDegraded},
		{"", probe.StateDegraded, probe.StateDegraded},
	} {
		if got := tc.level.AsHeard(tc.st); got != tc.want {
			t.Errorf("%q.AsHeard(%s) = %s, want %s", tc.level, tc.st, got, tc.want)
		}
	}
}
