package telegram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

func TestSendErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		fail       telegramtest.Failure
		class      bot.ErrorClass
		retryAfter time.Duration
		newChat    string
	}{
		{"429 with retry_after", telegramtest.TooManyRequests(3), bot.RateLimited, 3 * time.Second, ""},
		{"429 without JSON", telegramtest.NonJSON(429), bot.RateLimited, time.Second, ""},
		{"403 blocked", telegramtest.Blocked(), bot.Permanent, 0, ""},
		{"403 kicked", telegramtest.Kicked(), bot.Permanent, 0, ""},
		{"403 not a member", telegramtest.NotMember(), bot.Permanent, 0, ""},
		{"403 deactivated", telegramtest.Failure{Code: 403, Description: "Forbidden: user is deactivated"}, bot.Permanent, 0, ""},
		{"400 chat not found", telegramtest.ChatNotFound(), bot.Permanent, 0, ""},
		{"400 migrated", telegramtest.MigratedTo(-1009999), bot.Migrated, 0, "-1009999"},
		// Telegram as a whole failing: the platform is unavailable, not the chat.
		{"502 JSON", telegramtest.ServerError(502), bot.Unavailable, 0, ""},
		{"500 JSON", telegramtest.ServerError(500), bot.Unavailable, 0, ""},
		{"502 non-JSON", telegramtest.NonJSON(502), bot.Unavailable, 0, ""},
		{"403 non-JSON from a proxy", telegramtest.NonJSON(403), bot.Unavailable, 0, ""},
		// Other 400s are this message's problem, not a gone chat.
		{"400 bad entities", telegramtest.BadRequest("can't parse entities: unclosed tag"), bot.Retryable, 0, ""},
		// Rights an admin can restore: this message is dropped, delivery counts the refusals.
		{"400 not enough rights", telegramtest.BadRequest("not enough rights to send text messages to the chat"), bot.NoRights, 0, ""},
		{"400 have no rights", telegramtest.BadRequest("have no rights to send a message"), bot.NoRights, 0, ""},
		{"403 CHAT_WRITE_FORBIDDEN", telegramtest.Failure{Code: 403, Description: "Forbidden: CHAT_WRITE_FORBIDDEN"}, bot.NoRights, 0, ""},
		{"409 conflict", telegramtest.Conflict(), bot.Retryable, 0, ""},
		// 401 switches the adapter off: see TestTokenRevokedAtRuntime.
	}
	h := newHarness(t, nil, nil)
	h.connected()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chat := int64(5000 + i)
			h.fake.FailChat(chat, tc.fail)
			id, err := h.a.Send(context.Background(), strconv.FormatInt(chat, 10), bot.Message{Title: "x"})
			var se *bot.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %q, %v; want a *bot.SendError", id, err)
			}
			if se.Class != tc.class || se.RetryAfter != tc.retryAfter || se.NewChatID != tc.newChat {
				t.Errorf("got class %v retry %v new %q, want %v %v %q (%v)", se.Class, se.RetryAfter, se.NewChatID, tc.class, tc.retryAfter, tc.newChat, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "send to chat "+strconv.FormatInt(chat, 10)) || strings.Contains(msg, h.fake.Token) {
				t.Errorf("error text %q: want chat context and no token", msg)
			}
			// The failure was one-off: the next send goes through.
			if _, err := h.a.Send(context.Background(), strconv.FormatInt(chat, 10), bot.Message{Title: "x"}); err != nil {
				t.Errorf("second send: %v", err)
			}
		})
	}
}

