package main

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/discord"
)

// A replica builds its adapters again for each term it leads: the Discord
// adapter's gauge registers anew each time, and shows only while a term lasts.
func TestAdapterMetricsGoWithTheirTerm(t *testing.T) {
	reg := prometheus.NewRegistry()
	series := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if mf.GetName() == "xstatusbot_discord_invalid_requests" {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	for term := 1; term <= 2; term++ {
		tm := &termMetrics{Registerer: reg}
		s := &discord.Config{Token: "token", APIURL: "https://discord.com/", Rate: 50}
		if _, err := s.Build(adapterkit.Deps{Metrics: tm, Log: slog.New(slog.DiscardHandler), Clock: clock.System{}}); err != nil {
			t.Fatalf("term %d: build: %v", term, err)
		}
		if n := series(); n != 1 {
			t.Fatalf("term %d: %d invalid-request series, want 1", term, n)
		}
		tm.end()
		if n := series(); n != 0 {
			t.Fatalf("after term %d: %d invalid-request series, want none", term, n)
		}
	}
}
