// Package clock is the time source of everything that waits or stamps: the
// probe's rounds, the schedule, the dispatcher, the rate gate, the lease.
// Tests give a manual clock (bottest.Clock) and move it by hand, so retries,
// pauses and backoffs are tested without sleeping.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After is like time.After: the channel receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// System is the real clock.
type System struct{}

func (System) Now() time.Time                         { return time.Now() }
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on c, or until ctx ends; it reports whether d passed.
// A d of zero or less passes at once unless ctx has already ended.
func Sleep(ctx context.Context, c Clock, d time.Duration) bool {
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
	case <-c.After(d):
		return true
	}
}

// Or is c, or the system clock when c is nil: a zero-valued setting means
// real time.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}
