package discord

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

var epoch = time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC)

func send(t *testing.T, h *harness, channel string) (*bot.SendError, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.a.Send(ctx, channel, bot.Message{Severity: bot.SeverityDown, Title: "X is down"})
	if err == nil {
		return nil, nil
	}
	return bot.ClassOf(err), err
}

// A 429 without X-RateLimit-* headers (Cloudflare's HTML page) holds for
// every route: it must come back global, with a pause that doubles while
// such 429s go on and starts again from 1 s after a success.
func TestHeaderless429IsGlobalWithExponentialPause(t *testing.T) {
	clock := bottest.NewClock(epoch)
	h := startAdapter(t, harnessOpt{clock: clock})
	h.fake.FailAll(discordtest.Cloudflare429(0))

	for k, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		want *= time.Second
		se, err := send(t, h, "300000000000000001")
		if se == nil || se.Class != bot.RateLimited || !se.Global || se.RetryAfter != want {
			t.Fatalf("429 #%d: %+v (%v), want RateLimited, global, retry after %v", k+1, se, err, want)
		}
		if k == 0 {
			// A send during that pause shares it, without a request.
			before := h.fake.Requests()
			se, _ := send(t, h, "300000000000000002")
			if se == nil || !se.Global || se.RetryAfter != want || h.fake.Requests() != before {
				t.Fatalf("send during the pause: %+v after %d requests, want global, %v, none", se, h.fake.Requests()-before, want)
			}
		}
		clock.Advance(want)
	}
	if st := h.a.State(); st != bot.PlatformReady {
		t.Errorf("state %q during rate limits, want ready (Discord answers)", st)
	}

	h.fake.Recover()
	if se, err := send(t, h, "300000000000000003"); err != nil {
		t.Fatalf("after recovery: %+v", se)
	}
	h.fake.FailAll(discordtest.Cloudflare429(0))
	if se, _ := send(t, h, "300000000000000003"); se == nil || se.RetryAfter != time.Second || !se.Global {
		t.Errorf("first 429 after a success: %+v, want global, 1 s", se)
	}
	clock.Advance(time.Second)
	h.fake.FailAll(discordtest.Cloudflare429(7 * time.Second))
	if se, _ := send(t, h, "300000000000000003"); se == nil || se.RetryAfter != 7*time.Second || !se.Global {
		t.Errorf("headerless 429 with Retry-After 7: %+v, want global, 7 s", se)
	}
}

// Answers Discord counts towards its IP ban (401, 403, 429) are counted in a
// sliding 10-minute window; at the limit Send stops calling Discord, logs
// once, and resumes when old answers leave the window.
func TestInvalidRequestsPauseSends(t *testing.T) {
	clock := bottest.NewClock(epoch)
	h := startAdapter(t, harnessOpt{clock: clock})
	h.a.invalidLimit = 5

	type step struct {
		channel string
		fail    discordtest.Failure
		want    int // InvalidRequests after the send
	}
	steps := []step{
		{"300000000000000001", discordtest.UnknownChannel(), 0}, // 404: not counted
		{"300000000000000002", discordtest.MissingAccess(), 1},
		{"300000000000000003", discordtest.MissingPermissions(), 2},
		{"300000000000000004", discordtest.Failure{Status: 403, Message: "403: Forbidden"}, 3},
		{"300000000000000005", discordtest.RateLimited(time.Second, false), 4},
		{"300000000000000006", discordtest.ServerError(), 4}, // 5xx: not counted
	}
	for _, s := range steps {
		h.fake.FailChannel(s.channel, s.fail, 1)
		send(t, h, s.channel)
		if got := h.a.InvalidRequests(); got != s.want {
			t.Fatalf("after a %d: %d invalid requests, want %d", s.fail.Status, got, s.want)
		}
	}
	clock.Advance(5 * time.Minute)
	h.fake.FailChannel("300000000000000007", discordtest.MissingAccess(), 1)
	send(t, h, "300000000000000007")
	if got := h.a.InvalidRequests(); got != 5 {
		t.Fatalf("%d invalid requests, want 5", got)
	}

	before := h.fake.Requests()
	for range 3 {
		se, err := send(t, h, "300000000000000008")
		if se == nil || se.Class != bot.Unavailable || !errors.Is(err, errTooManyInvalid) {
			t.Fatalf("at the limit: %v, want Unavailable (too many invalid requests)", err)
		}
	}
	if n := h.fake.Requests() - before; n != 0 {
		t.Errorf("%d requests at the limit, want none", n)
	}
	if n := strings.Count(h.logs.String(), "too many invalid requests"); n != 1 {
		t.Errorf("%d log lines for one episode, want 1", n)
	}

	// The first five leave the window; the last one stays.
	clock.Advance(5*time.Minute + time.Second)
	if got := h.a.InvalidRequests(); got != 1 {
		t.Errorf("%d invalid requests 10 min after the first ones, want 1", got)
	}
	if se, err := send(t, h, "300000000000000008"); err != nil {
		t.Fatalf("below the limit again: %+v", se)
	}
	if n := h.fake.Requests() - before; n != 1 {
		t.Errorf("%d requests after the window slid, want 1", n)
	}
	if !strings.Contains(h.logs.String(), "sends resume") {
		t.Error("the end of the episode was not logged")
	}
}

