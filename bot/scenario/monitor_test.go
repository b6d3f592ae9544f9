package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

func TestFirstStartIsSilent(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, up, up)
	e.flush()
	if n := len(e.tg.To("1")); n != 0 {
		t.Fatalf("%d messages on first start, want none", n)
	}
	if h := e.mon.Health(time.Hour); h.State != probe.StateUp {
		t.Fatalf("state %s, want up", h.State)
	}
}

func TestOutageAndRecoveryAnnouncedOnceEach(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1", "2")
	e.subscribe(dcPlatform, "c")
	e.rounds(up, down, up, down, down, down)
	e.flush()
	e.rounds(down, up, up, up)
	e.flush()
	for _, chat := range []string{"1", "2"} {
		msgs := e.tg.To(chat)
		if len(msgs) != 2 {
			t.Fatalf("chat %s got %d messages, want down and up", chat, len(msgs))
		}
		downMsg, upMsg := msgs[0], msgs[1]
		if downMsg.Msg.Severity != bot.SeverityDown || !strings.Contains(downMsg.Msg.PlainText(), "api: HTTP 503") {
			t.Errorf("down alert %q", downMsg.Msg.PlainText())
		}
		if upMsg.Msg.Severity != bot.SeverityUp || upMsg.Msg.ReplyTo != downMsg.ID {
			t.Errorf("recovery %+v does not answer %s", upMsg.Msg, downMsg.ID)
		}
		// Outage from the first failing round (t0+30s) to the first healthy one (t0+70s).
		if !strings.Contains(upMsg.Msg.PlainText(), "40s (09:00:30 UTC – 09:01:10 UTC)") {
			t.Errorf("recovery text %q", upMsg.Msg.PlainText())
		}
	}
	if n := len(e.dc.To("c")); n != 2 {
		t.Fatalf("discord channel got %d messages, want 2", n)
	}
	saved, _ := e.store.Load(context.Background())
	if saved.Incident == nil || saved.Incident.Open() || saved.Incident.Worst != probe.StateDown {
		t.Fatalf("incident %+v", saved.Incident)
	}
}

func TestUnknownRoundsAnnounceNothing(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, unknown, unknown, unknown, unknown, up)
	e.flush()
	if n := len(e.tg.To("1")); n != 0 {
		t.Fatalf("%d messages while the bot's network was down", n)
	}
	h := e.mon.Health(time.Hour)
	if h.State != probe.StateUp || h.LastVerdict != up {
		t.Fatalf("health %+v", h)
	}
}

func TestRestartDoesNotRepeatAndAnnouncesMissedRecovery(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, down, down)
	e.flush()
	e.restart()
	// X came back while the bot was stopped.
	e.clock.Advance(5 * time.Minute)
	e.rounds(up, up)
	e.flush()
	msgs := e.tg.To("1")
	if len(msgs) != 2 || msgs[0].Msg.Severity != bot.SeverityDown || msgs[1].Msg.Severity != bot.SeverityUp {
		t.Fatalf("messages after restart: %+v", msgs)
	}
	e.restart()
	e.rounds(up, up)
	e.flush()
	if n := len(e.tg.To("1")); n != 2 {
		t.Fatalf("%d messages after a second restart, want still 2", n)
	}
}

func TestDegradedIsSilentAndEscalates(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, degraded, degraded)
	e.flush()
	e.rounds(down, down)
	e.flush()
	msgs := e.tg.To("1")
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want degraded then down", len(msgs))
	}
	if !msgs[0].Msg.Silent || msgs[0].Msg.Severity != bot.SeverityDegraded {
		t.Errorf("degraded alert %+v should be silent", msgs[0].Msg)
	}
	if msgs[1].Msg.Severity != bot.SeverityDown || msgs[1].Msg.Silent {
		t.Errorf("escalation %+v", msgs[1].Msg)
	}
	saved, _ := e.store.Load(context.Background())
	if saved.Incident == nil || saved.Incident.Worst != probe.StateDown || !saved.Incident.Open() {
		t.Fatalf("one incident with worst state down, got %+v", saved.Incident)
	}
}

func TestHealthGoesStale(t *testing.T) {
	e := newEnv(t)
	e.rounds(up)
	if e.mon.Health(time.Minute).Stale {
		t.Fatal("fresh round reported stale")
	}
	e.clock.Advance(2 * time.Minute)
	if !e.mon.Health(time.Minute).Stale {
		t.Fatal("old round not reported stale")
	}
}
