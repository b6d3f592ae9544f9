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
	// Timeout bounds each request; a failed target gets one retry with its own timeout.
	Timeout time.Duration
	// RetryDelay is the pause before the one retry of a failed target.
	RetryDelay time.Duration
	// Slow is the latency above which a healthy answer marks the round degraded (0 disables).
	Slow      time.Duration
	UserAgent string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Round checks every target and control concurrently and reduces the results to a verdict.
func (c *Checker) Round(ctx context.Context, targets, controls []Target) Round {
	start := c.now()
	all := append(append([]Target{}, targets...), controls...)
	results := make([]Result, len(all))
	var wg sync.WaitGroup
	for i, t := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.checkWithRetry(ctx, t)
		}()
	}
	wg.Wait()
	r := Round{
		Start:    start,
		Duration: c.now().Sub(start),
		Targets:  results[:len(targets)],
		Controls: results[len(targets):],
	}
	r.Verdict = Reduce(r.Targets, r.Controls)
	return r
}

func (c *Checker) checkWithRetry(ctx context.Context, t Target) Result {
	r := c.Check(ctx, t)
	if r.OK() || ctx.Err() != nil {
		return r
	}
	// A single lost packet or reset is not an outage: try once more.
	select {
	case <-ctx.Done():
		return r
	case <-time.After(c.RetryDelay):
	}
	return c.Check(ctx, t)
}

// Check performs one request against t and classifies the outcome.
func (c *Checker) Check(ctx context.Context, t Target) Result {
	res := Result{Target: t.Name}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		res.Class, res.Detail = ClassConnect, "bad request: "+err.Error()
		return res
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
		res.Class, res.Detail = classify(err, c.Timeout)
		return res
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
		res.Class, res.Detail = classify(err, c.Timeout)
	case !t.Accepts(resp.StatusCode):
		res.Class, res.Detail = ClassStatus, fmt.Sprintf("HTTP %d", resp.StatusCode)
	case t.BodyContains != "" && !bytes.Contains(body, []byte(t.BodyContains)):
		res.Class, res.Detail = ClassBody, fmt.Sprintf("unexpected body (HTTP %d, %q missing)", resp.StatusCode, t.BodyContains)
	case c.Slow > 0 && res.Latency > c.Slow:
		res.Slow = true
	}
	return res
}

// classify maps a transport error to a failure class and a short cause.
func classify(err error, timeout time.Duration) (Class, string) {
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
		return ClassTimeout, fmt.Sprintf("timeout after %s", timeout)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return ClassDNS, "DNS: host not found"
		}
		return ClassDNS, "DNS: " + dnsErr.Err
	case errors.As(err, &certErr), errors.As(err, &unknownA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr), errors.As(err, &alertErr):
		return ClassTLS, "TLS: " + tlsCause(err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnect, "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassConnect, "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ClassConnect, "network unreachable"
	default:
		return ClassConnect, "connection failed"
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
