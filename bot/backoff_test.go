package bot_test

import (
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

func TestBackoffDoublesWithinTheUpperHalf(t *testing.T) {
	b := bot.Backoff{Min: time.Second, Max: 30 * time.Second}
	for failures := 1; failures <= 40; failures++ {
		d := time.Second << min(failures-1, 10)
		d = min(d, b.Max)
		for range 200 {
			if got := b.Delay(failures); got < d/2 || got > d {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", failures, got, d/2, d)
			}
		}
	}
}

func TestBackoffJitters(t *testing.T) {
	b := bot.Backoff{Min: time.Second, Max: 30 * time.Second}
	seen := map[time.Duration]bool{}
	var longest time.Duration
	for range 200 {
		d := b.Delay(10)
		seen[d] = true
		longest = max(longest, d)
	}
	// 200 draws from 15 s of nanoseconds: equal values would mean no jitter.
	if len(seen) < 100 {
		t.Errorf("%d distinct waits in 200 draws: no jitter", len(seen))
	}
	if longest < 25*time.Second {
		t.Errorf("longest of 200 capped waits %v: want the draws to reach near the cap", longest)
	}
}

func TestBackoffEdges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		b        bot.Backoff
		failures int
		lo, hi   time.Duration
	}{
		{"zero failures is the first", bot.Backoff{Min: time.Second, Max: time.Minute}, 0, 500 * time.Millisecond, time.Second},
		{"no Min starts at Max", bot.Backoff{Max: 4 * time.Second}, 1, 2 * time.Second, 4 * time.Second},
		{"Min above Max is cut", bot.Backoff{Min: time.Hour, Max: time.Minute}, 1, 30 * time.Second, time.Minute},
		{"zero", bot.Backoff{}, 5, 0, 0},
		{"negative", bot.Backoff{Min: -time.Second, Max: -time.Second}, 3, 0, 0},
		{"no overflow", bot.Backoff{Min: time.Hour, Max: 1 << 62}, 1 << 20, 1 << 61, 1 << 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.failures); got < tc.lo || got > tc.hi {
				t.Errorf("Delay(%d) = %v, want within [%v, %v]", tc.failures, got, tc.lo, tc.hi)
			}
		})
	}
}
