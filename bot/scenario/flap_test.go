package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
)

// TestFlappingSendsOneUnstableAndOneSettledMessage replays waves like the
// seed's outage: X down and back every half minute for a quarter of an hour,
// with a restart in the middle. Each chat gets the first FlapChanges changes
// as usual, then one "unstable" message, then one "settled" message once X
// has held a state for the window, and nothing else.
func TestFlappingSendsOneUnstableAndOneSettledMessage(t *testing.T) {
	e := newEnv(t)
	e.flapChanges, e.flapWindow = 4, 30*time.Minute
	set := metrics.NewSet()
	e.metrics = metrics.New(set)
	e.restart() // with the flap rule and metrics
	e.subscribe(tgPlatform, "all", "outages", "fr")
	e.subscribe(dcPlatform, "c")
	e.run(tgPlatform, "outages", "/alerts outages")
	e.run(tgPlatform, "fr", "/language fr")
	e.step(up, up)
	for range 15 {
		e.step(down, down, up, up)
	}
	wave := []string{"X is down", "back up", "X is down", "back up", "X is unstable"}
	wantTitles(t, "all", e.tg.To("all"), wave...)
	wantTitles(t, "outages", e.tg.To("outages"), wave...)
	wantTitles(t, "c", e.dc.To("c"), wave...)
	wantTitles(t, "fr", e.tg.To("fr"), "X est en panne", "X est de retour", "X est en panne", "X est de retour", "X est instable")
	unstable := e.tg.To("all")[4].Msg
	if !strings.Contains(unstable.PlainText(), "5 changes since 2026-01-30 09:00:30 UTC") {
		t.Fatalf("unstable message %q", unstable.PlainText())
	}
	reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "all"}, Name: "status"})
	if !strings.Contains(reply.PlainText(), "Unstable since 2026-01-30 09:00:30 UTC") {
		t.Fatalf("/status while unstable: %q", reply.PlainText())
	}

	// A restart keeps the unstable period: more waves, still nothing.
	e.restart()
	for range 10 {
		e.step(down, down, up, up)
	}
	e.step(down, down)
	wantTitles(t, "all", e.tg.To("all"), wave...)

	// Down for the whole window: one settled message, with the period.
	e.every(time.Minute, 31*time.Minute)
	settled := append(wave, "X has settled: down")
	wantTitles(t, "all", e.tg.To("all"), settled...)
	wantTitles(t, "outages", e.tg.To("outages"), settled...)
	wantTitles(t, "c", e.dc.To("c"), settled...)
	wantTitles(t, "fr", e.tg.To("fr")[5:], "X s'est stabilisé : en panne")
	// 2 + 4×25 rounds 10 s apart, then down confirmed on the second round
	// (09:17:10); changes: 2 per wave, 25 waves, and that last down.
	if m := e.tg.To("all")[5].Msg; !strings.Contains(m.PlainText(), "It was unstable from 09:00:30 UTC to 09:17:10 UTC (16m40s, 51 changes)") {
		t.Fatalf("settled message %q", m.PlainText())
	}
	// The metrics count every change, quiet ones too: the period's 51
	// (it began with the first).
	if n := metricstest.Sum(t, set, "xstatusbot_transitions_total"); n != 51 {
		t.Fatalf("transitions metric %v, want 51", n)
	}
	reply, _ = e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "all"}, Name: "status"})
	if strings.Contains(reply.PlainText(), "Unstable") {
		t.Fatalf("/status after settling: %q", reply.PlainText())
	}
	// Settled down, the chats get the recovery as for any outage.
	e.step(up, up)
	e.every(time.Minute, time.Hour)
	wantTitles(t, "all", e.tg.To("all"), append(settled, "back up")...)
	wantTitles(t, "outages", e.tg.To("outages"), append(settled, "back up")...)
}

// TestSettledReachesChatsThatGotTheUnstableMessage: a chat that got "X is
// unstable" and muted itself afterwards still gets the settled message that
// closes the story (README: who gets what).
func TestSettledReachesChatsThatGotTheUnstableMessage(t *testing.T) {
	e := newEnv(t)
	e.flapChanges, e.flapWindow = 4, 30*time.Minute
	e.restart()
	e.subscribe(tgPlatform, "muted-later")
	e.step(up, up)
	for range 3 {
		e.step(down, down, up, up)
	}
	wave := []string{"X is down", "back up", "X is down", "back up", "X is unstable"}
	wantTitles(t, "muted-later", e.tg.To("muted-later"), wave...)
	e.run(tgPlatform, "muted-later", "/mute 2h")
	e.step(down, down)
	e.every(time.Minute, 31*time.Minute)
	wantTitles(t, "muted-later", e.tg.To("muted-later"), append(wave, "X has settled: down")...)
}
