package telegram

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// telegramLimits are Telegram's limits as the fake enforces them: about 30
// messages a second without paying, 1000 with paid broadcast, 1 a second
// per chat.
var telegramLimits = telegramtest.Limits{PerSecond: FreeRate, PaidPerSecond: PaidRate, PerChatPerSecond: 1, PerGroupPerMinute: 20}

// withPaid is a harness setup turning paid broadcast on, as
// Options.PaidBroadcast does.
func withPaid(a *Bot) { a.paid = newPaidBroadcast() }

// jumpClock is the real clock plus an offset the test moves forward: waits
// are real, and a pause of minutes ends at once.
type jumpClock struct{ off atomic.Int64 }

func (c *jumpClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *jumpClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *jumpClock) jump(d time.Duration)                   { c.off.Add(int64(d)) }

func TestConfigRateBoundFollowsPaidBroadcast(t *testing.T) {
	tests := []struct {
		paid string
		rate float64
		// want lists what the error must name; nil: no error.
		want []string
	}{
		{"off", 25, nil},
		{"off", FreeRate, nil},
		{"off", 31, []string{"TELEGRAM_RATE_LIMIT:", "TELEGRAM_PAID_BROADCAST", "free limit", "429"}},
		{"off", PaidRate, []string{"TELEGRAM_RATE_LIMIT:", "TELEGRAM_PAID_BROADCAST=on", "Stars"}},
		{"on", 25, nil},
		{"on", PaidRate, nil},
		{"on", PaidRate + 1, []string{"TELEGRAM_RATE_LIMIT:", "1000"}},
		{"yes", 25, []string{"TELEGRAM_PAID_BROADCAST:", `"yes" is not one of on, off`}},
		{"", 25, []string{"TELEGRAM_PAID_BROADCAST:"}},
		// Both wrong: both named, and the rate is judged by the paid bound only.
		{"ON", 0, []string{"TELEGRAM_PAID_BROADCAST:", "TELEGRAM_RATE_LIMIT: must be above 0"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s at %g", tc.paid, tc.rate), func(t *testing.T) {
			c := Config{Token: testToken, Endpoint: DefaultEndpoint, Rate: tc.rate, PaidBroadcast: tc.paid}
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if got := c.options().PaidBroadcast; got != (tc.paid == "on") {
					t.Errorf("Options.PaidBroadcast %v", got)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPaidBroadcastOnlyOnAlerts: with paid broadcast on, an alert carries
// allow_paid_broadcast and nothing else does: typed commands' answers, the
// answer to a button press, the edit it makes. Off, nothing carries it.
func TestPaidBroadcastOnlyOnAlerts(t *testing.T) {
	for _, paid := range []bool{true, false} {
		t.Run(fmt.Sprintf("paid %v", paid), func(t *testing.T) {
			rec := &recorder{}
			h := newHarnessWith(t, nil, func(s Handler) Handler { rec.Handler = s; return rec }, func() time.Time { return t0 }, func(a *Bot) {
				a.replier = delivery.NewGate(delivery.Policy{}, nil)
				if paid {
					withPaid(a)
				}
			})
			h.connected()
			user := telegramtest.User{ID: userID, LanguageCode: "en"}
			h.handled(h.fake.Private(user, "/subscribe"))
			h.handled(h.fake.Private(user, "/status"))
			msgID := h.fake.SentTo(userID)[0].MessageID
			h.handled(h.fake.Private(user, "/settings"))
			settings := h.fake.SentTo(userID)[2].MessageID
			press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: settings, Data: "/mute 2h"})
			if _, err := h.a.Send(context.Background(), strconv.Itoa(userID), bot.Message{Title: "🔴 X is down", ReplyTo: strconv.Itoa(msgID)}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.a.Send(context.Background(), strconv.Itoa(groupID), bot.Message{Title: "🔴 X is down", Silent: true}); err != nil {
				t.Fatal(err)
			}
			sent := h.fake.SentTo(userID)
			if len(sent) != 4 {
				t.Fatalf("sent %+v, want 3 answers and an alert", sent)
			}
			for i, m := range sent[:3] {
				if m.PaidBroadcast {
					t.Errorf("answer %d (%q) carries allow_paid_broadcast", i, m.Plain)
				}
			}
			for _, m := range []telegramtest.SentMessage{sent[3], h.fake.SentTo(groupID)[0]} {
				if m.PaidBroadcast != paid {
					t.Errorf("alert to %d: allow_paid_broadcast %v, want %v", m.ChatID, m.PaidBroadcast, paid)
				}
			}
			if len(h.fake.Edits(userID)) != 1 {
				t.Fatalf("edits %+v, want the button's one", h.fake.Edits(userID))
			}
			if st := h.fake.Stats(); st.PaidElsewhere != 0 {
				t.Errorf("%d requests other than sendMessage carried allow_paid_broadcast", st.PaidElsewhere)
			}
		})
	}
}

// TestOutOfStarsFallsBackAndPauses: Telegram refuses a paid alert (the
// bot's Stars ran out). The alert goes out at once without the flag, one
// error says why; the next alerts are not tried paid during the pause.
// After it, paid is tried again (still refused: a second line, the alert
// still delivered), and once Stars are back alerts go out paid again.
func TestOutOfStarsFallsBackAndPauses(t *testing.T) {
	clk := &jumpClock{}
	h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, func(a *Bot) {
		withPaid(a)
		a.clock = clk
	})
	h.connected()
	h.fake.RefusePaid(telegramtest.NotEnoughStars())
	send := func(chat int) {
		t.Helper()
		if _, err := h.a.Send(context.Background(), strconv.Itoa(chat), bot.Message{Title: "🔴 X is down"}); err != nil {
			t.Fatalf("alert to %d: %v", chat, err)
		}
	}
	set := metrics.NewSet()
	set.RegisterMetricsWriter(func(w io.Writer) { WritePaidMetrics(w, h.a) })
	paidMetrics := func(paused, pauses float64) {
		t.Helper()
		got := metricstest.Series(t, set)
		if got["xstatusbot_telegram_paid_broadcast_paused"] != paused || got["xstatusbot_telegram_paid_broadcast_pauses_total"] != pauses {
			t.Errorf("paid metrics %v, want paused %v, pauses %v", got, paused, pauses)
		}
	}
	paidMetrics(0, 0)
	const refused = "paid broadcast refused"
	for chat := 1; chat <= 5; chat++ {
		send(chat)
	}
	paidMetrics(1, 1)
	if st := h.fake.Stats(); st.PaidRefused != 1 || st.PaidSent != 0 || st.Sent != 5 {
		t.Errorf("stats %+v: want one paid try refused, then 5 unpaid alerts", st)
	}
	if n := strings.Count(h.logs.String(), refused); n != 1 {
		t.Errorf("%d lines say %q, want 1:\n%s", n, refused, h.logs.String())
	}
	for _, want := range []string{"BALANCE_TOO_LOW", "Stars balance", "@BotFather", "TELEGRAM_PAID_BROADCAST=off", "pause=10m0s"} {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, h.logs.String())
		}
	}

	clk.jump(paidPause)
	send(6)
	if st := h.fake.Stats(); st.PaidRefused != 2 || st.Sent != 6 {
		t.Errorf("stats %+v: want paid tried again after the pause, and refused", st)
	}
	if n := strings.Count(h.logs.String(), refused); n != 2 {
		t.Errorf("%d lines say %q after the second refusal, want 2", n, refused)
	}
	paidMetrics(1, 2)

	h.fake.AcceptPaid()
	clk.jump(paidPause)
	send(7)
	send(8)
	if st := h.fake.Stats(); st.PaidSent != 2 || st.PaidRefused != 2 {
		t.Errorf("stats %+v: want the alerts after the top-up paid", st)
	}
	paidMetrics(0, 2)
	if typ := metricstest.Type(t, set, "xstatusbot_telegram_paid_broadcast_pauses_total"); typ != "counter" {
		t.Errorf("TYPE of the pauses %q, want counter", typ)
	}
	if !strings.Contains(h.logs.String(), "trying paid broadcast again") {
		t.Errorf("the return to paid broadcast is not logged:\n%s", h.logs.String())
	}
	for chat := 1; chat <= 8; chat++ {
		got := h.fake.SentTo(int64(chat))
		if len(got) != 1 || got[0].PaidBroadcast != (chat >= 7) {
			t.Errorf("chat %d got %+v, want one alert, paid only after the top-up", chat, got)
		}
	}
}

// TestPaidRefusalsTheAdapterCannotName: a paid send refused with a 400 of
// unknown text that an unpaid send does not repeat pauses paid broadcast
// too; a 400 both repeat is the message's own fault (returned, no pause);
// a chat gone is not resent.
func TestPaidRefusalsTheAdapterCannotName(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown refusal of paid only", func(t *testing.T) {
		h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, withPaid)
		h.connected()
		h.fake.RefusePaid(telegramtest.BadRequest("PAID_SOMETHING_NEW"))
		for chat := 1; chat <= 3; chat++ {
			if _, err := h.a.Send(ctx, strconv.Itoa(chat), bot.Message{Title: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if st := h.fake.Stats(); st.PaidRefused != 1 || st.Sent != 3 {
			t.Errorf("stats %+v: want one refusal, then unpaid alerts", st)
		}
	})
	t.Run("the message's own 400", func(t *testing.T) {
		h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, withPaid)
		h.connected()
		bad := telegramtest.BadRequest("can't parse entities: unclosed tag")
		h.fake.FailChat(10, bad, bad)
		_, err := h.a.Send(ctx, "10", bot.Message{Title: "x"})
		if bot.ClassOf(err).Class != bot.Retryable || !strings.Contains(err.Error(), "can't parse entities") {
			t.Fatalf("Send = %v, want the 400 as Retryable", err)
		}
		if _, err := h.a.Send(ctx, "11", bot.Message{Title: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := h.fake.SentTo(11); len(got) != 1 || !got[0].PaidBroadcast {
			t.Errorf("next alert %+v: want it paid, no pause", got)
		}
		if st := h.fake.Stats(); st.SendCalls != 3 {
			t.Errorf("%d sendMessage calls, want 3 (paid, unpaid, next)", st.SendCalls)
		}
	})
	t.Run("chat gone", func(t *testing.T) {
		h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, withPaid)
		h.connected()
		h.fake.FailChat(20, telegramtest.Blocked())
		if _, err := h.a.Send(ctx, "20", bot.Message{Title: "x"}); bot.ClassOf(err).Class != bot.Permanent {
			t.Fatalf("Send = %v, want Permanent", err)
		}
		if st := h.fake.Stats(); st.SendCalls != 1 {
			t.Errorf("%d sendMessage calls, want 1: a blocked chat is not resent", st.SendCalls)
		}
	})
}
