package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// BenchFanOutSettings measures the transaction of a round that fans a change
// out to 10,000 subscribers with mixed settings (1 in 4 on outages, 1 in 10
// muted, 1 in 5 with reminders), after 5 delivered incidents: the down
// change (settings filter) and its recovery (the heard-of-the-incident
// lookup per subscriber), in ms each. open gives a store on a fresh, empty
// database, closed by the benchmark; a store that is a bot.Lease is made
// leader first, so its fence is measured too.
func BenchFanOutSettings(b *testing.B, open func(b *testing.B) Store) {
	ctx := b.Context()
	const subscribers, history = 10000, 5
	for range b.N {
		b.StopTimer()
		s := open(b)
		if l, ok := s.(bot.Lease); ok {
			if _, held, err := l.Acquire(ctx, leaseTTL); err != nil || !held {
				b.Fatalf("take the leader lease: held %v, %v", held, err)
			}
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
		sent := 0
		for k := range history + 1 {
			at := t0.Add(time.Duration(k) * time.Hour)
			start := time.Now()
			SaveDown(b, s, at)
			downMs = float64(time.Since(start).Microseconds()) / 1000
			sent += sendAll(b, s, at)
			start = time.Now()
			SaveRecovery(b, s, at.Add(time.Minute))
			upMs = float64(time.Since(start).Microseconds()) / 1000
			sent += sendAll(b, s, at.Add(time.Minute))
		}
		if want := 2 * (history + 1) * (subscribers - muted); sent != want {
			b.Fatalf("%d rows sent, want %d: every chat not muted gets each down and its recovery", sent, want)
		}
		b.ReportMetric(downMs, "ms/down-save")
		b.ReportMetric(upMs, "ms/up-save")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// sendAll marks every pending row sent and says how many there were.
func sendAll(b *testing.B, s Store, at time.Time) int {
	b.Helper()
	due, err := s.Due(b.Context(), tgPlatform, at, 1<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, len(due))
	for i, d := range due {
		ids[i] = d.ID
	}
	if err := s.Finish(b.Context(), ids, bot.StatusSent, "m", "", at); err != nil {
		b.Fatal(err)
	}
	return len(due)
}
