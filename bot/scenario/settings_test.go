package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

// run sends a command line ("/mute 2h") from an admin of a private chat.
func (e *env) run(p bot.Platform, chat, line string) bot.Message {
	e.t.Helper()
	name, args, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	reply, ok := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: p, ID: chat}, Kind: "private", Private: true, Name: name, Args: args})
	if !ok {
		e.t.Fatalf("%s: no reply", line)
	}
	return reply
}

func (e *env) settingsOf(p bot.Platform, chat string) bot.ChatSettings {
	e.t.Helper()
	cs, ok, err := e.store.Settings(context.Background(), bot.ChatRef{Platform: p, ID: chat})
	if err != nil || !ok {
		e.t.Fatalf("settings of %s: %v, subscribed %v", chat, err, ok)
	}
	return cs
}

func TestSettingsCommands(t *testing.T) {
	tests := []struct {
		line, lang string
		want       string // in the reply
		check      func(bot.ChatSettings) bool
	}{
		{"/settings", "", "Settings of this chat", func(cs bot.ChatSettings) bool { return cs.Level == bot.AlertsAll && cs.RemindEvery == 0 }},
		{"/settings", "fr", "Réglages de ce chat", func(cs bot.ChatSettings) bool { return cs.Level == bot.AlertsAll }},
		{"/alerts outages", "", "outages only", func(cs bot.ChatSettings) bool { return cs.Level == bot.AlertsOutages }},
		{"/alerts all", "fr", "tous les changements", func(cs bot.ChatSettings) bool { return cs.Level == bot.AlertsAll }},
		{"/alerts banana", "", "Use /alerts outages", func(cs bot.ChatSettings) bool { return cs.Level == bot.AlertsAll }},
		{"/mute 2h", "", "muted until 2026-01-30 11:00:00 UTC", func(cs bot.ChatSettings) bool { return cs.MutedUntil.Equal(t0.Add(2 * time.Hour)) }},
		{"/mute 30m", "fr", "silence jusqu'à 2026-01-30 09:30:00 UTC", func(cs bot.ChatSettings) bool { return cs.MutedUntil.Equal(t0.Add(30 * time.Minute)) }},
		{"/mute 1d", "", "muted until 2026-01-31 09:00:00 UTC", func(cs bot.ChatSettings) bool { return cs.MutedUntil.Equal(t0.Add(24 * time.Hour)) }},
		{"/mute banana", "", "up to 7 days", func(cs bot.ChatSettings) bool { return cs.MutedUntil.IsZero() }},
		{"/mute 30d", "fr", "jusqu'à 7 jours", func(cs bot.ChatSettings) bool { return cs.MutedUntil.IsZero() }},
		{"/mute", "", "up to 7 days", func(cs bot.ChatSettings) bool { return cs.MutedUntil.IsZero() }},
		{"/unmute", "", "Not muted", func(cs bot.ChatSettings) bool { return cs.MutedUntil.IsZero() }},
		{"/language fr", "", "Langue : français", func(cs bot.ChatSettings) bool { return cs.Lang == "fr" }},
		{"/language de", "", "Use /language fr", func(cs bot.ChatSettings) bool { return cs.Lang == "" }},
		{"/remind 1h", "", "reminders every 1h00m", func(cs bot.ChatSettings) bool { return cs.RemindEvery == time.Hour }},
		{"/remind 15m", "fr", "rappel toutes les 15m00s", func(cs bot.ChatSettings) bool { return cs.RemindEvery == 15*time.Minute }},
		{"/remind 1m", "", "at least 15 minutes", func(cs bot.ChatSettings) bool { return cs.RemindEvery == 0 }},
		{"/remind off", "", "Reminders off", func(cs bot.ChatSettings) bool { return cs.RemindEvery == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.line+" "+tt.lang, func(t *testing.T) {
			e := newEnv(t)
			e.subscribe(tgPlatform, "1")
			name, args, _ := strings.Cut(strings.TrimPrefix(tt.line, "/"), " ")
			reply, ok := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: name, Args: args, Lang: tt.lang})
			if !ok || !strings.Contains(reply.PlainText(), tt.want) {
				t.Fatalf("reply %q, want %q", reply.PlainText(), tt.want)
			}
			if cs := e.settingsOf(tgPlatform, "1"); !tt.check(cs) {
				t.Fatalf("settings after %s: %+v", tt.line, cs)
			}
		})
	}
}

