package discordtest

import (
	"sync"
	"time"
)

// limiter is a token bucket.
type limiter struct {
	mu                  sync.Mutex
	rate, tokens, burst float64
	last                time.Time
}

func (l *limiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}
