package telegram

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// TestTelegramDownForMinutes: the Bot API refuses connections for five
// minutes (on a manual clock), then comes back. The poll loop's backoff never
// exceeds 30 s, and as soon as a delivery send finds Telegram answering again
// the loop polls at once: a command sent after the return is answered
// without waiting out the backoff.
func TestTelegramDownForMinutes(t *testing.T) {
	clock := bottest.NewClock(t0)
	h := newHarnessWith(t, nil, nil, clock.Now, func(a *Bot) {
		a.clock = clock
		a.minBackoff, a.maxBackoff = time.Second, maxBackoff
	})
	user := telegramtest.User{ID: userID}
	h.connected()
	h.handled(h.fake.Private(user, "/subscribe"))
	if st := h.a.State(); st != bot.PlatformReady {
		t.Fatalf("state %s, want ready", st)
	}

	h.fake.Down()
	ctx := waitCtx(t)
	var waits []time.Duration
	for elapsed := time.Duration(0); elapsed < 5*time.Minute; {
		// Wait for the loop to block on the clock, then let its backoff pass.
		clock.WaitIdle(t, 1)
		next, _ := clock.Next()
		w := next.Sub(clock.Now())
		waits = append(waits, w)
		elapsed += w
		clock.Advance(w)
	}
	if st := h.a.State(); st != bot.PlatformUnavailable {
		t.Errorf("state during the outage %s, want unavailable", st)
	}
	for i, w := range waits {
		if w > 30*time.Second {
			t.Errorf("backoff %d is %s, want at most 30s (all: %v)", i, w, waits)
		}
	}
	// bot.Backoff draws from the upper half of the capped value.
	if last := waits[len(waits)-1]; last < 15*time.Second {
		t.Errorf("last backoff %s: want it grown to the cap's upper half (all: %v)", last, waits)
	}

	// Telegram comes back while the loop sleeps in a backoff of up to 30 s
	// that the test never lets pass. A delivery send succeeds, and polling
	// resumes.
	clock.WaitIdle(t, 1)
	if err := h.fake.Up(); err != nil {
		t.Fatal(err)
	}
	h.fake.Private(user, "/status")
	if _, err := h.a.Send(ctx, strconv.Itoa(adminID), bot.Message{Title: "🔴 X is down"}); err != nil {
		t.Fatalf("delivery send after the return: %v", err)
	}
	got, err := h.fake.WaitSent(ctx, userID, 2)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, h.logs.String())
	}
	if !strings.HasPrefix(got[1].Plain, "X is") {
		t.Errorf("answer after the return %q, want the status", got[1].Plain)
	}
	if st := h.a.State(); st != bot.PlatformReady {
		t.Errorf("state after the return %s, want ready", st)
	}
}

// TestTokenRevokedAtRuntime: a 401 after a successful start, on the long
// poll or on a send, switches the adapter off: one error line, state
// unauthorized, polling stopped, no request at all afterwards, Send answers
// Unavailable wrapping ErrUnauthorized, and Run keeps running (it returns
// nil when its context ends, checked by the harness).
func TestTokenRevokedAtRuntime(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(t *testing.T, h *harness)
	}{
		{"on getUpdates", func(t *testing.T, h *harness) { h.fake.RevokeToken() }},
		{"on sendMessage", func(t *testing.T, h *harness) {
			h.fake.FailNext("sendMessage", telegramtest.Unauthorized())
			_, err := h.a.Send(context.Background(), strconv.Itoa(userID), bot.Message{Title: "x"})
			if bot.ClassOf(err).Class != bot.Unavailable || !errors.Is(err, ErrUnauthorized) {
				t.Errorf("send answered 401: %v, want Unavailable wrapping ErrUnauthorized", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/subscribe"))
			tc.revoke(t, h)
			ctx := waitCtx(t)
			select {
			case <-h.a.pollStopped:
			case <-ctx.Done():
				t.Fatalf("polling did not stop\nlogs:\n%s", h.logs.String())
			}
			if st := h.a.State(); st != bot.PlatformUnauthorized {
				t.Errorf("state %s, want unauthorized", st)
			}
			requests := h.fake.Stats().Requests
			h.fake.Private(telegramtest.User{ID: userID}, "/status")
			for range 3 {
				_, err := h.a.Send(ctx, strconv.Itoa(userID), bot.Message{Title: "🔴 X is down"})
				if bot.ClassOf(err).Class != bot.Unavailable || !errors.Is(err, ErrUnauthorized) {
					t.Errorf("Send after revocation: %v, want Unavailable wrapping ErrUnauthorized", err)
				}
			}
			if got := h.fake.Stats().Requests; got != requests {
				t.Errorf("%d requests after the revocation, want none", got-requests)
			}
			select {
			case err := <-h.done:
				t.Fatalf("Run returned %v; it must keep running", err)
			default:
			}
			if n := strings.Count(h.logs.String(), "level=ERROR"); n != 1 {
				t.Errorf("%d error lines, want exactly one:\n%s", n, h.logs.String())
			}
		})
	}
}

// burst starts an adapter whose answers go through replier against a fake
// limiting sendMessage to limits, pushes one /subscribe from each of chats
// private chats, then scripts (one chat each) at once, and waits until
// every command is answered. It returns the fake and the time from the
// first push to the last answer.
func burst(tb testing.TB, replier Replier, limits telegramtest.Limits, chats int, scripts [][]string) (*telegramtest.Server, time.Duration) {
	tb.Helper()
	fake := telegramtest.New(telegramtest.WithLimits(limits))
	tb.Cleanup(fake.Close)
	store := adaptertest.Store(tb)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := command.NewService(store, store, time.Now, quiet)
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), Endpoint: fake.Endpoint(), Log: quiet, PollTimeout: time.Second, Replier: replier}, svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := runAdapter(ctx, a)
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer wcancel()
	if err := fake.Wait(wctx, func() bool { return a.State() == bot.PlatformReady }); err != nil {
		tb.Fatal(err)
	}

	start := time.Now()
	want := int64(chats)
	for i := range chats {
		fake.Private(telegramtest.User{ID: int64(100000 + i)}, "/subscribe")
	}
	for i, script := range scripts {
		for _, text := range script {
			fake.Private(telegramtest.User{ID: int64(900000 + i)}, text)
			want++
		}
	}
	if err := fake.Wait(wctx, func() bool { return fake.Stats().Sent >= want }); err != nil {
		tb.Fatalf("%d of %d answers: %v", fake.Stats().Sent, want, err)
	}
	return fake, time.Since(start)
}

