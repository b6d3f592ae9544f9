package bot

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait between retries of something that keeps failing: it
// doubles from Min with each failure in a row, up to Max. It is a value
// computed from the failure count, so a count kept in a database row (the
// outbox's attempts) needs no backoff state beside it.
type Backoff struct {
	Min, Max time.Duration
}

// Delay is the wait after the failures-th failure in a row (1 for the
// first). The one jitter rule of the bot: a uniform draw from the upper half,
// [d/2, d], of the doubled value d. Chats or connections that failed
// together then retry spread out rather than in step, the wait never exceeds
// Max (a reconnect capped at 30 s resumes within 30 s of the platform's
// return), and it never falls below half of d. Min ≤ 0 means Max at once.
func (b Backoff) Delay(failures int) time.Duration {
	d := b.Min
	if d <= 0 {
		d = b.Max
	}
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d-d/2+1)
}
