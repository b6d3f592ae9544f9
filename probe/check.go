package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/clock"
)

// Class says why a check failed. The zero value means the check succeeded.
type Class string

const (
	ClassNone    Class = ""
	ClassDNS     Class = "dns"
	ClassConnect Class = "connect"
	ClassTLS     Class = "tls"
	ClassTimeout Class = "timeout"
	ClassStatus  Class = "http_status"
	ClassBody    Class = "body"
)

// AllClasses lists every failure class, for metrics and documentation.
var AllClasses = []Class{ClassDNS, ClassConnect, ClassTLS, ClassTimeout, ClassStatus, ClassBody}

// Result is the outcome of checking one target in one round.
type Result struct {
	Target  string        `json:"target"`
	Status  int           `json:"status,omitempty"`
	Latency time.Duration `json:"latency"`
	Class   Class         `json:"class,omitempty"`
	// Detail is a short human-readable cause ("HTTP 503", "timeout after 10s").
	Detail string `json:"detail,omitempty"`
	// Slow is set on a healthy answer that took longer than the slow threshold.
	Slow bool `json:"slow,omitempty"`
}

// OK reports whether the target answered as expected.
func (r Result) OK() bool { return r.Class == ClassNone }

// DefaultUserAgent looks like a desktop browser: X answers bot user agents differently.
const DefaultUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// maxBody bounds how much of a body is read for the body check.
const maxBody = 256 << 10

// Checker runs the checks of one round.
type Checker struct {
	Client *http.Client
	// Timeout bounds each request (and the round's budget may cut it
	// shorter); a failed target gets one retry unless it timed out (see Round).
	Timeout time.Duration
	// RetryDelay is the pause before the one retry of a failed target.
	RetryDelay time.Duration
	// Interval is the schedule's interval; when set, every request and retry
	// ends before 90% of it, so a round never runs into the next tick (see
	// Round). Zero leaves rounds bounded by Timeout alone.
	Interval time.Duration
	// Slow is the latency above which a healthy answer marks the round degraded (0 disables).
	Slow      time.Duration
	UserAgent string
	// Clock times the retry wait and the round; nil means real time.
	Clock clock.Clock
	// Now, when set and Clock is not, only stamps rounds; waits stay on real time.
	Now func() time.Time
}

func (c *Checker) clock() clock.Clock {
	switch {
	case c.Clock != nil:
		return c.Clock
	case c.Now != nil:
		return stampClock(c.Now)
	default:
		return clock.System{}
	}
}

// stampClock stamps with a given Now and waits in real time.
type stampClock func() time.Time

func (f stampClock) Now() time.Time                       { return f() }
func (stampClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Round checks every target and control concurrently and reduces the results to a verdict.
//
// A round never waits longer than the schedule allows: every request's
// deadline is the smaller of Timeout and what is left before 90% of Interval
// (the rest is for saving the round), so a hanging X is a timeout failure
// inside the round and the next tick comes on time. The deadline runs on the
// checker's clock.
//
// A failed target is tried once more, so one lost packet or reset connection
// is not a failing round: a reset, refused or cut connection at once, any
// other failure after min(RetryDelay, Interval/10). A timeout is not retried:
// it already waited as long as the round allows (TCP resends a lost packet
// meanwhile), and a second wait would double the time to an alert; the
// confirming round is its second look. The retry's timeout is cut to the
// room left before the 90% mark, and when less than min(Timeout,
// Interval/10) is left there is no retry and the failure stands (the state
// machine still needs PROBE_DOWN_AFTER failing rounds).
func (c *Checker) Round(ctx context.Context, targets, controls []Target) Round {
	clk := c.clock()
	start := clk.Now()
	var end time.Time
	if c.Interval > 0 {
		end = start.Add(RoundBudget(c.Interval))
	}
	all := append(append([]Target{}, targets...), controls...)
	results := make([]Result, len(all))
	var wg sync.WaitGroup
	for i, t := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.checkWithRetry(ctx, t, end, clk)
		}()
	}
	wg.Wait()
	r := Round{
		Start:    start,
		Duration: clk.Now().Sub(start),
		Targets:  results[:len(targets)],
		Controls: results[len(targets):],
	}
	r.Verdict = Reduce(r.Targets, r.Controls)
	return r
}

// RoundBudget is how long a round of a schedule with this interval may
// probe: 90% of it, the rest left for saving the round. Zero: unbounded.
func RoundBudget(interval time.Duration) time.Duration { return interval * 9 / 10 }