// TestBurstOfCommandsUnderRateLimit: 500 chats send /subscribe at once
// while the fake allows 200 messages/s overall and 1/s per chat, answering
// 429 above that; a few chats send several commands. The gate is set above
// the fake's rate so 429s do happen. Every command is answered exactly once,
// in order per chat. (BenchmarkBurst runs the full 2,000 at 90/s.)
func TestBurstOfCommandsUnderRateLimit(t *testing.T) {
	gate := delivery.NewGate(delivery.Policy{Rate: 300}, nil)
	scripts := [][]string{}
	for range 5 {
		scripts = append(scripts, []string{"/subscribe", "/status", "/unsubscribe", "/subscribe"})
	}
	const chats = 500
	fake, _ := burst(t, gate, telegramtest.Limits{PerSecond: 200, PerChatPerSecond: 1}, chats, scripts)
	for i := range chats {
		got := fake.SentTo(int64(100000 + i))
		if len(got) != 1 || !strings.Contains(got[0].Plain, "Subscribed") {
			t.Fatalf("chat %d got %+v, want one answer", 100000+i, got)
		}
	}
	for i := range scripts {
		got := fake.SentTo(int64(900000 + i))
		want := []string{"Subscribed", "X is", "Unsubscribed", "Subscribed"}
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Plain)
		}
		if len(got) != len(want) {
			t.Fatalf("chat %d: answers %q, want %q", 900000+i, texts, want)
		}
		for k := range want {
			if !strings.Contains(texts[k], want[k]) {
				t.Errorf("chat %d answer %d = %q, want %q (all: %q)", 900000+i, k, texts[k], want[k], texts)
			}
		}
	}
	if st := fake.Stats(); st.RateLimited == 0 {
		t.Errorf("no 429 happened (%+v): the test did not exercise the limit", st)
	}
}

// BenchmarkBurst: 2,000 /subscribe in one second, answers through a gate at
// 90 messages/s against a fake limiting at 90/s and 1/s per chat.
//
//	go test -run '^$' -bench Burst -benchtime 1x ./bot/telegram
func BenchmarkBurst(b *testing.B) {
	for range b.N {
		gate := delivery.NewGate(delivery.Policy{Rate: 90, PerChat: time.Second}, nil)
		fake, took := burst(b, gate, telegramtest.Limits{PerSecond: 90, PerChatPerSecond: 1}, 2000, nil)
		st := fake.Stats()
		b.ReportMetric(float64(len(fake.Chats())), "answered/2000")
		b.ReportMetric(took.Seconds(), "s-to-all-answered")
		b.ReportMetric(float64(st.RateLimited), "429s")
		b.Logf("answered %d/2000 in %s, %d answers refused with 429", len(fake.Chats()), took.Round(time.Millisecond), st.RateLimited)
	}
}
