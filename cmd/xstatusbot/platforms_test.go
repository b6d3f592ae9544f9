package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
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

// TestDiscordShardsInHealthAndMetrics runs the bot as main wires it against
// a fake Discord that wants two shards: the leader opens both (auto), each
// shows in /healthz and /metrics, a shard cut off shows as such and comes
// back, and a command on shard 1 is answered.
func TestDiscordShardsInHealthAndMetrics(t *testing.T) {
	x, ctrl := fakex.New(), fakex.New()
	t.Cleanup(x.Close)
	t.Cleanup(ctrl.Close)
	dc := discordtest.New(discordtest.WithShards(2, 2), discordtest.WithShardsRequired(2))
	t.Cleanup(dc.Close)
	env := botEnv(t, x, ctrl)
	withDiscord(env, dc)
	in := start(t, env)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dc.WaitShards(ctx, 0, 1); err != nil {
		t.Fatalf("discord shards never connected: %v\n%s", err, in.stderr.String())
	}
	shardsAre := func(want ...bot.PlatformState) func() bool {
		return func() bool {
			h, err := readHealth(in)
			if err != nil {
				return false
			}
			got := h.Platforms["discord"].Shards
			if len(got) != len(want) {
				return false
			}
			for k, sh := range got {
				if sh.ID != k || sh.State != want[k] {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "both shards ready in /healthz", shardsAre(bot.PlatformReady, bot.PlatformReady))
	if h := healthOf(t, in); h.Platforms["discord"].State != bot.PlatformReady || h.Status != "ok" {
		t.Errorf("/healthz discord %+v, status %q; want the platform's own state kept, ready, ok", h.Platforms["discord"], h.Status)
	}
	for _, shard := range []string{"0", "1"} {
		if v, ok := metric(t, in, `xstatusbot_discord_shard_connected{shard="`+shard+`"}`); !ok || v != 1 {
			t.Errorf("shard %s connected gauge = %v (present %v), want 1", shard, v, ok)
		}
	}

	dc.CutShard(1)
	waitFor(t, "shard 1 unavailable in /healthz", shardsAre(bot.PlatformReady, bot.PlatformUnavailable))
	if v, _ := metric(t, in, `xstatusbot_discord_shard_connected{shard="1"}`); v != 0 {
		t.Errorf("shard 1 connected gauge = %v while cut off, want 0", v)
	}
	dc.Recover()
	waitFor(t, "shard 1 back in /healthz", shardsAre(bot.PlatformReady, bot.PlatformReady))

	id, err := dc.Shard(1).Interact(discordtest.InteractionSpec{Name: "status", GuildID: "300000000000000001", ChannelID: "300000000000000002"})
	if err != nil {
		t.Fatal(err)
	}
	if i, err := dc.WaitAnswered(ctx, id); err != nil || !strings.Contains(i.Text(), "X") {
		t.Fatalf("/status on shard 1 answered %q, %v", i.Text(), err)
	}
	for _, id := range dc.Identified() {
		if id.Refused != 0 || !id.Sharded {
			t.Errorf("IDENTIFY %+v, want every one sharded and accepted", id)
		}
	}
}