func TestWindowSlides(t *testing.T) {
	w := window{span: 10 * time.Minute}
	for k := range 3000 {
		w.add(epoch.Add(time.Duration(k) * 200 * time.Millisecond)) // 5/s for 10 min
	}
	if n := w.count(epoch.Add(10 * time.Minute)); n != 3000-5 {
		t.Errorf("count %d at the end of the window, want %d (the first second left it)", n, 3000-5)
	}
	if len(w.slots) > 601 {
		t.Errorf("%d slots, want at most one per second of the window", len(w.slots))
	}
	if n := w.count(epoch.Add(20 * time.Minute)); n != 0 || len(w.slots) != 0 {
		t.Errorf("count %d with %d slots after 20 min, want 0", n, len(w.slots))
	}
}

// assertStopped checks that after the token was refused the adapter made no
// more REST call, closed the gateway and does not reopen it, logged one
// error, and Run still runs.
func assertStopped(t *testing.T, h *harness, restBefore int64) {
	t.Helper()
	if st := h.a.State(); st != bot.PlatformUnauthorized {
		t.Errorf("state %q, want unauthorized", st)
	}
	se, err := send(t, h, "300000000000000009")
	if se == nil || se.Class != bot.Unavailable || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Send after the token was refused: %v, want Unavailable wrapping ErrUnauthorized", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.fake.WaitGatewayIdle(ctx); err != nil {
		t.Fatalf("the gateway session stays open: %v", err)
	}
	connects := h.fake.GatewayConnects()
	// Nothing to await: give a reconnect loop (10–50 ms backoff in tests)
	// ample time to show up.
	time.Sleep(500 * time.Millisecond)
	if n := h.fake.GatewayConnects() - connects; n != 0 {
		t.Errorf("%d gateway connections after the token was refused, want none", n)
	}
	if n := h.fake.Requests() - restBefore; n != 0 {
		t.Errorf("%d REST calls after the token was refused, want none", n)
	}
	if n := strings.Count(h.logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want exactly 1:\n%s", n, h.logs)
	}
	select {
	case <-h.ended:
		t.Error("Run returned; it must run until its context ends")
	default:
	}
}

func TestTokenRevokedOnSend(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	if st := h.a.State(); st != bot.PlatformReady {
		t.Fatalf("state %q after start, want ready", st)
	}
	h.fake.RevokeToken()
	se, err := send(t, h, "300000000000000001")
	if se == nil || se.Class != bot.Unavailable || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("401: %v, want Unavailable wrapping ErrUnauthorized (not the channel's fault)", err)
	}
	if n := h.a.InvalidRequests(); n != 1 {
		t.Errorf("%d invalid requests, want the 401 counted", n)
	}
	assertStopped(t, h, h.fake.Requests())
}

func TestTokenRevokedOnGateway(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	rest := h.fake.Requests()
	h.fake.RevokeToken() // closes the gateway with 4004; the resume is refused with 4004
	bottest.Eventually(t, "state unauthorized", func() bool { return h.a.State() == bot.PlatformUnauthorized })
	assertStopped(t, h, rest)
}

// Discord unreachable: sends are Unavailable (not the channel's fault), the
// state says so, and both recover by themselves once Discord answers.
func TestUnreachableThenBack(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	h.fake.Refuse()
	bottest.Eventually(t, "state unavailable after the gateway dropped", func() bool { return h.a.State() == bot.PlatformUnavailable })
	if se, err := send(t, h, "300000000000000001"); se == nil || se.Class != bot.Unavailable {
		t.Fatalf("Send while refused: %v, want Unavailable", err)
	}
	h.fake.Recover()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.fake.WaitConnected(ctx); err != nil {
		t.Fatalf("gateway not back: %v", err)
	}
	bottest.Eventually(t, "state ready after the gateway is back", func() bool { return h.a.State() == bot.PlatformReady })
	if se, err := send(t, h, "300000000000000001"); err != nil {
		t.Fatalf("Send after recovery: %+v", se)
	}
	if n := len(h.fake.Messages("300000000000000001")); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestBackoffCappedAt30s(t *testing.T) {
	a := NewBot(Options{Token: "t"}, nil)
	var longest time.Duration
	for attempt := range 40 {
		d := a.backoff().Delay(attempt + 1)
		if d > 30*time.Second {
			t.Fatalf("backoff %v at attempt %d, want at most 30 s", d, attempt)
		}
		longest = max(longest, d)
	}
	if longest < 15*time.Second {
		t.Errorf("longest backoff %v, want it to grow to 15–30 s", longest)
	}
}
