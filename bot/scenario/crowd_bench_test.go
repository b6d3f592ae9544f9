package scenario_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/probe"
)

// BenchmarkReportFlood: 10,000 people /report within one minute (one every
// 6 ms, from 3,000 groups and private chats), answered one by one through
// the service and the SQLite store, while the monitor runs a round every
// second. The signal is decided once, in a round; its alert is one outbox
// row per subscribed chat, however many reports came.
//
//	go test -run '^$' -bench ReportFlood -benchtime 3x ./bot/scenario
func BenchmarkReportFlood(b *testing.B) {
	const people, subscribers = 10000, 1000
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bot.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	clock := bottest.NewClock(t0)
	svc := command.NewService(s, s, clock.Now, quiet())
	for i := range subscribers {
		svc.Handle(ctx, command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: fmt.Sprint("sub", i)}, Private: true, Name: "subscribe"})
	}
	var answer, rounds time.Duration
	var queued int
	for n := 0; b.Loop(); n++ {
		// Each flood starts a day after the last, with its own people: the
		// last one's reports and incident are over.
		clock.Advance(t0.Add(time.Duration(n) * 24 * time.Hour).Sub(clock.Now()))
		tally := crowd.NewTally(crowd.Rule{Reports: 5, Window: 10 * time.Minute})
		svc = command.NewService(s, s, clock.Now, quiet(), command.WithReports(s, tally))
		up := &script{clock: clock, verdict: probe.VerdictUp}
		mon := monitor.New(monitor.Config{Probe: up.Round, Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: s,
			Now: clock.Now, Log: quiet(), Crowd: tally, Reports: s})
		if err := mon.Load(ctx); err != nil {
			b.Fatal(err)
		}
		for range 3 { // X up, and the last flood's signal over
			if err := mon.RunRound(ctx); err != nil {
				b.Fatal(err)
			}
			clock.Advance(time.Second)
		}
		before := outboxRows(b, s)
		start := clock.Now()
		lastRound := start
		for i := range people {
			at := start.Add(time.Duration(i) * 6 * time.Millisecond)
			if at.Sub(lastRound) >= time.Second { // a round each second of the flood
				lastRound = at
				clock.Advance(at.Sub(clock.Now()))
				t := time.Now()
				if err := mon.RunRound(ctx); err != nil {
					b.Fatal(err)
				}
				rounds += time.Since(t)
			}
			clock.Advance(at.Sub(clock.Now()))
			user := fmt.Sprintf("d%d-p%d", n, i)
			chat := user
			if i%10 < 7 { // most reports come from groups
				chat = fmt.Sprint("-100g", i%3000)
			}
			t := time.Now()
			reply, ok := svc.Handle(ctx, command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: chat}, Name: "report", Args: "post", User: user, Private: chat == user})
			answer += time.Since(t)
			if !ok || reply.Title == "" {
				b.Fatalf("report %d: no answer", i)
			}
		}
		if st := mon.Snapshot().Status.State; st != probe.StateDegraded {
			b.Fatalf("after the flood X is %q, want degraded", st)
		}
		queued += outboxRows(b, s) - before
	}
	b.ReportMetric(float64(answer.Microseconds())/float64(b.N*people), "µs/report")
	b.ReportMetric(float64(rounds.Milliseconds())/float64(b.N*60), "ms/round")
	b.ReportMetric(float64(queued)/float64(b.N), "rows/flood")
	if queued != b.N*subscribers {
		b.Fatalf("%d outbox rows for %d floods, want one per subscriber per flood (%d)", queued, b.N, subscribers)
	}
}

func outboxRows(b *testing.B, s *store.Store) int {
	rows, err := s.Outcomes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return len(rows)
}
