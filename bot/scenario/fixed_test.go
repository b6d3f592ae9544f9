package scenario_test

import (
	"context"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

func TestSyncFixedAddsAndRemovesConfiguredChats(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const hooks bot.Platform = "webhook"
	e.subscribe(tgPlatform, "42") // another platform: never touched
	sub := func(id string) bot.Subscription { return bot.Subscription{Chat: bot.ChatRef{ID: id}, Kind: "webhook"} }

	added, removed, err := command.SyncFixed(ctx, e.store, hooks, []bot.Subscription{sub("a"), sub("b")}, e.clock.Now())
	if err != nil || added != 2 || removed != 0 {
		t.Fatalf("first sync: +%d -%d %v", added, removed, err)
	}
	e.outage() // queues alerts for a, b and 42
	added, removed, err = command.SyncFixed(ctx, e.store, hooks, []bot.Subscription{sub("b"), sub("c")}, e.clock.Now())
	if err != nil || added != 1 || removed != 1 {
		t.Fatalf("second sync: +%d -%d %v", added, removed, err)
	}
	subs, err := e.store.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[bot.ChatRef]bool{}
	for _, s := range subs {
		got[s.Chat] = true
	}
	for _, want := range []bot.ChatRef{{Platform: hooks, ID: "b"}, {Platform: hooks, ID: "c"}, {Platform: tgPlatform, ID: "42"}} {
		if !got[want] {
			t.Fatalf("subscriptions %v lack %v", subs, want)
		}
	}
	if got[bot.ChatRef{Platform: hooks, ID: "a"}] || len(subs) != 3 {
		t.Fatalf("subscriptions %v: a should have ended", subs)
	}
	for _, o := range e.outcomes() {
		if o.Chat.ID == "a" && o.Status == bot.StatusPending {
			t.Fatalf("the removed chat kept a pending alert: %+v", o)
		}
	}
}
