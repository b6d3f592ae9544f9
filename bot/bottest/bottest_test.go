package bottest_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAssertNoSecret(t *testing.T) {
	const secret = "123:Tok/en+x"
	for _, tc := range []struct {
		name string
		text string
		fail bool
	}{
		{"raw", "url https://h/bot" + secret + "/getMe", true},
		{"path-escaped", "url https://h/bot" + url.PathEscape(secret) + "/getMe", true},
		{"query-escaped", "?token=" + url.QueryEscape(secret), true},
		{"lower-case escape", "?token=" + strings.ToLower(url.QueryEscape(secret)), true},
		{"absent", "url https://h/bot[redacted]/getMe", false},
		{"a prefix only", "123:Tok", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			bottest.AssertNoSecret(r, secret, "clean", tc.text)
			if (len(r.errs) > 0) != tc.fail {
				t.Fatalf("failures %q, want failing %v", r.errs, tc.fail)
			}
			for _, e := range r.errs {
				if !strings.Contains(e, "text 2 of 2") || !strings.Contains(e, "<SECRET>") || strings.Contains(strings.ToLower(e), "tok/en") {
					t.Errorf("failure %q: want the text's number and the secret masked", e)
				}
			}
		})
	}
}

func TestAwaitWaiters(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- clock.AwaitWaiters(ctx, 2) }()
	clock.After(time.Second)
	clock.After(time.Minute)
	if err := <-got; err != nil {
		t.Fatalf("AwaitWaiters with 2 timers pending: %v", err)
	}

	ended, stop := context.WithCancel(context.Background())
	stop()
	if err := clock.AwaitWaiters(ended, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("AwaitWaiters on an ended ctx = %v, want context.Canceled", err)
	}
}
