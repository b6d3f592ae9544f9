package delivery

import (
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Policy is how fast and how persistently one platform is sent to.
type Policy struct {
	// Rate is the ceiling of messages per second across all chats (0: none).
	Rate float64
	// PerChat is the least time between two messages to one chat.
	PerChat time.Duration
	// Workers is how many sends may be in flight at once (one per chat at most).
	Workers int
	// MaxAttempts bounds retries of retryable (chat-specific) errors before a
	// row expires. Unavailable (platform-wide) errors never spend attempts.
	MaxAttempts int
	// MaxAge expires a notification that could not be delivered for this long.
	MaxAge time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between retries.
	BackoffMin, BackoffMax time.Duration
	// TrialMin and TrialMax bound the wait between two trial sends to a
	// paused (unavailable) platform: it doubles from TrialMin to TrialMax.
	TrialMin, TrialMax time.Duration
	// PauseAfter is how many different chats must fail as unavailable, with
	// no answer from the platform in between, to pause the platform: one
	// chat failing however often is that chat's problem, never a pause.
	PauseAfter int
}

// Defaults of the circuit breaker. A trial every 4 s at most costs nothing to
// a platform that is down, and puts the backlog back in motion within about
// 5 s of its return, whatever the length of the outage.
const (
	DefaultTrialMin   = time.Second
	DefaultTrialMax   = 4 * time.Second
	DefaultPauseAfter = 3
	// DefaultShutdownGrace bounds how long sends in flight may finish after
	// the dispatcher is told to stop.
	DefaultShutdownGrace = 10 * time.Second
)

// DefaultPolicy returns sane defaults for a platform sending at ratePerSec.
func DefaultPolicy(ratePerSec float64) Policy {
	return Policy{Rate: ratePerSec, PerChat: time.Second, Workers: 16, MaxAttempts: 8,
		MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: 5 * time.Minute,
		TrialMin: DefaultTrialMin, TrialMax: DefaultTrialMax, PauseAfter: DefaultPauseAfter}
}

func (p Policy) backoff(attempt int) time.Duration {
	return bot.Backoff{Min: p.BackoffMin, Max: p.BackoffMax}.Delay(attempt)
}
