package adapterkit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

// token has characters that URL escaping changes, so its three forms differ.
const token = "123456:AA/b+c=d e"

func TestSecretRedactsEveryForm(t *testing.T) {
	s := adapterkit.Secret(token)
	forms := []string{token, url.PathEscape(token), url.QueryEscape(token)}
	if forms[0] == forms[1] || forms[1] == forms[2] || forms[0] == forms[2] {
		t.Fatalf("test token should have three distinct forms: %q", forms)
	}
	for _, f := range forms {
		text := "GET https://h/bot" + f + "/getMe?t=" + f
		if !s.In(text) {
			t.Errorf("In(%q) = false", text)
		}
		got := s.Redact(text)
		if want := "GET https://h/bot[redacted]/getMe?t=[redacted]"; got != want {
			t.Errorf("Redact(%q) = %q, want %q", text, got, want)
		}
		bottest.AssertNoSecret(t, token, got)
	}
	if s.In("nothing here") || s.Redact("nothing here") != "nothing here" {
		t.Error("a text without the secret changed")
	}
	if got := adapterkit.Secret("").Redact("a b"); got != "a b" {
		t.Errorf("the empty secret redacted %q", got)
	}
}

func TestSecretsRedactLongestFirst(t *testing.T) {
	// A webhook URL and its path: the path inside the URL must not leave the
	// URL's scheme and host half-redacted around it.
	ss := adapterkit.Secrets{"/hook/abc", "https://h.example/hook/abc"}
	if got := ss.Redact("post https://h.example/hook/abc: EOF"); got != "post [redacted]: EOF" {
		t.Errorf("Redact = %q", got)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := adapterkit.Secret(token)
	var logs bottest.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "token", s, "config", struct{ Token adapterkit.Secret }{s})
	text, _ := s.MarshalText()
	bottest.AssertNoSecret(t, token, fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), string(text), logs.String())
	if s.Reveal() != token {
		t.Error("Reveal lost the token")
	}
}

func TestRedactErrorKeepsTypeAndCause(t *testing.T) {
	s := adapterkit.Secret(token)
	ue := &url.Error{Op: "Post", URL: "https://h/bot" + url.PathEscape(token) + "/getMe", Err: context.DeadlineExceeded}
	err := s.RedactError(ue)
	var got *url.Error
	if !errors.As(err, &got) || got.Op != "Post" || !got.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("redacted error lost its type or cause: %#v", err)
	}
	if got != nil && got.URL != "https://h/bot[redacted]/getMe" {
		t.Errorf("URL %q", got.URL)
	}
	bottest.AssertNoSecret(t, token, err.Error())

	// A cause whose own text holds the token: replaced, yet still a timeout
	// and still context.Canceled for errors.Is, and not reachable by As.
	cause := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("bot%s: %w", token, context.Canceled)}
	err = s.RedactError(&url.Error{Op: "Get", URL: "u", Err: cause})
	var op *net.OpError
	if !errors.Is(err, context.Canceled) || errors.As(err, &op) {
		t.Errorf("inner: errors.Is %v, As reaches the original %v", errors.Is(err, context.Canceled), errors.As(err, &op))
	}
	bottest.AssertNoSecret(t, token, err.Error(), fmt.Sprintf("%+v %#v", err, err))

	wrapped := fmt.Errorf("send: %w", timeoutError{"read bot" + token})
	err = s.RedactError(wrapped)
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("a wrapped timeout is no longer one: %#v", err)
	}
	bottest.AssertNoSecret(t, token, err.Error())

	plain := errors.New("no secret here")
	if s.RedactError(plain) != plain || s.RedactError(nil) != nil {
		t.Error("an error without the token should pass unchanged")
	}
}

type timeoutError struct{ msg string }

func (e timeoutError) Error() string { return e.msg }
func (e timeoutError) Timeout() bool { return true }

// TestRedactErrorOnRealClientErrors redacts what net/http itself returns for
// a refused connection and for a deadline, with the token in path and query.
func TestRedactErrorOnRealClientErrors(t *testing.T) {
	s := adapterkit.Secret(token)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)

	for _, tc := range []struct {
		name    string
		host    string
		timeout bool
	}{
		{"connection refused", "http://" + closed, false},
		{"deadline", hang.URL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			u := tc.host + "/bot" + url.PathEscape(token) + "/getMe?token=" + url.QueryEscape(token)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := adapterkit.NewHTTPClient(nil, 0).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("request succeeded")
			}
			if !s.In(err.Error()) {
				t.Fatalf("net/http's error does not show the token; the test proves nothing: %v", err)
			}
			red := s.RedactError(err)
			var ue *url.Error
			if !errors.As(red, &ue) || ue.Timeout() != tc.timeout || errors.Is(red, context.DeadlineExceeded) != tc.timeout {
				t.Errorf("redacted %#v: want a *url.Error, timeout %v", red, tc.timeout)
			}
			if !strings.Contains(red.Error(), "/bot[redacted]/getMe?token=[redacted]") {
				t.Errorf("error %q: want the URL with the token redacted", red)
			}
			bottest.AssertNoSecret(t, token, red.Error(), fmt.Sprintf("%+v", red))
		})
	}
}
