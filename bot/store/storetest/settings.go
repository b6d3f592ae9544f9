package storetest

import (
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

var settingsTests = []test{
	{"OnlySubscribedChatsHaveSettings", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		c := chat(tgPlatform, "2")
		if _, ok, err := s.Settings(ctx, c); ok || err != nil {
			t.Fatalf("a chat never subscribed has settings: %v, %v", ok, err)
		}
		called := false
		if _, ok, err := s.UpdateSettings(ctx, c, func(cs *bot.ChatSettings) { called, cs.Level = true, bot.AlertsOutages }); ok || err != nil {
			t.Fatalf("settings changed for a chat never subscribed: %v, %v", ok, err)
		}
		if called {
			t.Error("the change ran for a chat never subscribed")
		}
		if subs := subscriptions(t, s); len(subs) != 0 {
			t.Fatalf("updating settings subscribed a chat: %+v", subs)
		}
	}},
	{"DefaultsUpdatesAndResubscribe", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		ctx := t.Context()
		c := chat(tgPlatform, "1")
		if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", Lang: "fr", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		cs, ok, err := s.Settings(ctx, c)
		if err != nil || !ok || cs.Level != bot.AlertsAll || !cs.MutedUntil.IsZero() || cs.RemindEvery != 0 || cs.Lang != "fr" {
			t.Fatalf("settings of a new subscription: %+v, %v, %v", cs, ok, err)
		}
		got, ok, err := s.UpdateSettings(ctx, c, func(cs *bot.ChatSettings) {
			cs.Level, cs.MutedUntil, cs.RemindEvery, cs.Lang = bot.AlertsOutages, t0.Add(time.Hour), 30*time.Minute, "de"
		})
		want := bot.ChatSettings{Level: bot.AlertsOutages, MutedUntil: t0.Add(time.Hour), RemindEvery: 30 * time.Minute, Lang: "de"}
		if err != nil || !ok || !sameSettings(got, want) {
			t.Fatalf("update returned %+v, %v, %v; want %+v", got, ok, err, want)
		}
		s = reopen(t, b, s, db, Defaults())
		if got, ok, err := s.Settings(ctx, c); err != nil || !ok || !sameSettings(got, want) {
			t.Fatalf("settings after reopen %+v, %v, %v; want %+v", got, ok, err, want)
		}
		// An empty language keeps the one set; a zero level is the default.
		got, _, err = s.UpdateSettings(ctx, c, func(cs *bot.ChatSettings) { cs.Lang, cs.Level = "", "" })
		if err != nil || got.Level != bot.AlertsAll {
			t.Fatalf("update with empty language and level: %+v, %v", got, err)
		}
		if got, _, _ := s.Settings(ctx, c); got.Lang != "de" || got.Level != bot.AlertsAll {
			t.Fatalf("stored after empty language and level: %+v", got)
		}
		// Ending the subscription drops the settings: a new one starts afresh.
		if _, err := s.Unsubscribe(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Settings(ctx, c); ok || err != nil {
			t.Fatalf("settings outlived the subscription: %v, %v", ok, err)
		}
		if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", Lang: "en", CreatedAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if cs, ok, err := s.Settings(ctx, c); err != nil || !ok || !sameSettings(cs, bot.ChatSettings{Level: bot.AlertsAll, Lang: "en"}) {
			t.Fatalf("settings after resubscribing %+v, %v, %v", cs, ok, err)
		}
	}},
	{"MutedChatStillGetsTheRecoveryOfItsAlert", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		heard, muted := chat(tgPlatform, "1"), chat(tgPlatform, "2")
		subscribe(t, s, heard)
		if _, err := s.Subscribe(ctx, bot.Subscription{Chat: muted, Kind: "private", CreatedAt: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.UpdateSettings(ctx, muted, func(cs *bot.ChatSettings) { cs.MutedUntil = t0.Add(2 * time.Hour) }); err != nil {
			t.Fatal(err)
		}
		SaveDown(t, s, t0)
		d := due(t, s, tgPlatform, t0)
		if len(d) != 1 || d[0].Chat != heard {
			t.Fatalf("down alert went to %+v, want only the chat not muted", d)
		}
		finish(t, s, d[0].ID, bot.StatusSent, "77", t0)
		// Muted after the alert, the chat still gets its recovery, replying to it.
		if _, _, err := s.UpdateSettings(ctx, heard, func(cs *bot.ChatSettings) { cs.MutedUntil = t0.Add(2 * time.Hour) }); err != nil {
			t.Fatal(err)
		}
		SaveRecovery(t, s, t0.Add(time.Minute))
		d = due(t, s, tgPlatform, t0.Add(time.Minute))
		if len(d) != 1 || d[0].Chat != heard || d[0].Change.Transition.To != probe.StateUp || d[0].ReplyTo != "77" {
			t.Fatalf("recovery %+v, want one for %v replying to 77", d, heard)
		}
	}},
}

func sameSettings(a, b bot.ChatSettings) bool {
	return a.Level == b.Level && a.MutedUntil.Equal(b.MutedUntil) && a.RemindEvery == b.RemindEvery && a.Lang == b.Lang
}
