package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// titles are the titles of the messages a chat got, in order.
func titles(msgs []sent) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Msg.Title)
	}
	return out
}

func wantTitles(t *testing.T, chat string, msgs []sent, want ...string) {
	t.Helper()
	got := titles(msgs)
	if len(got) != len(want) {
		t.Fatalf("chat %s got %q, want %d messages %q", chat, got, len(want), want)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Fatalf("chat %s got %q, want %q", chat, got, want)
		}
	}
}

func TestOutagesLevelSkipsDegradedAndItsRecovery(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all", "outages")
	e.run(tgPlatform, "outages", "/alerts outages")
	e.step(up, up, degraded, degraded, up, up)
	wantTitles(t, "all", e.tg.To("all"), "degraded", "back up")
	wantTitles(t, "outages", e.tg.To("outages"))

	// down → degraded → down → up: the outages chat hears down once, then the recovery.
	e.step(down, down, degraded, degraded, down, down, up, up)
	wantTitles(t, "all", e.tg.To("all")[2:], "X is down", "partly back", "now down", "back up")
	wantTitles(t, "outages", e.tg.To("outages"), "X is down", "back up")
}

func TestRecoveryFollowsTheAlertNotTheSettings(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "heard", "muted", "switched")
	e.run(tgPlatform, "muted", "/mute 1h")
	e.rounds(up, up, degraded, degraded)
	e.flush()
	// Settings change after the alerts went out: the recovery still comes.
	e.run(tgPlatform, "heard", "/mute 1h")
	e.run(tgPlatform, "switched", "/alerts outages")
	e.rounds(up, up)
	e.flush()
	wantTitles(t, "heard", e.tg.To("heard"), "degraded", "back up")
	wantTitles(t, "switched", e.tg.To("switched"), "degraded", "back up")
	// Muted during the whole incident: no alert, so no recovery.
	wantTitles(t, "muted", e.tg.To("muted"))
	if e.tg.To("heard")[1].Msg.ReplyTo != e.tg.To("heard")[0].ID {
		t.Errorf("recovery does not answer the alert")
	}

	// The mutes run out with X up as the chats last heard: nothing more.
	e.clock.Advance(time.Hour)
	e.rounds(up)
	e.flush()
	for _, chat := range []string{"heard", "muted", "switched"} {
		if n := len(e.tg.To(chat)); n != map[string]int{"heard": 2, "muted": 0, "switched": 2}[chat] {
			t.Errorf("chat %s got %q after the mutes ended", chat, titles(e.tg.To(chat)))
		}
	}
}

func TestMuteEndTellsWhatChangedOnce(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1", "fr")
	e.run(tgPlatform, "fr", "/language fr")
	e.run(tgPlatform, "1", "/mute 30m")
	e.run(tgPlatform, "fr", "/mute 30m")
	e.rounds(up, up, down, down)
	e.flush()
	wantTitles(t, "1", e.tg.To("1"))
	e.clock.Advance(30 * time.Minute)
	e.rounds(down, down, down)
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down")
	wantTitles(t, "fr", e.tg.To("fr"), "X est en panne")
	if m := e.tg.To("1")[0].Msg; !strings.Contains(m.PlainText(), "mute has ended") || m.Severity != bot.SeverityDown {
		t.Fatalf("catch-up %q", m.PlainText())
	}
	// Having heard of the outage, the chat gets its recovery.
	e.rounds(up, up)
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down", "back up")

	// /unmute ends a mute at once; the next round tells what was missed.
	e.run(tgPlatform, "1", "/mute 8h")
	e.rounds(down, down)
	e.run(tgPlatform, "1", "/unmute")
	e.rounds(down)
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down", "back up", "X is down")
}

func TestSubscribedDuringAnOutageGetsTheRecovery(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "early")
	e.rounds(up, up, down, down)
	e.flush()
	e.subscribe(tgPlatform, "late", "late-outages")
	e.run(tgPlatform, "late-outages", "/alerts outages")
	e.rounds(up, up)
	e.flush()
	wantTitles(t, "early", e.tg.To("early"), "down", "back up")
	wantTitles(t, "late", e.tg.To("late"), "back up")
	wantTitles(t, "late-outages", e.tg.To("late-outages"), "back up")
	// Rows are queued only for the chats that get them.
	if got := e.outcomes(); len(got) != 4 {
		t.Fatalf("%d outbox rows, want 4", len(got))
	}
}

// step runs rounds like rounds, delivering after each one, as the
// dispatcher does when the monitor wakes it.
func (e *env) step(verdicts ...probe.Verdict) {
	for _, v := range verdicts {
		e.rounds(v)
		e.flush()
	}
}
