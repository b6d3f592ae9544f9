package bot_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

func TestParseSchedule(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		spec string
		gap  time.Duration
		err  string
	}{
		{"@every 30s", 30 * time.Second, ""},
		{"*/5 * * * *", 5 * time.Minute, ""},
		{"@hourly", time.Hour, ""},
		{"every 30s", 0, "invalid schedule"},
		{"* * * * * *", 0, "invalid schedule"}, // six fields need WithSeconds
		{"@every -1s", 0, "invalid schedule"},
		{"", 0, "invalid schedule"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := bot.ParseSchedule(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := bot.Interval(s, now); got != tt.gap {
				t.Fatalf("interval %s, want %s", got, tt.gap)
			}
		})
	}
}

// TestRunScheduleFirstRunAndPanics checks the first run happens at start and
// that a panicking job neither kills the process nor stops later runs.
func TestRunScheduleFirstRunAndPanics(t *testing.T) {
	s, _ := bot.ParseSchedule("@every 1s")
	var runs atomic.Int32
	ran := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		bot.RunSchedule(ctx, s, func() {
			n := runs.Add(1)
			ran <- struct{}{}
			if n == 1 {
				panic("first round explodes")
			}
		}, time.Second, quiet())
		close(done)
	}()
	<-ran // the first run happens at start, before any tick
	<-ran // and a later tick still runs after the panic
	cancel()
	<-done
	if runs.Load() < 2 {
		t.Fatalf("runs %d", runs.Load())
	}
}