// checkWithRetry checks t and retries a failure once, within end when it is set.
func (c *Checker) checkWithRetry(ctx context.Context, t Target, end time.Time, clk clock.Clock) Result {
	timeout := c.Timeout
	if !end.IsZero() {
		timeout = min(timeout, end.Sub(clk.Now()))
	}
	r, cut := c.check(ctx, t, timeout, clk)
	if r.OK() || r.Class == ClassTimeout || ctx.Err() != nil {
		return r
	}
	delay := c.RetryDelay
	switch {
	case cut:
		delay = 0 // a dropped connection is the very case the retry is for; waiting buys nothing
	case c.Interval > 0:
		delay = min(delay, c.Interval/10)
	}
	minRoom := min(c.Timeout, c.Interval/10)
	if !end.IsZero() && end.Sub(clk.Now().Add(delay)) < minRoom {
		return r
	}
	if delay > 0 {
		select {
		case <-ctx.Done():
			return r
		case <-clk.After(delay):
		}
	}
	timeout = c.Timeout
	if !end.IsZero() {
		room := end.Sub(clk.Now())
		if room < minRoom {
			return r
		}
		timeout = min(timeout, room)
	}
	again, _ := c.check(ctx, t, timeout, clk)
	if again.Class == ClassTimeout && timeout < c.Timeout {
		// Cut short by the round's own bound: the first failure is the better cause.
		return r
	}
	return again
}

// errTimedOut ends a request whose deadline passed on the checker's clock.
var errTimedOut = errors.New("probe deadline passed")

// check performs one request against t within timeout, timed on clk, and
// classifies the outcome; cut reports a connection that was reset, refused
// or closed mid-answer.
func (c *Checker) check(ctx context.Context, t Target, timeout time.Duration, clk clock.Clock) (res Result, cut bool) {
	res.Target = t.Name
	ctx, cancel := deadline(ctx, timeout, clk)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		res.Class, res.Detail = ClassConnect, "bad request: "+err.Error()
		return res, cut
	}
	ua := c.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "text/html,application/json;q=0.9,*/*;q=0.8")
	begin := time.Now()
	resp, err := c.Client.Do(req)
	if err != nil {
		res.Latency = time.Since(begin)
		res.Class, res.Detail, cut = classify(timedOut(ctx, err), timeout)
		return res, cut
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	var body []byte
	if t.BodyContains != "" {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	res.Latency = time.Since(begin)
	switch {
	case err != nil:
		res.Class, res.Detail, cut = classify(timedOut(ctx, err), timeout)
	case !t.Accepts(resp.StatusCode):
		res.Class, res.Detail = ClassStatus, fmt.Sprintf("HTTP %d", resp.StatusCode)
	case t.BodyContains != "" && !bytes.Contains(body, []byte(t.BodyContains)):
		res.Class, res.Detail = ClassBody, fmt.Sprintf("unexpected body (HTTP %d, %q missing)", resp.StatusCode, t.BodyContains)
	case c.Slow > 0 && res.Latency > c.Slow:
		res.Slow = true
	}
	return res, cut
}

// deadline is ctx cut after timeout on clk, the cause errTimedOut. On real
// time that is the runtime's own timer; on another clock (a test's, moved by
// hand) a goroutine waits for it.
func deadline(ctx context.Context, timeout time.Duration, clk clock.Clock) (context.Context, context.CancelFunc) {
	switch _, system := clk.(clock.System); {
	case timeout > 0 && system:
		return context.WithTimeoutCause(ctx, timeout, errTimedOut)
	case timeout <= 0:
		ctx, cancel := context.WithCancelCause(ctx)
		cancel(errTimedOut)
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	expired := clk.After(timeout)
	go func() {
		select {
		case <-expired:
			cancel(errTimedOut)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}

// timedOut turns the cancellation by the request's own deadline into a
// deadline error, which classify counts as a timeout.
func timedOut(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errTimedOut) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// classify maps a transport error to a failure class and a short cause, and
// reports whether the connection was reset, refused or cut.
func classify(err error, timeout time.Duration) (class Class, detail string, cut bool) {
	var (
		dnsErr   *net.DNSError
		netErr   net.Error
		certErr  *tls.CertificateVerificationError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout, fmt.Sprintf("timeout after %s", timeout), false
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return ClassDNS, "DNS: host not found", false
		}
		return ClassDNS, "DNS: " + dnsErr.Err, false
	case errors.As(err, &certErr), errors.As(err, &unknownA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr), errors.As(err, &alertErr):
		return ClassTLS, "TLS: " + tlsCause(err), false
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnect, "connection refused", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassConnect, "connection reset", true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ClassConnect, "network unreachable", false
	default:
		return ClassConnect, "connection failed", false
	}
}

func tlsCause(err error) string {
	var (
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknownA):
		return "certificate signed by unknown authority"
	case errors.As(err, &hostErr):
		return "certificate is for another host"
	case errors.As(err, &invalid):
		return "invalid certificate"
	default:
		return "handshake failed"
	}
}
