// Package adaptertest runs the real chain in front of an adapter for the
// adapters' end-to-end tests: the probe against a fake X, a monitor that
// decides each change and saves it in a SQLite store, and the dispatcher
// that delivers it through the adapter. With the chain here, each adapter's
// test keeps only what it attacks: its own platform's answers and faults.
package adaptertest

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// Store opens a SQLite store in a directory of the test's own; it is closed
// when the test ends.
func Store(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "bot.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// Chain is a monitor probing a fake X and a dispatcher delivering what it
// decides, both running until the test ends.
type Chain struct {
	// X is the fake X the probe checks, up at first.
	X   *fakex.Server
	mon *monitor.Monitor
}

// Start starts a fake X, a monitor that changes state when two rounds in a
// row agree, and a dispatcher that delivers from store through channels on
// the system clock. Everything stops when the test ends.
func Start(tb testing.TB, store *store.Store, channels []delivery.Channel, log *slog.Logger) *Chain {
	tb.Helper()
	x := fakex.New()
	tb.Cleanup(x.Close)
	targets := []probe.Target{{Name: "web", URL: x.URL() + "/"}, {Name: "api", URL: x.URL() + "/api"}}
	checker := &probe.Checker{Client: &http.Client{}, Timeout: time.Second, RetryDelay: 10 * time.Millisecond}
	disp := delivery.NewDispatcher(store, channels, clock.System{}, log, nil)
	mon := monitor.New(monitor.Config{
		Probe:   func(ctx context.Context) probe.Round { return checker.Round(ctx, targets, nil) },
		Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2},
		Store:   store, Log: log, Changed: disp.Wake,
	})
	if err := mon.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return &Chain{X: x, mon: mon}
}

// Rounds runs n rounds of checks against X, one after the other.
func (c *Chain) Rounds(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		if err := c.mon.RunRound(context.Background()); err != nil {
			tb.Fatal(err)
		}
	}
}

// RecordOutage runs seven real monitor rounds into st, 10 s apart, starting
// ten minutes before now: up, failing from -9m40s (announced down at
// -9m30s), healthy again from -9m10s (announced up at -9m00s). A failing
// round's target "api" answered 503, with detail as the probe's words.
func RecordOutage(tb testing.TB, st bot.StateStore, now time.Time, detail string) {
	tb.Helper()
	verdicts := []probe.Verdict{probe.VerdictUp, probe.VerdictUp, probe.VerdictDown, probe.VerdictDown, probe.VerdictDown, probe.VerdictUp, probe.VerdictUp}
	k := 0
	mon := monitor.New(monitor.Config{
		Probe: func(context.Context) probe.Round {
			r := probe.Round{Start: now.Add(-10*time.Minute + time.Duration(k)*10*time.Second), Verdict: verdicts[k]}
			if r.Verdict == probe.VerdictDown {
				r.Targets = []probe.Result{{Target: "api", Class: probe.ClassStatus, Status: 503, Detail: detail}}
			} else {
				r.Targets = []probe.Result{{Target: "api", Latency: 90 * time.Millisecond}}
			}
			k++
			return r
		},
		Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: st, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler),
	})
	if err := mon.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	for range verdicts {
		if err := mon.RunRound(context.Background()); err != nil {
			tb.Fatal(err)
		}
	}
}
