package scenario_test

import (
	"strings"
	"testing"
	"time"
)

// every runs one round (and delivery) each interval until d has passed.
func (e *env) every(interval, d time.Duration) {
	for end := e.clock.Now().Add(d); !e.clock.Now().After(end); {
		e.step(e.probe.verdict)
		e.clock.Advance(interval - 10*time.Second) // step advanced 10 s already
	}
}

func TestRemindersAtTheirCadenceStopAtRecoveryAndFollowTheMute(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "hourly", "quarter", "none", "muted")
	e.run(tgPlatform, "hourly", "/remind 1h")
	e.run(tgPlatform, "quarter", "/remind 15m")
	e.run(tgPlatform, "muted", "/remind 15m")
	e.step(up, up, down, down)
	wantTitles(t, "hourly", e.tg.To("hourly"), "X is down")
	e.run(tgPlatform, "muted", "/mute 1h")

	// Two hours of down, a round a minute.
	e.every(time.Minute, 2*time.Hour)
	wantTitles(t, "hourly", e.tg.To("hourly"), "X is down", "X is down", "X is down")
	if n := len(e.tg.To("quarter")); n != 1+8 {
		t.Fatalf("15 min reminders over 2 h: %d messages, want the alert and 8", n)
	}
	wantTitles(t, "none", e.tg.To("none"), "X is down")
	// Muted for the first hour: no reminder then; one as the mute ends (its
	// last alert is an hour old; the state it heard of has not changed, so
	// no catch-up besides), then every 15 min: at 1h, 1h15, 1h30, 1h45, 2h.
	if n := len(e.tg.To("muted")); n != 1+5 {
		t.Fatalf("muted chat: %d messages (%q), want the alert and 5 reminders", n, titles(e.tg.To("muted")))
	}
	for _, m := range e.tg.To("muted")[1:] {
		if !m.Msg.Time.After(t0.Add(time.Hour)) {
			t.Fatalf("reminder at %s, during the mute", m.Msg.Time)
		}
	}
	r := e.tg.To("hourly")[1]
	if !strings.Contains(r.Msg.PlainText(), "Reminder: still down, for 1h00m") || r.Msg.ReplyTo != e.tg.To("hourly")[0].ID {
		t.Fatalf("reminder %q replying to %q", r.Msg.PlainText(), r.Msg.ReplyTo)
	}

	e.step(up, up)
	e.every(time.Minute, 2*time.Hour)
	wantTitles(t, "hourly", e.tg.To("hourly"), "X is down", "X is down", "X is down", "back up")
}

func TestRemindersDoNotPileUpAcrossARestart(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.run(tgPlatform, "1", "/remind 15m")
	e.step(up, up, down, down)
	e.every(time.Minute, 20*time.Minute)
	wantTitles(t, "1", e.tg.To("1"), "X is down", "X is down")

	// The bot is stopped for 5 hours while X stays down.
	e.restart()
	e.clock.Advance(5 * time.Hour)
	e.probe.verdict = down
	e.every(time.Minute, 14*time.Minute)
	wantTitles(t, "1", e.tg.To("1"), "X is down", "X is down", "X is down")
	e.every(time.Minute, 2*time.Minute)
	wantTitles(t, "1", e.tg.To("1"), "X is down", "X is down", "X is down", "X is down")
}
