package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// runAdapter runs a over ctx and returns a channel with Run's result.
func runAdapter(ctx context.Context, a *Bot) <-chan error {
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return done
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestRejectedTokenStopsRun(t *testing.T) {
	tests := []struct {
		name string
		fail []telegramtest.Failure
	}{
		{"401 on getMe", nil}, // wrong token
		{"404 on getMe (malformed token)", []telegramtest.Failure{{Code: 404, Description: "Not Found"}}},
		{"401 after transient failures", []telegramtest.Failure{telegramtest.NonJSON(502), telegramtest.ServerError(500), telegramtest.Unauthorized()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := telegramtest.New()
			t.Cleanup(fake.Close)
			token := fake.Token
			if tc.fail == nil {
				token = "987654321:AAWrongTokenWrongTokenWrongToken00"
			} else {
				fake.FailNext("getMe", tc.fail...)
			}
			logs := newLogBuffer()
			a := NewBot(Options{Token: adapterkit.Secret(token), Endpoint: fake.Endpoint(), Log: logs.logger()}, nil)
			a.minBackoff = time.Millisecond
			err := result(t, runAdapter(context.Background(), a))
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Run = %v, want ErrUnauthorized", err)
			}
			bottest.AssertNoSecret(t, token, err.Error(), logs.String())
		})
	}
}

func TestUnreachableEndpointNeverLeaksToken(t *testing.T) {
	logs := newLogBuffer()
	// Port 1 on loopback refuses connections; the URL carries the token.
	a := NewBot(Options{Token: testToken, Endpoint: "http://127.0.0.1:1/bot%s/%s", Log: logs.logger()}, nil)
	a.minBackoff, a.maxBackoff = time.Millisecond, 2*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := runAdapter(ctx, a)
	if !logs.waitCount(waitCtx(t), "telegram unreachable; retrying", 3) {
		t.Fatalf("no retries logged:\n%s", logs.String())
	}
	cancel()
	if err := result(t, done); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	out := logs.String()
	bottest.AssertNoSecret(t, testToken, out)
	if !strings.Contains(out, "bot[redacted]/getMe") {
		t.Errorf("want the redacted URL in the log:\n%s", out)
	}
	// Send's errors on the same broken endpoint.
	a.self.Store(&identity{ID: 1})
	_, err := a.Send(context.Background(), "1", bot.Message{Title: "x"})
	if err == nil {
		t.Fatal("Send to a refusing endpoint succeeded")
	}
	bottest.AssertNoSecret(t, testToken, err.Error(), fmt.Sprintf("%+v %#v", err, err))
}

func TestBadEndpointErrorIsRedacted(t *testing.T) {
	// An endpoint that makes http.NewRequest fail inside the library: its
	// error quotes the URL, token included.
	a := NewBot(Options{Token: testToken, Endpoint: "http://127.0.0.1:1/bot%s/%s"}, nil)
	a.endpoint = "http://127.0.0.1:1/\x7fbot%s/%s" // bypasses Validate on purpose
	a.self.Store(&identity{ID: 1})
	_, err := a.Send(context.Background(), "1", bot.Message{Title: "x"})
	if err == nil {
		t.Fatal("Send with a malformed endpoint succeeded")
	}
	bottest.AssertNoSecret(t, testToken, err.Error())
}

func TestLibraryLoggerRedacts(t *testing.T) {
	logs := newLogBuffer()
	l := libraryLogger{log: logs.logger()}
	l.Printf("Endpoint: %s", "https://api.telegram.org/bot"+testToken+"/getUpdates")
	l.Println(errors.New(`Post "https://api.telegram.org/bot` + testToken + `/getUpdates": EOF`))
	out := logs.String()
	bottest.AssertNoSecret(t, testToken, out)
	if strings.Count(out, "[redacted]") != 2 {
		t.Errorf("library log: want 2 redactions:\n%s", out)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Options
		want []string // substrings of the error; nil for valid
	}{
		{"valid default endpoint", Options{Token: testToken}, nil},
		{"valid custom endpoint", Options{Token: testToken, Endpoint: "http://127.0.0.1:8081/bot%s/%s"}, nil},
		{"everything wrong at once", Options{Endpoint: "https://api.telegram.org/bot%s", PollTimeout: -1},
			[]string{"TELEGRAM_BOT_TOKEN is empty", "exactly two %s", "negative"}},
		{"not a URL", Options{Token: testToken, Endpoint: "ftp://x/bot%s/%s"}, []string{"not an http(s) URL"}},
		{"token with a slash", Options{Token: "1/2"}, []string{"characters a token cannot have"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.want == nil) {
				t.Fatalf("Validate = %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if err != nil {
				bottest.AssertNoSecret(t, testToken, err.Error())
			}
		})
	}
}

func TestSecretsNeverInSlogAttributes(t *testing.T) {
	logs := newLogBuffer()
	slog.New(slog.NewJSONHandler(logs, nil)).Info("cfg", "token", adapterkit.Secret(testToken), "config", Options{Token: testToken})
	bottest.AssertNoSecret(t, testToken, logs.String())
}

// TestFaultsNeverLogToken walks the adapter through every fault the fake can
// throw (an HTML 502 on every call, refused connections, an answer that
// cannot be delivered within the reply window, a token revoked at runtime)
// and checks no log line holds the token, in plain or URL-escaped form; the
// undeliverable answer is logged once, with its chat.
func TestFaultsNeverLogToken(t *testing.T) {
	gate := delivery.NewGate(delivery.Policy{}, nil)
	gate.ReplyWindow = time.Second
	h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, func(a *Bot) { a.replier = gate })
	ctx := waitCtx(t)
	h.connected()

	h.fake.FailChatAlways(userID, telegramtest.NonJSON(502))
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/status"))
	h.fake.ClearChat(userID)
	if n := strings.Count(h.logs.String(), "could not answer a command"); n != 1 {
		t.Errorf("%d lines about the lost answer, want 1:\n%s", n, h.logs.String())
	}
	if !strings.Contains(h.logs.String(), fmt.Sprintf("chat=%d", userID)) {
		t.Errorf("the lost answer's line lacks its chat:\n%s", h.logs.String())
	}

	h.fake.FailAlways("", telegramtest.NonJSON(502))
	if !h.logs.waitCount(ctx, "HTTP 502 with a body that is not Bot API JSON", 2) {
		t.Fatalf("no 502 logged:\n%s", h.logs.String())
	}
	h.fake.ClearAlways()
	h.fake.Down()
	if !h.logs.waitCount(ctx, "connection refused", 2) {
		t.Fatalf("no refused connection logged:\n%s", h.logs.String())
	}
	if err := h.fake.Up(); err != nil {
		t.Fatal(err)
	}
	h.fake.RevokeToken()
	if !h.logs.waitCount(ctx, "the bot token was revoked", 1) {
		t.Fatalf("revocation not logged:\n%s", h.logs.String())
	}
	out := h.logs.String()
	bottest.AssertNoSecret(t, h.fake.Token, out)
	if !strings.Contains(out, "bot[redacted]/getUpdates") {
		t.Errorf("want the redacted URL in the log:\n%s", out)
	}
}
