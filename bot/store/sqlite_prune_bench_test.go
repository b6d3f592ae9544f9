package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkPruneOutbox measures, on 10,000 subscribers with 9 delivered
// fan-outs (90,000 finished rows) and one pending fan-out, how long a round
// that prunes one batch takes, and Due before and after pruning.
//
//	go test -run '^$' -bench PruneOutbox -benchtime 1x ./bot/store
func BenchmarkPruneOutbox(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bot.db"), store.WithOutboxRetention(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		const subscribers, fanouts = 10000, 10
		for i := range subscribers {
			sub := bot.Subscription{Chat: chat(tgPlatform, fmt.Sprint(i)), Kind: "private", CreatedAt: t0}
			if _, err := s.Subscribe(ctx, sub); err != nil {
				b.Fatal(err)
			}
		}
		for f := range fanouts {
			at := t0.Add(time.Duration(f) * time.Minute)
			storetest.SaveDown(b, s, at)
			if f == fanouts-1 {
				break // the last fan-out stays pending
			}
			due, err := s.Due(ctx, tgPlatform, at, subscribers, nil)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]int64, len(due))
			for i, d := range due {
				ids[i] = d.ID
			}
			if err := s.Finish(ctx, ids, bot.StatusExpired, "", "bench", at); err != nil {
				b.Fatal(err)
			}
		}
		now := t0.Add(2 * time.Hour)
		dueBefore := timeDue(b, s, now)

		var spent time.Duration
		rounds := 0
		for ; rounds < 1000; rounds++ {
			if n, err := s.ChangeCount(ctx); err != nil || n == 1 {
				break // only the pending fan-out's change is left
			}
			b.StartTimer()
			start := time.Now()
			upRound(b, s, now.Add(time.Duration(rounds)*30*time.Second))
			spent += time.Since(start)
			b.StopTimer()
		}
		if out, err := s.Outcomes(ctx); err != nil || len(out) != subscribers {
			b.Fatalf("%d rows left after %d rounds (%v), want the %d pending", len(out), rounds, err, subscribers)
		}
		b.ReportMetric(float64(spent.Microseconds())/float64(rounds)/1000, "ms/round")
		b.ReportMetric(float64(rounds), "rounds")
		b.ReportMetric(dueBefore, "ms/due-before")
		b.ReportMetric(timeDue(b, s, now), "ms/due-after")
		s.Close()
	}
}

// timeDue times one Due of 100 chats, in milliseconds.
func timeDue(b *testing.B, s *store.Store, now time.Time) float64 {
	b.Helper()
	start := time.Now()
	due, err := s.Due(context.Background(), tgPlatform, now, 100, nil)
	if err != nil || len(due) != 100 {
		b.Fatalf("due %d, %v", len(due), err)
	}
	return float64(time.Since(start).Microseconds()) / 1000
}
