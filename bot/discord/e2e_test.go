package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestEndToEnd: fake X goes down and comes back; a monitor, the SQLite store,
// the dispatcher and this adapter deliver through the real discordgo session
// to the fake Discord. Channels subscribe with /subscribe.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	store := adaptertest.Store(t)
	h := startAdapter(t, harnessOpt{store: store})
	log := newTestLogger(h.logs)

	const (
		plain       = "500000000000000001"
		plain2      = "500000000000000002"
		limited     = "500000000000000003" // 429 once
		flaky       = "500000000000000004" // 500 once
		gone        = "500000000000000005" // 50001 from then on
		unsubscribe = "500000000000000006" // exists, never subscribed
	)
	subscribed := []string{plain, plain2, limited, flaky, gone}
	for _, ch := range subscribed {
		in := h.interact(t, discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: ch, Permissions: discordgo.PermissionManageChannels, AppPermissions: allText})
		if !strings.Contains(in.Text(), "Subscribed") {
			t.Fatalf("subscribe %s: %q", ch, in.Text())
		}
	}
	// A member without the permission cannot subscribe the last channel.
	if in := h.interact(t, discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: unsubscribe}); !in.Ephemeral() {
		t.Error("refusal not ephemeral")
	}

	chain := adaptertest.Start(t, store, []delivery.Channel{{
		Platform: Platform, Notifier: h.a,
		Policy: delivery.Policy{Workers: 4, MaxAttempts: 5, MaxAge: time.Hour, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond},
	}}, log)
	x, rounds := chain.X, func(n int) { t.Helper(); chain.Rounds(t, n) }
	rounds(2) // first state: up, silently
	h.fake.FailChannel(limited, discordtest.RateLimited(300*time.Millisecond, false), 1)
	h.fake.FailChannel(flaky, discordtest.ServerError(), 1)
	h.fake.FailChannel(gone, discordtest.MissingAccess(), 0)

	// X goes down.
	x.Set(fakex.Down503)
	rounds(2)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := h.fake.WaitMessages(wctx, 4); err != nil {
		t.Fatalf("down alerts: %v (got %v)", err, h.fake.MessageCounts())
	}
	settle := func() { time.Sleep(300 * time.Millisecond) } // let any duplicate show up
	settle()
	want := map[string]int{plain: 1, plain2: 1, limited: 1, flaky: 1}
	assertCounts(t, "after the outage", h.fake.MessageCounts(), want)
	for _, ch := range []string{plain, plain2, limited, flaky} {
		m := h.fake.Messages(ch)[0]
		if len(m.Embeds) != 1 || m.Embeds[0].Color != adapterkit.DiscordColorDown || !strings.Contains(m.Embeds[0].Title, "X is down") || m.Reference != nil {
			t.Errorf("%s: down alert %+v", ch, m)
		}
	}
	if n := h.fake.Attempts(limited); n != 2 {
		t.Errorf("rate-limited channel got %d requests, want 2 (one 429, one retry)", n)
	}
	if n := h.fake.Attempts(gone); n != 1 {
		t.Errorf("channel answering 50001 got %d requests, want 1", n)
	}
	bottest.Eventually(t, "50001 ends the subscription", func() bool {
		subs, err := store.Subscriptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.Chat.ID == gone {
				return false
			}
		}
		return len(subs) == 4
	})

	// X recovers: one reply to each channel's down alert.
	x.Set(fakex.Up)
	rounds(2)
	if err := h.fake.WaitMessages(wctx, 8); err != nil {
		t.Fatalf("recoveries: %v (got %v)", err, h.fake.MessageCounts())
	}
	settle()
	for ch := range want {
		want[ch] = 2
	}
	assertCounts(t, "after the recovery", h.fake.MessageCounts(), want)
	for ch := range want {
		msgs := h.fake.Messages(ch)
		down, rec := msgs[0], msgs[1]
		if rec.Reference == nil || rec.Reference.MessageID != down.ID {
			t.Errorf("%s: recovery %+v does not reply to the down alert %s", ch, rec.Reference, down.ID)
		}
		if len(rec.Embeds) != 1 || rec.Embeds[0].Color != adapterkit.DiscordColorUp {
			t.Errorf("%s: recovery embed %+v", ch, rec.Embeds)
		}
	}
	if n := h.fake.Attempts(gone); n != 1 {
		t.Errorf("channel that answered 50001 got %d requests in all, want 1", n)
	}
	if n := h.fake.Attempts(unsubscribe); n != 0 {
		t.Errorf("unsubscribed channel got %d requests", n)
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("Discord would refuse: %v", v)
	}
}

func assertCounts(t *testing.T, when string, got, want map[string]int) {
	t.Helper()
	for ch, n := range want {
		if got[ch] != n {
			t.Errorf("%s: channel %s has %d messages, want %d", when, ch, got[ch], n)
		}
	}
	for ch, n := range got {
		if _, ok := want[ch]; !ok {
			t.Errorf("%s: channel %s got %d unexpected messages", when, ch, n)
		}
	}
}
