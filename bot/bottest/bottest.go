// Package bottest holds small helpers shared by the tests of several
// packages: a clock tests move by hand, a buffer safe for concurrent use and
// the check that a secret never shows.
package bottest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clock is a manual clock: it stands still until Advance moves it. Its
// timers (After) fire when Advance reaches them, so code that waits on the
// clock is driven by the test, never by real time.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t, changed: make(chan struct{})} }

// Now returns the clock's time; pass the method value where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and fires the timers it reaches.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			kept = append(kept, w)
		} else {
			w.ch <- c.t
		}
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
	c.notify()
}

// After returns a channel that receives the clock's time once Advance has
// moved it by d or more. A d of zero or less fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.t.Add(d), ch: ch})
	c.notify()
	return ch
}

func (c *Clock) notify() {
	if c.changed == nil {
		c.changed = make(chan struct{})
		return
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Waiters is how many timers are pending.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Next is the time of the earliest pending timer, and false if there is none.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, w := range c.waiters {
		if next.IsZero() || w.at.Before(next) {
			next = w.at
		}
	}
	return next, !next.IsZero()
}

// Changed returns a channel closed the next time a timer is added or fired,
// so a test can wait for the code under test to block on the clock.
func (c *Clock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// AwaitWaiters blocks until at least n timers are pending, that is until the
// code under test waits on the clock, or until ctx ends.
func (c *Clock) AwaitWaiters(ctx context.Context, n int) error {
	for {
		changed := c.Changed()
		if c.Waiters() >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d timers pending, want %d: %w", c.Waiters(), n, ctx.Err())
		}
	}
}

// Buffer is a bytes.Buffer that many goroutines may write while a test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// AssertNoSecret fails t for each text that holds secret raw, path-escaped or
// query-escaped, in any letter case (an escape may print as %2f or %2F). The
// failure shows the text lower-cased with the secret masked, so the test log
// does not spread it either.
func AssertNoSecret(t testing.TB, secret string, texts ...string) {
	t.Helper()
	if secret == "" {
		t.Fatal("AssertNoSecret: empty secret")
	}
	var forms []string
	for _, f := range []string{secret, url.PathEscape(secret), url.QueryEscape(secret)} {
		forms = append(forms, strings.ToLower(f))
	}
	for i, text := range texts {
		low := strings.ToLower(text)
		masked := low
		for _, f := range forms {
			masked = strings.ReplaceAll(masked, f, "<SECRET>")
		}
		if masked != low {
			t.Errorf("text %d of %d holds the secret: %s", i+1, len(texts), masked)
		}
	}
}
