package bot

import (
	"context"
	"time"
)

// Clock is the time source of everything that waits: the dispatcher, the
// rate gate. Tests give a manual clock (bottest.Clock) and move it by hand,
// so retries, pauses and backoffs are tested without sleeping.
type Clock interface {
	Now() time.Time
	// After is like time.After: the channel receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on clock, or until ctx ends; it reports whether d passed.
// A d of zero or less passes at once unless ctx has already ended.
func Sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-ctx.Done():
			return false
		default:
			return true
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-clock.After(d):
		return true
	}
}