func TestSendOptions(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.connected()
	ctx := context.Background()
	first, err := h.a.Send(ctx, strconv.Itoa(groupID), bot.Message{Title: "🔴 X is down", Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.a.Send(ctx, strconv.Itoa(groupID), bot.Message{Title: "🟢 X is back up", ReplyTo: first})
	if err != nil {
		t.Fatal(err)
	}
	got := h.fake.SentTo(groupID)
	if len(got) != 2 || strconv.Itoa(got[0].MessageID) != first || strconv.Itoa(got[1].MessageID) != second {
		t.Fatalf("ids %q %q, sent %+v", first, second, got)
	}
	if !got[0].Silent || got[0].ReplyTo != 0 {
		t.Errorf("first: %+v, want silent and no reply", got[0])
	}
	if got[1].Silent || strconv.Itoa(got[1].ReplyTo) != first || !got[1].AllowWithoutReply {
		t.Errorf("second: %+v, want a reply to %s allowed without it", got[1], first)
	}
	// A deleted original does not block the recovery message.
	if _, err := h.a.Send(ctx, strconv.Itoa(groupID), bot.Message{Title: "up", ReplyTo: "999999"}); err != nil {
		t.Errorf("reply to a missing message: %v", err)
	}
}

func TestSendBeforeConnectedIsUnavailable(t *testing.T) {
	a := NewBot(Options{Token: testToken, Endpoint: "http://127.0.0.1:1/bot%s/%s"}, nil)
	_, err := a.Send(context.Background(), "42", bot.Message{Title: "x"})
	if se := bot.ClassOf(err); se.Class != bot.Unavailable || !errors.Is(err, errNotConnected) {
		t.Fatalf("got %v, want Unavailable not-connected", err)
	}
	if st := a.State(); st != bot.PlatformConnecting {
		t.Errorf("state %s, want connecting", st)
	}
}

func TestSendBadChatIDIsPermanent(t *testing.T) {
	a := NewBot(Options{Token: testToken, Endpoint: "http://127.0.0.1:1/bot%s/%s"}, nil)
	a.self.Store(&identity{ID: 1, UserName: "b"})
	for _, id := range []string{"", "abc", "0", "@channel"} {
		if _, err := a.Send(context.Background(), id, bot.Message{Title: "x"}); bot.ClassOf(err).Class != bot.Permanent {
			t.Errorf("chat %q: %v, want Permanent", id, err)
		}
	}
}

func TestSendNetworkErrorIsUnavailableAndRedacted(t *testing.T) {
	// Port 1 on loopback refuses connections: a network error with the token in its URL.
	a := NewBot(Options{Token: testToken, Endpoint: "http://127.0.0.1:1/bot%s/%s"}, nil)
	a.self.Store(&identity{ID: 1, UserName: "b"})
	_, err := a.Send(context.Background(), "42", bot.Message{Title: "x"})
	if bot.ClassOf(err).Class != bot.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	msg := err.Error()
	if strings.Contains(msg, testToken) || !strings.Contains(msg, "127.0.0.1:1/bot[redacted]/sendMessage") {
		t.Errorf("error %q: want the URL with the token redacted", msg)
	}
}

func TestFakeRateLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, []telegramtest.Option{
		telegramtest.WithLimits(telegramtest.Limits{PerSecond: 3, PerChatPerSecond: 1, PerGroupPerMinute: 20}),
		telegramtest.WithClock(func() time.Time { return now }), // frozen: every send is in the same second
	}, nil)
	h.connected()
	ctx := context.Background()
	send := func(chat string) bot.ErrorClass {
		_, err := h.a.Send(ctx, chat, bot.Message{Title: "x"})
		if err == nil {
			return -1
		}
		return bot.ClassOf(err).Class
	}
	steps := []struct {
		chat string
		want bot.ErrorClass
	}{
		{"1", -1},
		{"1", bot.RateLimited}, // per chat
		{"2", -1},
		{"3", -1},
		{"4", bot.RateLimited}, // overall
	}
	for i, s := range steps {
		if got := send(s.chat); got != s.want {
			t.Errorf("step %d (chat %s): class %v, want %v", i, s.chat, got, s.want)
		}
	}
	if st := h.fake.Stats(); st.Sent != 3 || st.RateLimited != 2 || st.SendCalls != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestRedirectIsNotFollowed: the Bot API endpoint answers 307 towards
// another host. The token is in the URL's path, so following would hand it
// over: the other host gets nothing, and the send fails as Telegram being
// unavailable, with an error that says so and holds no token.
func TestRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	h := newHarness(t, nil, nil)
	h.connected()
	const chat = 7070
	h.fake.FailChat(chat, telegramtest.Failure{Code: http.StatusTemporaryRedirect, Body: "moved", Location: other.URL + "/bot" + h.fake.Token + "/sendMessage"})
	_, err := h.a.Send(context.Background(), strconv.Itoa(chat), bot.Message{Title: "x"})
	if se := bot.ClassOf(err); err == nil || se.Class != bot.Unavailable {
		t.Fatalf("Send = %v, want Unavailable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "HTTP 307 redirect not followed") || strings.Contains(msg, h.fake.Token) {
		t.Errorf("error %q: want the redirect named and no token", msg)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests, want none", n)
	}
}

// TestOneChatsServerErrorLeavesTelegramReady: a sendMessage answered with
// Telegram's JSON 500 for one chat is Unavailable for delivery (which backs
// that chat off) but leaves the adapter ready: Telegram answered.
func TestOneChatsServerErrorLeavesTelegramReady(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.connected()
	const chat = 7171
	h.fake.FailChat(chat, telegramtest.ServerError(500), telegramtest.ServerError(500), telegramtest.ServerError(500))
	for range 3 {
		_, err := h.a.Send(context.Background(), strconv.Itoa(chat), bot.Message{Title: "x"})
		if se := bot.ClassOf(err); err == nil || se.Class != bot.Unavailable {
			t.Fatalf("Send = %v, want Unavailable", err)
		}
	}
	if st := h.a.State(); st != bot.PlatformReady {
		t.Fatalf("state %s after one chat's 500s, want ready", st)
	}
}
