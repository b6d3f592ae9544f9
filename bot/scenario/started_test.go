package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/history"
)

// TestStatusSaysWhenItStartedAndHowOftenXIsChecked: /status and the board
// give the time of the first failing round (09:00:10), not of the round that
// confirmed it (09:00:20), and the same for the recovery; /status says how
// often X is checked and when it last was, in both languages.
func TestStatusSaysWhenItStartedAndHowOftenXIsChecked(t *testing.T) {
	e := newEnv(t)
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	pub.Every = 30 * time.Second
	e.svc = command.NewService(e.store, e.store, e.clock.Now, quiet(), command.WithBoard(pub.Board))
	e.rounds(up, down, down)
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"en": {"down since 2026-01-30 09:00:10 UTC", "X is checked every 30s.", "Last check: 09:00:20 UTC"},
		"fr": {"en panne depuis 2026-01-30 09:00:10 UTC", "X est vérifié toutes les 30s.", "09:00:20 UTC"},
	} {
		text := e.ask("status", lang)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s /status %q lacks %q", lang, text, w)
			}
		}
	}
	if b := pub.Board(); !b.Since.Equal(t0.Add(10*time.Second)) || b.Every != 30*time.Second {
		t.Fatalf("board since %s every %s, want the first failing round 09:00:10 and 30s", b.Since, b.Every)
	}
	e.rounds(up, up) // 09:00:30 and 09:00:40
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if text := e.ask("status", "en"); !strings.Contains(text, "up since 2026-01-30 09:00:30 UTC") {
		t.Errorf("/status after the recovery %q, want up since the first healthy round", text)
	}
	if b := pub.Board(); !b.Since.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("board since %s, want 09:00:30", b.Since)
	}
	// After a restart, from the saved state.
	e.restart()
	if text := e.ask("status", "en"); !strings.Contains(text, "up since 2026-01-30 09:00:30 UTC") {
		t.Errorf("/status after a restart %q", text)
	}
}
