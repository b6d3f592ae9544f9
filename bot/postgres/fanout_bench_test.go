package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/postgres"
	"github.com/xstatusbot/xstatusbot/bot/postgres/pgtest"
)

// BenchmarkFanOutSettings is the SQLite store's benchmark of the same name on
// PostgreSQL: the transaction of a round that fans a change out to 10,000
// subscribers with mixed settings (1 in 4 on outages, 1 in 10 muted, 1 in 5
// with reminders), after 5 delivered incidents: the down change (settings
// filter) and its recovery (the heard-of-the-incident lookup per
// subscriber), in ms each, fence included.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench FanOutSettings -benchtime 1x ./bot/postgres
func BenchmarkFanOutSettings(b *testing.B) {
	ctx := context.Background()
	const subscribers, history = 10000, 5
	for range b.N {
		b.StopTimer()
		s := open(b, pgtest.URL(b), "bench")
		lead(b, s)
		muted := 0
		for i := range subscribers {
			c := chat(fmt.Sprint(i))
			if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", CreatedAt: t0}); err != nil {
				b.Fatal(err)
			}
			_, _, err := s.UpdateSettings(ctx, c, func(cs *bot.ChatSettings) {
				if i%4 == 0 {
					cs.Level = bot.AlertsOutages
				}
				if i%10 == 1 {
					cs.MutedUntil = t0.Add(365 * 24 * time.Hour)
					muted++
				}
				if i%5 == 2 {
					cs.RemindEvery = time.Hour
				}
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		var downMs, upMs float64
		for k := range history + 1 {
			at := t0.Add(time.Duration(k) * time.Hour)
			start := time.Now()
			down := save(b, s, downSnapshot(at))
			downMs = float64(time.Since(start).Microseconds()) / 1000
			sendAll(b, s, at)
			start = time.Now()
			save(b, s, recoverySnapshot(*down.Incident, at.Add(time.Minute)))
			upMs = float64(time.Since(start).Microseconds()) / 1000
			sendAll(b, s, at.Add(time.Minute))
		}
		out, err := s.Outcomes(ctx)
		if want := 2 * (history + 1) * (subscribers - muted); err != nil || len(out) != want {
			b.Fatalf("%d rows (%v), want %d: every chat not muted got each down and its recovery", len(out), err, want)
		}
		b.ReportMetric(downMs, "ms/down-save")
		b.ReportMetric(upMs, "ms/up-save")
		s.Close()
	}
}

// sendAll claims every pending row and marks it sent.
func sendAll(b *testing.B, s *postgres.Store, at time.Time) {
	b.Helper()
	due, err := s.Due(context.Background(), tgPlatform, at, 1<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Finish(context.Background(), ids(due), bot.StatusSent, "m", "", at); err != nil {
		b.Fatal(err)
	}
}
