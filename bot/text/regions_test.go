package text_test

import (
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/text"
	"github.com/xstatusbot/xstatusbot/probe"
)

// t0 is the tests' start: a fixed instant, so times in failures read the same.
var t0 = time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC)

func TestAlertSaysWhereXFails(t *testing.T) {
	at := t0.Add(time.Minute)
	tests := []struct {
		name, lang string
		to         probe.State
		regions    []bot.RegionVerdict
		want       string // the breakdown line; "" for none
	}{
		{"one region", "en", probe.StateDown, nil, ""},
		{"recovery seen from most", "en", probe.StateUp, []bot.RegionVerdict{bottest.Verdict("ap", up), bottest.Verdict("eu", down), bottest.Verdict("us", up)},
			"Down from eu; up from ap, us."},
		{"degraded and silent regions", "en", probe.StateDegraded, []bot.RegionVerdict{bottest.Verdict("ap", unknown), bottest.Verdict("eu", degraded), bottest.Verdict("us", up)},
			"Degraded from eu; up from us; no verdict from ap."},
		{"degraded and silent regions, French", "fr", probe.StateDegraded, []bot.RegionVerdict{bottest.Verdict("ap", unknown), bottest.Verdict("eu", degraded), bottest.Verdict("us", up)},
			"Dégradé vu de eu ; en ligne vu de us ; pas de verdict de ap."},
		{"a split, a region not heard from", "en", probe.StateDegraded, []bot.RegionVerdict{bottest.Verdict("ap", bot.VerdictSilent), bottest.Verdict("eu", down), bottest.Verdict("us", up)},
			"Down from eu; up from us; not heard from ap."},
		{"a split, a region not heard from, French", "fr", probe.StateDegraded, []bot.RegionVerdict{bottest.Verdict("ap", bot.VerdictSilent), bottest.Verdict("eu", down), bottest.Verdict("us", up)},
			"En panne vu de eu ; en ligne vu de us ; sans nouvelles de ap."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := probe.StateUp
			if tt.to == probe.StateUp {
				from = probe.StateDown
			}
			ch := bot.Change{Transition: probe.Transition{From: from, To: tt.to, At: at, Began: at}, Regions: tt.regions,
				Incident: bot.Incident{Start: t0, Worst: probe.StateDown}}
			m := text.RenderAlert(tt.lang, []bot.Delivery{{Change: ch}}, at)
			without := text.RenderAlert(tt.lang, []bot.Delivery{{Change: bot.Change{Transition: ch.Transition, Incident: ch.Incident}}}, at)
			if tt.want == "" {
				if !slices.Equal(m.Lines, without.Lines) {
					t.Fatalf("lines %q, want those of today %q", m.Lines, without.Lines)
				}
				return
			}
			if want := append(without.Lines, tt.want); !slices.Equal(m.Lines, want) || m.Title != without.Title {
				t.Fatalf("alert %q\nwant the same with the line %q", m.PlainText(), tt.want)
			}
		})
	}
}

const (
	up       = probe.VerdictUp
	down     = probe.VerdictDown
	degraded = probe.VerdictDegraded
	unknown  = probe.VerdictUnknown
)
