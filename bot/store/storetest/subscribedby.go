package storetest

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
)

var subscribedByTests = []test{
	{"CountsPerPersonAndPlatform", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		ctx := t.Context()
		add := func(c bot.ChatRef, by string) {
			t.Helper()
			if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "group", CreatedAt: t0, By: by}); err != nil {
				t.Fatal(err)
			}
		}
		add(chat(tgPlatform, "1"), "42")
		add(chat(tgPlatform, "2"), "42")
		add(chat(tgPlatform, "3"), "7")
		add(chat(dcPlatform, "4"), "42")
		// Subscribing a chat again keeps the first subscriber.
		add(chat(tgPlatform, "3"), "42")
		count := func(p bot.Platform, user string) int {
			t.Helper()
			n, err := s.SubscribedBy(ctx, p, user)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(tgPlatform, "42"); n != 2 {
			t.Errorf("user 42 subscribed %d Telegram chats, want 2", n)
		}
		if n := count(dcPlatform, "42"); n != 1 {
			t.Errorf("user 42 subscribed %d Discord chats, want 1", n)
		}
		if n := count(tgPlatform, "nobody"); n != 0 {
			t.Errorf("an unknown user subscribed %d chats, want 0", n)
		}
		// Ending a subscription frees its place; the subscriber survives a reopen.
		if _, err := s.Unsubscribe(ctx, chat(tgPlatform, "1")); err != nil {
			t.Fatal(err)
		}
		s = reopen(t, b, s, db, Defaults())
		if n := count(tgPlatform, "42"); n != 1 {
			t.Errorf("after an unsubscribe and a reopen, user 42 has %d Telegram chats, want 1", n)
		}
		var by string
		for _, sub := range subscriptions(t, s) {
			if sub.Chat == chat(tgPlatform, "3") {
				by = sub.By
			}
		}
		if by != "7" {
			t.Errorf("chat 3 lists subscriber %q, want the first one, 7", by)
		}
	}},
}
