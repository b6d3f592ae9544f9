package main

import (
	"log/slog"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/discord"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
)

// A replica builds its adapters again for each term it leads: the Discord
// adapter's gauge is made anew each time, and shows only while a term lasts.
func TestAdapterMetricsGoWithTheirTerm(t *testing.T) {
	set := metrics.NewSet()
	terms := newTermMetrics(set)
	series := func() int {
		return len(metricstest.Family(t, set, "xstatusbot_discord_invalid_requests"))
	}
	for term := 1; term <= 2; term++ {
		termSet := terms.begin()
		s := &discord.Config{Token: "token", APIURL: "https://discord.com/", Rate: 50}
		if _, err := s.Build(adapterkit.Deps{Metrics: termSet, Log: slog.New(slog.DiscardHandler), Clock: clock.System{}}); err != nil {
			t.Fatalf("term %d: build: %v", term, err)
		}
		if n := series(); n != 1 {
			t.Fatalf("term %d: %d invalid-request series, want 1", term, n)
		}
		if _, ok := metricstest.Value(t, set, `xstatusbot_handler_panics_total{platform="discord"}`); !ok {
			t.Fatalf("term %d: no handler panics counter", term)
		}
		terms.end(termSet)
		if n := series(); n != 0 {
			t.Fatalf("after term %d: %d invalid-request series, want none", term, n)
		}
	}
}
