package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestEndToEndChatPlatforms runs the whole bot as main wires it, with both
// chat adapters against in-process fakes of Telegram and Discord: people
// subscribe from the apps, X goes down and comes back, each chat hears it once.
func TestEndToEndChatPlatforms(t *testing.T) {
	f := startFakes(t, true)
	x, tg, dc := f.x, f.tg, f.dc
	env := f.env(t)
	in := start(t, env)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dc.WaitConnected(ctx); err != nil {
		t.Fatalf("discord never connected: %v\n%s", err, in.stderr.String())
	}
	const user, member = 1001, 2002
	tg.Private(telegramtest.User{ID: user}, "/subscribe")
	waitFor(t, "telegram subscription confirmed", func() bool {
		for _, m := range tg.SentTo(user) {
			if strings.Contains(m.Plain, "Subscribed") {
				return true
			}
		}
		return false
	})
	const guild, channel, other = "300000000000000001", "300000000000000002", "300000000000000003"
	id, err := dc.Interact(discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: channel, Permissions: discordgo.PermissionManageChannels})
	if err != nil {
		t.Fatal(err)
	}
	if i, err := dc.WaitAnswered(ctx, id); err != nil || !strings.Contains(i.Text(), "Subscribed") {
		t.Fatalf("discord subscribe answered %q, %v", i.Text(), err)
	}
	refused, _ := dc.Interact(discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: other})
	if i, err := dc.WaitAnswered(ctx, refused); err != nil || !strings.Contains(i.Text(), "only an admin") {
		t.Fatalf("member without permission: %q, %v", i.Text(), err)
	}
	tg.Private(telegramtest.User{ID: member}, "/status")

	x.Set(fakex.Down503)
	waitFor(t, "down alerts", func() bool { return countPrefix(tg.SentTo(user), "🔴") == 1 && len(dc.Messages(channel)) == 1 })
	x.Set(fakex.Up)
	waitFor(t, "recoveries", func() bool { return countPrefix(tg.SentTo(user), "🟢") == 1 && len(dc.Messages(channel)) == 2 })
	n := in.rounds()
	waitFor(t, "three more rounds", func() bool { return in.rounds() >= n+3 })

	sent := tg.SentTo(user)
	if countPrefix(sent, "🔴") != 1 || countPrefix(sent, "🟢") != 1 {
		t.Fatalf("telegram chat got %+v", sent)
	}
	var down int
	for _, m := range sent {
		if strings.HasPrefix(m.Plain, "🔴") {
			down = m.MessageID
		}
	}
	if up := sent[len(sent)-1]; up.ReplyTo != down {
		t.Errorf("telegram recovery replies to %d, want %d", up.ReplyTo, down)
	}
	msgs := dc.Messages(channel)
	if len(msgs) != 2 || msgs[1].Reference == nil || msgs[1].Reference.MessageID != msgs[0].ID {
		t.Errorf("discord channel got %+v", msgs)
	}
	if len(dc.Messages(other)) != 0 || countPrefix(tg.SentTo(member), "🔴") != 0 {
		t.Error("a chat that did not subscribe got an alert")
	}
	if countPrefix(tg.SentTo(member), "X is") == 0 {
		t.Errorf("/status got no answer: %+v", tg.SentTo(member))
	}
	if out := in.stdout.String(); out != "" {
		t.Errorf("console printed alerts although chat platforms are configured:\n%s", out)
	}
	logs := in.stderr.String()
	for _, secret := range []string{telegramtest.DefaultToken, discordtest.DefaultToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("a token appears in the logs")
		}
	}
}

func countPrefix(msgs []telegramtest.SentMessage, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m.Plain, prefix) {
			n++
		}
	}
	return n
}

// TestRejectedTokensStopTheBot checks a token the platform refuses stops the
// bot with a message that names the setting and does not print the token.
func TestRejectedTokensStopTheBot(t *testing.T) {
	const wrong = "999999:WrongTokenWrongTokenWrongToken"
	env := startFakes(t, false).env(t)
	env["TELEGRAM_BOT_TOKEN"] = wrong
	env["HTTP_ADDR"] = freeAddr(t)
	var stdout, stderr bottest.Buffer
	code := run(context.Background(), nil, lookupFrom(env), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "TELEGRAM_BOT_TOKEN") || strings.Contains(stderr.String(), wrong) {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}