func TestSettingsButtonsRunTheirCommands(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	for _, lang := range []string{"en", "fr"} {
		reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "settings", Lang: lang})
		var n int
		for _, row := range reply.Buttons {
			for _, b := range row {
				n++
				if len(b.Data) > 64 || b.Label == "" {
					t.Errorf("button %+v: label empty or data over 64 bytes", b)
				}
				after := e.run(tgPlatform, "1", b.Data)
				if !strings.HasPrefix(after.Title, "✅") || len(after.Buttons) != len(reply.Buttons) {
					t.Errorf("button %s answered %q with %d rows of buttons", b.Data, after.Title, len(after.Buttons))
				}
			}
		}
		if n != 9 {
			t.Fatalf("%d buttons, want 9", n)
		}
	}
	// The last row ran "/remind off"; the one before, "/language en".
	if cs := e.settingsOf(tgPlatform, "1"); cs.RemindEvery != 0 || cs.Lang != "en" {
		t.Fatalf("settings after the buttons: %+v", cs)
	}
}

func TestSettingsWhoMayChange(t *testing.T) {
	e := newEnv(t)
	group := bot.ChatRef{Platform: tgPlatform, ID: "-5"}
	ctx := context.Background()
	cmd := func(name, args string, isAdmin bool) bot.Message {
		reply, _ := e.svc.Handle(ctx, command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: name, Args: args, IsAdmin: admin(isAdmin, nil)})
		return reply
	}
	if r := cmd("mute", "2h", true); !strings.Contains(r.Title, "/subscribe first") {
		t.Fatalf("unsubscribed chat: %q", r.Title)
	}
	if r := cmd("settings", "", false); !strings.Contains(r.Title, "/subscribe first") {
		t.Fatalf("unsubscribed chat, /settings: %q", r.Title)
	}
	if r := cmd("subscribe", "", true); !strings.Contains(r.Title, "Subscribed") {
		t.Fatalf("subscribe: %q", r.Title)
	}
	if r := cmd("mute", "2h", false); !strings.Contains(r.Title, "only an admin") {
		t.Fatalf("member muting: %q", r.Title)
	}
	if r := cmd("settings", "", false); !strings.Contains(r.PlainText(), "Mute: off") {
		t.Fatalf("member reading: %q", r.PlainText())
	}
	if r := cmd("mute", "2h", true); !strings.Contains(r.Title, "muted until") {
		t.Fatalf("admin muting: %q", r.Title)
	}
}

func TestSettingsSurviveRestartAndResetOnResubscribe(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.run(tgPlatform, "1", "/alerts outages")
	e.run(tgPlatform, "1", "/remind 2h")
	e.run(tgPlatform, "1", "/language fr")
	e.restart()
	if cs := e.settingsOf(tgPlatform, "1"); cs.Level != bot.AlertsOutages || cs.RemindEvery != 2*time.Hour || cs.Lang != "fr" {
		t.Fatalf("after restart: %+v", cs)
	}
	if r := e.run(tgPlatform, "1", "/settings"); !strings.Contains(r.PlainText(), "pannes seulement") {
		t.Fatalf("/settings is not in the chat's language: %q", r.PlainText())
	}
	e.run(tgPlatform, "1", "/unsubscribe")
	e.subscribe(tgPlatform, "1")
	if cs := e.settingsOf(tgPlatform, "1"); cs.Level != bot.AlertsAll || cs.RemindEvery != 0 || !cs.MutedUntil.IsZero() || cs.Lang != "" {
		t.Fatalf("after resubscribing: %+v", cs)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2h": 2 * time.Hour, "1d": 24 * time.Hour, "1h30m": 90 * time.Minute, " 7D ": 7 * 24 * time.Hour} {
		if got, ok := command.ParseDuration(in); !ok || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "banana", "0m", "-1h", "d", "1.5d", "0d"} {
		if got, ok := command.ParseDuration(in); ok {
			t.Errorf("ParseDuration(%q) = %v, want refused", in, got)
		}
	}
}

func TestRepliesInTheChatsLanguage(t *testing.T) {
	e := newEnv(t)
	ask := func(name, lang string) string {
		reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: name, Lang: lang})
		return reply.PlainText()
	}
	if got := ask("subscribe", "en"); !strings.Contains(got, "Subscribed") {
		t.Fatalf("/subscribe: %q", got)
	}
	if got := ask("status", "fr"); !strings.Contains(got, "No check has completed yet") {
		t.Fatalf("/status in a chat subscribed in English, asked in French: %q", got)
	}
	e.run(tgPlatform, "1", "/language fr")
	if got := ask("status", "en"); !strings.Contains(got, "Aucune vérification") {
		t.Fatalf("/status after /language fr: %q", got)
	}
	if got := ask("help", "en"); !strings.Contains(got, "Je surveille X") {
		t.Fatalf("/help after /language fr: %q", got)
	}
	// About the subscription itself, the asker's language.
	if got := ask("subscribe", "en"); !strings.Contains(got, "already subscribed") {
		t.Fatalf("/subscribe: %q", got)
	}
}
