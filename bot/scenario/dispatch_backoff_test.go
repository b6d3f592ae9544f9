package scenario_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

var (
	errChat500  = &bot.SendError{Class: bot.Unavailable, Err: errors.New("HTTP 500: Internal Server Error")}
	errNoRights = &bot.SendError{Class: bot.NoRights, Err: errors.New("400 Bad Request: not enough rights to send text messages to the chat")}
)

// TestBrokenChatBacksOffOnTheRealTimer: among healthy chats, one answers 500
// to every send for a minute, on the dispatcher's real loop and timers. Its
// tries follow its own backoff (1 s doubling, jittered: a handful, not a
// probe every 4 s), the platform is never paused nor reported unavailable,
// and the other chats get their alert at once.
func TestBrokenChatBacksOffOnTheRealTimer(t *testing.T) {
	e := newEnv(t)
	e.policy.BackoffMin, e.policy.BackoffMax = time.Second, 5*time.Minute
	tg := newPlatform(e.clock)
	tg.breakChat("broken", errChat500)
	healthy := []string{"a", "b", "c", "d"}
	e.subscribe(tgPlatform, append([]string{"broken"}, healthy...)...)
	e.outage()
	start := e.clock.Now()
	l := e.runLoop(delivery.Channel{Platform: tgPlatform, Notifier: tg, Policy: e.policy})
	for range 60 {
		l.advance(time.Second, 100*time.Millisecond)
		if h := l.disp.Platforms()[tgPlatform]; h.State != bot.PlatformReady || !h.PausedSince.IsZero() {
			t.Fatalf("%s in: platform health %+v, want ready: one broken chat paused the platform",
				e.clock.Now().Sub(start), h)
		}
	}
	for _, c := range healthy {
		if n := tg.count(c); n != 1 {
			t.Fatalf("healthy chat %s got %d alerts, want 1", c, n)
		}
	}
	at := tg.attempts("broken")
	// Tried with the others at once, then the k-th wait is drawn from
	// [d/2, d], d = 1 s doubled k-1 times, and the loop looks within a step
	// (100 ms) of the row falling due: 6 or 7 tries in a minute. Before, the
	// platform paused and this chat was its probe every 4 s.
	if len(at) < 6 || len(at) > 7 || !at[0].Equal(start) {
		t.Fatalf("broken chat tried %d times in a minute (%v), want its own backoff: 6 or 7, the first at once", len(at), offsets(at, start))
	}
	for k := 1; k < len(at); k++ {
		most := time.Second << (k - 1)
		if gap := at[k].Sub(at[k-1]); gap < most/2 || gap > most+100*time.Millisecond {
			t.Fatalf("tries at %v: wait %d was %s, want %s to %s", offsets(at, start), k, gap, most/2, most)
		}
	}
	for _, o := range e.outcomes() {
		if o.Chat.ID == "broken" && (o.Status != bot.StatusPending || o.Attempts != 0) {
			t.Fatalf("broken chat's row %+v: want pending, no attempt spent", o)
		}
	}
	t.Logf("broken chat tried at %v", offsets(at, start))
}

func offsets(at []time.Time, start time.Time) []time.Duration {
	out := make([]time.Duration, len(at))
	for i, t := range at {
		out[i] = t.Sub(start)
	}
	return out
}

// TestNoRightsDropsTheMessageAndEndsTheSubscriptionAtTheThird: a chat where
// the bot may not post drops each message at its first refusal (no retry an
// hour later), keeps its subscription for two, and loses it at the third
// refusal in a row, logged with the chat's id; the other chat gets all.
func TestNoRightsDropsTheMessageAndEndsTheSubscriptionAtTheThird(t *testing.T) {
	e := newEnv(t)
	const mute = "-100777"
	e.tg.fail = func(chat string, _ int) error {
		if chat == mute {
			return errNoRights
		}
		return nil
	}
	e.subscribe(tgPlatform, mute, "ok")
	logs := &bottest.Buffer{}
	e.disp = delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: e.tg, Policy: e.policy}},
		e.clock, slog.New(slog.NewTextHandler(logs, nil)), nil)
	subscribed := func() bool {
		subs, err := e.store.Subscriptions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.Chat.ID == mute {
				return true
			}
		}
		return false
	}

	e.outage()
	e.flush()
	e.clock.Advance(time.Hour)
	e.flush()
	if n := e.tg.Calls(mute); n != 1 {
		t.Fatalf("%d sends to a chat that refused for rights, want 1: the message is dropped, not retried", n)
	}
	for _, o := range e.outcomes() {
		if o.Chat.ID == mute && (o.Status != bot.StatusExpired || !strings.Contains(o.Reason, "no rights")) {
			t.Fatalf("refused row %+v, want expired as dropped for rights", o)
		}
	}
	if !subscribed() {
		t.Fatal("one refusal ended the subscription")
	}

	// A recovery goes only where the down alert went: the next outage
	// brings the second refusal, the one after the third.
	e.rounds(up, up)
	e.flush()
	e.outage()
	e.flush()
	if !subscribed() {
		t.Fatal("two refusals ended the subscription")
	}
	e.rounds(up, up)
	e.flush()
	e.outage()
	e.flush()
	if subscribed() {
		t.Fatalf("still subscribed after three refusals in a row (%d sends, outcomes %+v)", e.tg.Calls(mute), e.outcomes())
	}
	if n := e.tg.Calls(mute); n != 3 {
		t.Fatalf("%d sends to the refusing chat, want 3", n)
	}
	if n := len(e.tg.To("ok")); n != 5 {
		t.Fatalf("the other chat got %d alerts, want 5", n)
	}
	if l := logs.String(); !strings.Contains(l, "subscription ended") || !strings.Contains(l, "chat="+mute) {
		t.Fatalf("no log line with the chat's id for the ended subscription:\n%s", l)
	}
}

// TestNoRightsCountsOnlyRefusalsInARow: a message delivered between two
// refusals starts the count again.
func TestNoRightsCountsOnlyRefusalsInARow(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, n int) error {
		if n != 3 { // refused, refused, delivered, refused, refused
			return errNoRights
		}
		return nil
	}
	e.subscribe(tgPlatform, "1")
	for range 5 {
		e.rounds(up, down, down, up, up)
		e.flush()
	}
	subs, _ := e.store.Subscriptions(context.Background())
	if len(subs) != 1 {
		t.Fatalf("subscription ended after refusals broken by a delivery (%d sends)", e.tg.Calls("1"))
	}
	if n := e.tg.Calls("1"); n != 5 {
		t.Fatalf("%d sends, want 5", n)
	}
}
