package probe_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// await polls cond until it holds; the deadline only bounds a hung test.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startRound runs one round of a single target in the background.
func startRound(c *probe.Checker, x *fakex.Server) <-chan probe.Round {
	done := make(chan probe.Round, 1)
	go func() { done <- c.Round(context.Background(), []probe.Target{{Name: "web", URL: x.URL()}}, nil) }()
	return done
}

func awaitRound(t *testing.T, done <-chan probe.Round) probe.Round {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the round did not end")
		return probe.Round{}
	}
}

// TestRoundRetryFitsTheInterval drives the retry rule with a manual clock:
// the fake X holds the first request while the clock moves to where in the
// round the failure happens, then answers 503.
func TestRoundRetryFitsTheInterval(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		failAt   time.Duration // clock time into the round when the first 503 comes
		wait     time.Duration // the retry's wait; 0: no retry
		// countHits: the retry's timeout is at least 1 s, so its request surely
		// reaches the fake even under -race on a loaded machine.
		countHits bool
		duration  time.Duration
	}{
		{"@every 1s: retry after interval/10", time.Second, 0, 100 * time.Millisecond, false, 100 * time.Millisecond},
		{"@every 10s: the retry still fits", 10 * time.Second, 7 * time.Second, time.Second, true, 8 * time.Second},
		{"@every 10s: no room left, no retry", 10 * time.Second, 7500 * time.Millisecond, 0, true, 7500 * time.Millisecond},
		{"@every 30s: retry after PROBE_RETRY_DELAY", 30 * time.Second, 0, time.Second, true, time.Second},
		{"interval unknown: retry after PROBE_RETRY_DELAY", 0, 0, time.Second, true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := fakex.New()
			defer x.Close()
			x.Set(fakex.Down503)
			x.SetHold(true)
			clk := bottest.NewClock(t0)
			c := &probe.Checker{Client: &http.Client{}, Timeout: 10 * time.Second, RetryDelay: time.Second, Interval: tt.interval, Clock: clk}
			done := startRound(c, x)
			await(t, "the first request", func() bool { return x.Hits() == 1 })
			clk.Advance(tt.failAt)
			x.SetHold(false)
			if tt.wait > 0 {
				// The first request's deadline and the retry's wait.
				await(t, "the retry's wait", func() bool { return clk.Waiters() == 2 })
				if next, _ := clk.Next(); next.Sub(t0) != tt.failAt+tt.wait {
					t.Fatalf("retry waits until %s into the round, want %s", next.Sub(t0), tt.failAt+tt.wait)
				}
				clk.Advance(tt.wait)
			}
			r := awaitRound(t, done)
			if r.Duration != tt.duration {
				t.Errorf("round took %s on the clock, want %s", r.Duration, tt.duration)
			}
			if tt.interval > 0 && r.Duration > tt.interval*9/10 {
				t.Errorf("round took %s, past 90%% of the %s interval", r.Duration, tt.interval)
			}
			if r.Verdict != probe.VerdictDown || r.Targets[0].Detail != "HTTP 503" {
				t.Errorf("round = %s %+v, want down with HTTP 503", r.Verdict, r.Targets)
			}
			want := 1
			if tt.wait > 0 {
				want = 2
			}
			if got := x.Hits(); tt.countHits && got != want {
				t.Errorf("fake X saw %d requests, want %d", got, want)
			}
		})
	}
}

// TestRoundRetriesResetAtOnce: a reset connection is retried without waiting
// on the clock, which nobody advances here.
func TestRoundRetriesResetAtOnce(t *testing.T) {
	x := fakex.New()
	defer x.Close()
	x.Set(fakex.Reset)
	clk := bottest.NewClock(t0)
	c := &probe.Checker{Client: &http.Client{}, Timeout: 10 * time.Second, RetryDelay: time.Second, Interval: 30 * time.Second, Clock: clk}
	r := awaitRound(t, startRound(c, x))
	if got := x.Hits(); got != 2 {
		t.Fatalf("fake X saw %d requests, want 2 (the retry)", got)
	}
	if r.Targets[0].Detail != "connection reset" || r.Duration != 0 {
		t.Fatalf("round = %+v, want a connection reset and no time spent waiting", r)
	}
}

