package adapterkit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

func TestNewHTTPClientDefaults(t *testing.T) {
	c := adapterkit.NewHTTPClient(nil, 7*time.Second)
	tr, ok := adapterkit.BaseTransport(c).(*http.Transport)
	if !ok || tr.MaxIdleConnsPerHost != 32 || c.Timeout != 7*time.Second {
		t.Fatalf("client %+v: want a pooled *http.Transport (32 idle per host) and the timeout", c)
	}
	if tr == http.DefaultTransport {
		t.Error("the shared DefaultTransport was changed")
	}
	if http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost == 32 {
		t.Error("DefaultTransport itself was changed")
	}

	mine := &http.Transport{}
	base := &http.Client{Timeout: time.Second, Transport: mine}
	c = adapterkit.NewHTTPClient(base, 7*time.Second)
	if c == base || adapterkit.BaseTransport(c) != mine || c.Timeout != time.Second {
		t.Errorf("a given client's transport and timeout must be kept, on a copy")
	}
	base = &http.Client{}
	c = adapterkit.NewHTTPClient(base, 3*time.Second)
	if base.Transport != nil || base.Timeout != 0 || base.CheckRedirect != nil || c.Timeout != 3*time.Second || c.Transport == nil {
		t.Error("base changed, or the copy lacks the defaults")
	}
}

// TestNewHTTPClientReusesConnections sends waves of 20 concurrent requests
// to one host: once the first wave has opened its connections, later waves
// reuse them, where DefaultTransport keeps 2 and dials again.
func TestNewHTTPClientReusesConnections(t *testing.T) {
	var conns atomic.Int64
	release := make(chan struct{})
	var inFlight sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Done()
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := adapterkit.NewHTTPClient(nil, 10*time.Second)
	defer c.CloseIdleConnections()
	const wave = 20
	for round := range 3 {
		release = make(chan struct{})
		inFlight.Add(wave)
		var done sync.WaitGroup
		for range wave {
			done.Add(1)
			go func() {
				defer done.Done()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("round %d: %v", round, err)
					inFlight.Done() // never reached the handler
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		inFlight.Wait() // all 20 are held by the server at once: 20 connections in use
		close(release)
		done.Wait()
	}
	if n := conns.Load(); n != wave {
		t.Errorf("%d connections for 3 waves of %d concurrent requests, want %d (kept and reused)", n, wave, wave)
	}
}

// TestNewHTTPClientFollowsNoRedirect: a POST answered 307 towards another
// host comes back as the 307; the other host gets nothing, so neither the
// body nor a Referer holding the secret path reaches it.
func TestNewHTTPClientFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/catch", status)
		}))
		c := adapterkit.NewHTTPClient(nil, 5*time.Second)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/hook/s3cret", strings.NewReader(`{"text":"X is down"}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		_ = resp.Body.Close()
		srv.Close()
		if resp.StatusCode != status || !adapterkit.IsRedirect(resp.StatusCode) {
			t.Errorf("answer %d, want the %d itself", resp.StatusCode, status)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests, want none", n)
	}
}

// TestNewHTTPClientLimitsAnswers: an endpoint streaming more than
// MaxAnswerBytes is read up to the limit and then fails with
// ErrAnswerTooLarge; an answer of exactly the limit reads whole.
func TestNewHTTPClientLimitsAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := adapterkit.MaxAnswerBytes
		if r.URL.Path == "/huge" {
			n = 3 * adapterkit.MaxAnswerBytes
		}
		_, _ = io.CopyN(w, zeros{}, int64(n))
	}))
	defer srv.Close()
	c := adapterkit.NewHTTPClient(nil, 10*time.Second)
	read := func(path string) (int64, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return io.Copy(io.Discard, resp.Body)
	}
	if n, err := read("/huge"); !errors.Is(err, adapterkit.ErrAnswerTooLarge) || n != adapterkit.MaxAnswerBytes {
		t.Errorf("huge answer: read %d, %v; want %d then ErrAnswerTooLarge", n, err, adapterkit.MaxAnswerBytes)
	}
	if n, err := read("/exact"); err != nil || n != adapterkit.MaxAnswerBytes {
		t.Errorf("answer of exactly the limit: read %d, %v", n, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
