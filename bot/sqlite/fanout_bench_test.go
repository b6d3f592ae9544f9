package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/sqlite"
)

// BenchmarkFanOutSettings measures the transaction of a round that fans a
// change out to 10,000 subscribers with mixed settings (1 in 4 on outages,
// 1 in 10 muted, 1 in 5 with reminders), after 5 delivered incidents: the
// down change (settings filter) and its recovery (the heard-of-the-incident
// lookup per subscriber), in ms each.
//
//	go test -run '^$' -bench FanOutSettings -benchtime 1x ./bot/sqlite
func BenchmarkFanOutSettings(b *testing.B) {
	ctx := context.Background()
	const subscribers, history = 10000, 5
	for range b.N {
		b.StopTimer()
		s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bot.db"))
		if err != nil {
			b.Fatal(err)
		}
		muted := 0
		for i := range subscribers {
			c := chat(tgPlatform, fmt.Sprint(i))
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
			saveDown(b, s, at)
			downMs = float64(time.Since(start).Microseconds()) / 1000
			sendAll(b, s, at)
			start = time.Now()
			saveRecovery(b, s, at.Add(time.Minute))
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

// sendAll marks every pending row sent.
func sendAll(b *testing.B, s *sqlite.Store, at time.Time) {
	b.Helper()
	due, err := s.Due(context.Background(), tgPlatform, at, 1<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, len(due))
	for i, d := range due {
		ids[i] = d.ID
	}
	if err := s.Finish(context.Background(), ids, bot.StatusSent, "m", "", at); err != nil {
		b.Fatal(err)
	}
}