// TestRoundRetryTimeoutIsCutToTheRound: the retry of a failure late in the
// round gets only the room left, not PROBE_TIMEOUT (2 minutes here), and a
// timeout of that shortened retry keeps the first failure as the cause.
func TestRoundRetryTimeoutIsCutToTheRound(t *testing.T) {
	x := fakex.New()
	defer x.Close()
	x.Set(fakex.Down503)
	x.SetHold(true)
	clk := bottest.NewClock(t0)
	c := &probe.Checker{Client: &http.Client{}, Timeout: 2 * time.Minute, RetryDelay: time.Second, Interval: 10 * time.Second, Clock: clk}
	done := startRound(c, x)
	await(t, "the first request", func() bool { return x.Hits() == 1 })
	clk.Advance(7 * time.Second)
	x.Set(fakex.Hang) // the held request already has its mode: 503
	x.SetHold(false)
	// The retry's wait, and the first request's deadline.
	await(t, "the retry's wait", func() bool { return clk.Waiters() == 2 })
	clk.Advance(time.Second) // 8 s in: 1 s left before the 9 s mark
	await(t, "the retry", func() bool { return x.Hits() == 2 })
	if next, _ := clk.Next(); next.Sub(t0) != 9*time.Second {
		t.Fatalf("the retry's deadline is %s into the round, want 9s (not 2 minutes)", next.Sub(t0))
	}
	clk.Advance(time.Second)
	r := awaitRound(t, done)
	if got := x.Hits(); got != 2 {
		t.Fatalf("fake X saw %d requests, want 2", got)
	}
	if r.Targets[0].Detail != "HTTP 503" {
		t.Fatalf("result = %+v, want the first failure, HTTP 503", r.Targets[0])
	}
}

// TestRoundDeadlineIsWhatIsLeftOfTheRound: X hangs (connections accepted,
// never answered). The request's deadline is the smaller of PROBE_TIMEOUT and
// the 90% mark of the interval, on the checker's clock; the hang is a timeout
// failure inside the round, and it is not retried.
func TestRoundDeadlineIsWhatIsLeftOfTheRound(t *testing.T) {
	for _, tt := range []struct {
		name     string
		interval time.Duration
		deadline time.Duration
		detail   string
	}{
		{"@every 1s: cut at 900ms", time.Second, 900 * time.Millisecond, "timeout after 900ms"},
		{"@every 30s: PROBE_TIMEOUT, no retry", 30 * time.Second, 10 * time.Second, "timeout after 10s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := fakex.New()
			defer x.Close()
			x.Set(fakex.Hang)
			clk := bottest.NewClock(t0)
			c := &probe.Checker{Client: &http.Client{}, Timeout: 10 * time.Second, RetryDelay: time.Second, Interval: tt.interval, Clock: clk}
			done := startRound(c, x)
			await(t, "the request", func() bool { return x.Hits() == 1 && clk.Waiters() == 1 })
			if next, _ := clk.Next(); next.Sub(t0) != tt.deadline {
				t.Fatalf("the request's deadline is %s into the round, want %s", next.Sub(t0), tt.deadline)
			}
			clk.Advance(tt.deadline)
			r := awaitRound(t, done)
			if r.Duration != tt.deadline || r.Verdict != probe.VerdictDown || r.Targets[0].Class != probe.ClassTimeout || r.Targets[0].Detail != tt.detail {
				t.Fatalf("round = %s after %s, %+v; want down after %s with %q", r.Verdict, r.Duration, r.Targets[0], tt.deadline, tt.detail)
			}
			if got := x.Hits(); got != 1 {
				t.Fatalf("fake X saw %d requests, want 1: a timeout is not retried", got)
			}
		})
	}
}
