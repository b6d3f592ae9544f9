package discord

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Discord bans an IP for a while after 10,000 invalid requests (answers 401,
// 403 and 429, except 429s of a shared bucket) in 10 minutes. The adapter
// stops sending well before: at InvalidRequestLimit in the same window.
const (
	InvalidRequestWindow = 10 * time.Minute
	InvalidRequestLimit  = 2000
)

// A 429 without any X-RateLimit-* header does not come from Discord's
// per-route buckets but from Cloudflare in front of it: it holds for every
// route. Without a Retry-After, the pause starts at headerlessMin and
// doubles with each such 429 after the previous pause, up to headerlessMax.
const (
	headerlessMin = time.Second
	headerlessMax = time.Minute
)

// errPaused is returned by Send during the pause after a headerless 429.
var errPaused = errors.New("paused after a 429 without rate-limit headers (Cloudflare)")

// errTooManyInvalid is returned by Send while the invalid-request count is at the limit.
var errTooManyInvalid = errors.New("too many invalid requests to Discord in the last 10 minutes; sends paused to avoid an IP ban")

// countsAsInvalid reports whether Discord counts an answer towards its IP ban.
func countsAsInvalid(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusTooManyRequests:
		return !strings.EqualFold(resp.Header.Get("X-RateLimit-Scope"), "shared")
	}
	return false
}

// hasRateLimitHeaders reports whether an answer carries any X-RateLimit-* header.
func hasRateLimitHeaders(h http.Header) bool {
	for k := range h {
		if len(k) >= len("X-Ratelimit-") && strings.EqualFold(k[:len("X-Ratelimit-")], "X-Ratelimit-") {
			return true
		}
	}
	return false
}

// window counts events in a sliding time window. It keeps one slot per
// second, so its size stays bounded however many events arrive.
type window struct {
	span time.Duration

	mu    sync.Mutex
	slots []slot // oldest first
	total int
}

type slot struct {
	sec int64
	n   int
}

func (w *window) add(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(now)
	sec := now.Unix()
	if n := len(w.slots); n > 0 && w.slots[n-1].sec >= sec {
		w.slots[n-1].n++ // same second (or a clock that stepped back)
	} else {
		w.slots = append(w.slots, slot{sec: sec, n: 1})
	}
	w.total++
}

func (w *window) count(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(now)
	return w.total
}

// prune drops the slots that left the window; call with w.mu held.
func (w *window) prune(now time.Time) {
	cutoff := now.Add(-w.span).Unix()
	k := 0
	for k < len(w.slots) && w.slots[k].sec <= cutoff {
		w.total -= w.slots[k].n
		k++
	}
	if k > 0 {
		w.slots = append(w.slots[:0], w.slots[k:]...)
	}
}

// headerlessPause is the platform-wide pause after 429s without rate-limit headers.
type headerlessPause struct {
	mu    sync.Mutex
	pause time.Duration // the last pause set; 0 after a success
	until time.Time
}

// limited records a headerless 429 answered at now and returns how long
// every send should wait. 429s answered during the pause an earlier one set
// (concurrent sends) share that pause; the first after it doubles it.
// retryAfter, when the answer had one, sets the pause instead.
func (p *headerlessPause) limited(now time.Time, retryAfter time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.until) {
		return p.until.Sub(now)
	}
	p.pause = min(max(2*p.pause, headerlessMin), headerlessMax)
	wait := p.pause
	if retryAfter > 0 {
		wait = retryAfter
	}
	p.until = now.Add(wait)
	return wait
}

// remaining is how much of the current pause is left at now.
func (p *headerlessPause) remaining(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.until.Sub(now), 0)
}

// ok records a successful send: the next headerless 429 starts again from headerlessMin.
func (p *headerlessPause) ok() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pause = 0
}
