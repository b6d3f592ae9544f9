package adapterkit_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

func TestRetryWaitsBacksOffAndStops(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC))
	logs := &bottest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	errDown := errors.New("connection refused")
	errToken := errors.New("token refused")
	b := bot.Backoff{Min: time.Second, Max: 30 * time.Second}

	t.Run("succeeds after failures, honouring retry_after", func(t *testing.T) {
		calls := 0
		var waits []time.Time
		done := make(chan error, 1)
		go func() {
			done <- adapterkit.Retry(context.Background(), clock, b, log, "unreachable; retrying", func(context.Context) (time.Duration, error) {
				calls++
				waits = append(waits, clock.Now())
				switch calls {
				case 1:
					return 7 * time.Second, errDown // the platform said how long
				case 2, 3:
					return 0, errDown
				}
				return 0, nil
			})
		}()
		for {
			select {
			case err := <-done:
				if err != nil || calls != 4 {
					t.Fatalf("err %v after %d calls, want success after 4", err, calls)
				}
				if got := waits[1].Sub(waits[0]); got != 7*time.Second {
					t.Fatalf("waited %s after a retry_after of 7s", got)
				}
				for i := 2; i < len(waits); i++ {
					if d := waits[i].Sub(waits[i-1]); d > 30*time.Second || d <= 0 {
						t.Fatalf("wait %d was %s, want within (0, 30s]", i, d)
					}
				}
				if n := strings.Count(logs.String(), "unreachable; retrying"); n != 3 {
					t.Fatalf("%d warn lines, want one per failure (3):\n%s", n, logs)
				}
				return
			case <-clock.Changed():
				if next, ok := clock.Next(); ok {
					clock.Advance(next.Sub(clock.Now()))
				}
			case <-time.After(10 * time.Millisecond):
				if next, ok := clock.Next(); ok {
					clock.Advance(next.Sub(clock.Now()))
				}
			}
		}
	})
	t.Run("a final error stops at once", func(t *testing.T) {
		calls := 0
		err := adapterkit.Retry(context.Background(), clock, b, log, "x", func(context.Context) (time.Duration, error) {
			calls++
			return 0, adapterkit.Final(errToken)
		})
		if !errors.Is(err, errToken) || calls != 1 {
			t.Fatalf("err %v after %d calls, want the token error after 1", err, calls)
		}
	})
	t.Run("the end of ctx stops the wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- adapterkit.Retry(ctx, clock, b, log, "x", func(context.Context) (time.Duration, error) { return 0, errDown })
		}()
		clock.WaitIdle(t, 1)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}
