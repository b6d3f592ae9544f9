package scenario_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
)

// TestPanicInOneChatFailsThatRowOnly: rendering the message for one chat
// panics inside the notifier, on the real loop and workers. The process
// goes on, the other chats get their alert, that chat's row ends as expired
// with the panic as reason (not retried), and the panic is counted. A
// second change later is delivered to the others too: the loop survived.
func TestPanicInOneChatFailsThatRowOnly(t *testing.T) {
	e := newEnv(t)
	set := metrics.NewSet()
	e.metrics = metrics.New(set)
	tg := newPlatform(e.clock)
	tg.panics = map[string]bool{"bad": true}
	healthy := []string{"a", "b", "c"}
	e.subscribe(tgPlatform, append([]string{"bad"}, healthy...)...)
	e.outage()
	l := e.runLoop(delivery.Channel{Platform: tgPlatform, Notifier: tg, Policy: e.policy})
	l.until(time.Minute, 100*time.Millisecond, func() bool {
		b, err := e.store.Backlog(t.Context())
		return err == nil && b[tgPlatform].Pending == 0
	})
	for _, c := range healthy {
		if n := tg.count(c); n != 1 {
			t.Fatalf("chat %s got %d alerts, want 1", c, n)
		}
	}
	for _, o := range e.outcomes() {
		if o.Chat.ID == "bad" && (o.Status != bot.StatusExpired || !strings.Contains(o.Reason, "panic")) {
			t.Fatalf("panicking chat's row %+v, want expired with the panic as reason", o)
		}
	}
	want := map[string]float64{`xstatusbot_panics_total{where="delivery"}`: 1}
	if got := metricstest.Family(t, set, "xstatusbot_panics_total"); fmt.Sprint(got) != fmt.Sprint(want) ||
		metricstest.Type(t, set, "xstatusbot_panics_total") != "counter" {
		t.Fatalf("the panic is not counted once: %v, want the counter %v", got, want)
	}
	l.advance(time.Hour, time.Minute)
	if n := len(tg.attempts("bad")); n != 1 {
		t.Fatalf("the panicking row was tried %d times, want once", n)
	}
	e.rounds(up, up) // the recovery goes where the down alert went
	l.until(time.Minute, 100*time.Millisecond, func() bool {
		b, err := e.store.Backlog(t.Context())
		return err == nil && b[tgPlatform].Pending == 0 && tg.count("a") == 2
	})
	for _, c := range healthy {
		if n := tg.count(c); n != 2 {
			t.Fatalf("after the panic chat %s got %d alerts, want 2: the loop did not go on", c, n)
		}
	}
}
