package probe_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// checker returns a checker without a schedule interval: its retry waits
// RetryDelay in real time, so tests of the retry rule set Clock and Interval.
func checker(timeout time.Duration) *probe.Checker {
	return &probe.Checker{Client: &http.Client{}, Timeout: timeout, RetryDelay: time.Millisecond}
}

// localDNSClient resolves names through a fake DNS server on 127.0.0.1 only.
func localDNSClient(t *testing.T) *http.Client {
	dns := fakex.NewNXDomain()
	t.Cleanup(dns.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Resolver: dns.Resolver()}).DialContext
	return &http.Client{Transport: tr}
}

func TestCheckClassifiesFailures(t *testing.T) {
	x := fakex.New()
	defer x.Close()
	x.SetPath("/503", fakex.Down503)
	x.SetPath("/reset", fakex.Reset)
	x.SetPath("/wrong", fakex.WrongBody)

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name   string
		target probe.Target
		class  probe.Class
		detail string
	}{
		{"healthy", probe.Target{Name: "web", URL: x.URL() + "/"}, probe.ClassNone, ""},
		{"http 503", probe.Target{Name: "api", URL: x.URL() + "/503"}, probe.ClassStatus, "HTTP 503"},
		{"accepted 503", probe.Target{Name: "api", URL: x.URL() + "/503", Accept: []probe.StatusRange{{503, 503}}}, probe.ClassNone, ""},
		{"reset", probe.Target{Name: "web", URL: x.URL() + "/reset"}, probe.ClassConnect, "connection reset"},
		{"refused", probe.Target{Name: "web", URL: closedURL}, probe.ClassConnect, "connection refused"},
		{"bad certificate", probe.Target{Name: "cdn", URL: tlsSrv.URL}, probe.ClassTLS, "TLS: certificate signed by unknown authority"},
		{"unresolvable host", probe.Target{Name: "web", URL: "http://xstatusbot-test.invalid/"}, probe.ClassDNS, "DNS: host not found"},
		{"wrong body", probe.Target{Name: "web", URL: x.URL() + "/wrong", BodyContains: "react-root"}, probe.ClassBody, "unexpected body"},
		{"right body", probe.Target{Name: "web", URL: x.URL() + "/", BodyContains: "react-root"}, probe.ClassNone, ""},
	}
	// Generous: a TLS handshake under -race on a loaded machine can take long;
	// no case here waits for the timeout.
	c := checker(10 * time.Second)
	c.Client = localDNSClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Check(context.Background(), tt.target)
			if r.Class != tt.class {
				t.Fatalf("class = %q (%s), want %q", r.Class, r.Detail, tt.class)
			}
			if !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", r.Detail, tt.detail)
			}
			if r.Target != tt.target.Name {
				t.Errorf("target = %q, want %q", r.Target, tt.target.Name)
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	t.Parallel() // it waits out its timeout
	x := fakex.New()
	defer x.Close()
	x.Set(fakex.Hang)
	r := checker(time.Second).Check(context.Background(), probe.Target{Name: "web", URL: x.URL()})
	if r.Class != probe.ClassTimeout || r.Detail != "timeout after 1s" {
		t.Fatalf("result = %+v, want a timeout after 1s", r)
	}
}

func TestSlowAnswerIsMarked(t *testing.T) {
	x := fakex.New()
	defer x.Close()
	x.SetDelay(30 * time.Millisecond)
	c := checker(time.Second)
	c.Slow = 10 * time.Millisecond
	r := c.Check(context.Background(), probe.Target{Name: "web", URL: x.URL()})
	if !r.OK() || !r.Slow {
		t.Fatalf("result = %+v, want healthy and slow", r)
	}
}

func TestRoundRetriesOnceAndSetsUserAgent(t *testing.T) {
	var calls int
	var agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		agents = append(agents, r.UserAgent())
		if calls == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := checker(time.Second)
	round := c.Round(context.Background(), []probe.Target{{Name: "web", URL: srv.URL}}, nil)
	if round.Verdict != probe.VerdictUp || calls != 2 {
		t.Fatalf("verdict %s after %d calls, want up after 2", round.Verdict, calls)
	}
	if !strings.HasPrefix(agents[0], "Mozilla/5.0") {
		t.Errorf("user agent %q is not browser-like", agents[0])
	}
}

func TestRoundControlFailureIsUnknown(t *testing.T) {
	x := fakex.New()
	defer x.Close()
	ctrl := fakex.New()
	defer ctrl.Close()
	x.Set(fakex.Down503)
	ctrl.Set(fakex.Down503)
	c := checker(time.Second)
	targets := []probe.Target{{Name: "web", URL: x.URL()}}
	controls := []probe.Target{{Name: "ctrl", URL: ctrl.URL()}}
	if v := c.Round(context.Background(), targets, controls).Verdict; v != probe.VerdictUnknown {
		t.Fatalf("verdict with control down = %s, want unknown", v)
	}
	ctrl.Set(fakex.Up)
	if v := c.Round(context.Background(), targets, controls).Verdict; v != probe.VerdictDown {
		t.Fatalf("verdict with control up = %s, want down", v)
	}
}

// TestLongHeaderLinesWithSmallBuffers: the transport's small read buffer
// still reads header lines many times its size (X sends long CSP headers).
func TestLongHeaderLinesWithSmallBuffers(t *testing.T) {
	csp := strings.Repeat("script-src https://abs.twimg.com; ", 400) // about 14 KB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		_, _ = w.Write([]byte("react-root"))
	}))
	defer srv.Close()
	c := checker(10 * time.Second)
	c.Client = &http.Client{Transport: probe.Transport()}
	if r := c.Check(context.Background(), probe.Target{Name: "web", URL: srv.URL, BodyContains: "react-root"}); !r.OK() {
		t.Fatalf("result = %+v, want healthy", r)
	}
}
