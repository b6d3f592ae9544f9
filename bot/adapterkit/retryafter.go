package adapterkit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds the wait a Retry-After header can impose: a broken or
// hostile value must not park a platform for days, and a float of seconds
// beyond it would overflow a time.Duration.
const MaxRetryAfter = time.Hour

// ParseRetryAfter reads a Retry-After header: delay-seconds (RFC 9110), the
// fractional seconds Discord sends ("1.5"), or an HTTP-date, counted from
// now. It reports false for an absent, unreadable, zero or past value; a
// longer wait than MaxRetryAfter is cut to it.
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if strings.Trim(h, "0123456789.") == "" {
		// Digits and dots only: ParseFloat would also take "Inf", "1e9" and "0x10".
		s, err := strconv.ParseFloat(h, 64)
		if err != nil {
			return 0, false
		}
		if s >= MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		d = time.Duration(s * float64(time.Second))
	} else {
		t, err := http.ParseTime(h)
		if err != nil {
			return 0, false
		}
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}
