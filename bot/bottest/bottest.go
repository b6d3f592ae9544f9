// Package bottest holds small helpers shared by the tests of several
// packages: a clock tests move by hand and a buffer safe for concurrent use.
package bottest

import (
	"bytes"
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

// Idle tells whether the code under test has done all it can at the
// clock's time and sleeps on the clock.
type Idle func() bool

// Timers is the Idle "at least n timers are pending": enough when the code
// under test leaves no timer behind that it no longer waits for.
func (c *Clock) Timers(n int) Idle {
	return func() bool { return c.Waiters() >= n }
}

// WaitIdle waits (in real time, at most 10 s) until at least n timers are
// pending: the code under test has gone to sleep on the clock.
func (c *Clock) WaitIdle(tb testing.TB, n int) {
	tb.Helper()
	c.AwaitIdle(tb, c.Timers(n))
}

// AwaitIdle waits (in real time, at most 10 s) until idle holds, looking
// again whenever a timer is added or fired.
func (c *Clock) AwaitIdle(tb testing.TB, idle Idle) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		changed := c.Changed()
		if idle() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("code under test never went idle (%d timers pending)", c.Waiters())
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Run advances the clock by d in steps of at most step, waiting before
// each step until n timers are pending, so the code under test works
// between steps as it would as time passes.
func (c *Clock) Run(tb testing.TB, n int, d, step time.Duration) {
	tb.Helper()
	c.RunIdle(tb, c.Timers(n), d, step)
}

// RunIdle is Run, waiting before each step until idle holds.
func (c *Clock) RunIdle(tb testing.TB, idle Idle, d, step time.Duration) {
	tb.Helper()
	for d > 0 {
		c.AwaitIdle(tb, idle)
		s := min(d, step)
		c.Advance(s)
		d -= s
	}
	c.AwaitIdle(tb, idle)
}

// RunUntil advances the clock step by step (as Run) until cond holds, and
// returns the clock time that took; it fails the test past max.
func (c *Clock) RunUntil(tb testing.TB, n int, max, step time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	return c.RunIdleUntil(tb, c.Timers(n), max, step, cond)
}

// RunIdleUntil is RunUntil, waiting before each step until idle holds.
func (c *Clock) RunIdleUntil(tb testing.TB, idle Idle, max, step time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	var took time.Duration
	for !cond() {
		if took >= max {
			tb.Fatalf("condition not met within %s of clock time", max)
		}
		c.RunIdle(tb, idle, step, step)
		took += step
	}
	return took
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
