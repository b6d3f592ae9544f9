package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
)

// guildOn returns a server id whose events Discord sends on shard of count.
func guildOn(t *testing.T, shard, count int) string {
	t.Helper()
	for k := uint64(1); k < 1000; k++ {
		id := fmt.Sprint(k<<22 | 12345)
		if discordtest.ShardOf(id, count) == shard {
			return id
		}
	}
	t.Fatalf("no server id on shard %d of %d", shard, count)
	return ""
}

// shardStates is the state of each shard, in shard order.
func shardStates(a *Bot) []bot.PlatformState {
	var out []bot.PlatformState
	for _, sh := range a.Shards() {
		out = append(out, sh.State)
	}
	return out
}

func allShardsReady(a *Bot, n int) bool {
	st := shardStates(a)
	return len(st) == n && !slices.ContainsFunc(st, func(s bot.PlatformState) bool { return s != bot.PlatformReady })
}

// identifiedPairs lists the shard pairs of the accepted IDENTIFYs, sorted.
func identifiedPairs(fake *discordtest.Server) []discordtest.ShardPair {
	var out []discordtest.ShardPair
	for _, id := range fake.Identified() {
		if id.Refused == 0 {
			out = append(out, id.Shard)
		}
	}
	slices.SortFunc(out, func(a, b discordtest.ShardPair) int { return a.ID - b.ID })
	return out
}

func pairs(count int, ids ...int) []discordtest.ShardPair {
	var out []discordtest.ShardPair
	for _, id := range ids {
		out = append(out, discordtest.ShardPair{ID: id, Count: count})
	}
	return out
}

// DISCORD_SHARDS=auto follows GET /gateway/bot; a number overrides it; one
// shard is the unsharded session of old. Each IDENTIFY carries its pair.
func TestShardCount(t *testing.T) {
	tests := []struct {
		name        string
		setting     int // 0: auto
		recommended int
		want        int
	}{
		{"auto follows the recommendation", 0, 2, 2},
		{"auto with one shard", 0, 1, 1},
		{"a number overrides a smaller recommendation", 3, 1, 3},
		{"a number overrides a larger recommendation", 1, 4, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startAdapter(t, harnessOpt{
				fakeOpts: []discordtest.Option{discordtest.WithShards(tc.recommended, 1)},
				setup: func(a *Bot) {
					a.shardSetting = tc.setting
					a.identifyWindow = 20 * time.Millisecond // real time here; TestIdentifyConcurrency times it
				},
			})
			// The platform's state follows the last shard's a moment later.
			bottest.Eventually(t, "every shard ready, then the platform", func() bool {
				return allShardsReady(h.a, tc.want) && h.a.State() == bot.PlatformReady
			})
			ids := make([]int, tc.want)
			for k := range ids {
				ids[k] = k
			}
			if got, want := identifiedPairs(h.fake), pairs(tc.want, ids...); !slices.Equal(got, want) {
				t.Errorf("IDENTIFYs %v, want %v", got, want)
			}
			for _, id := range h.fake.Identified() {
				if id.Sharded != (tc.want > 1) {
					t.Errorf("IDENTIFY %+v: shard field sent = %v, want %v", id, id.Sharded, tc.want > 1)
				}
			}
			if got := h.fake.ConnectedShards(); len(got) != tc.want {
				t.Errorf("connected shards %v, want %d", got, tc.want)
			}
			if n := len(h.fake.CommandOverwrites()); n != 1 {
				t.Errorf("%d command registrations, want 1 whatever the shards", n)
			}
		})
	}
}

// Discord accepts max_concurrency IDENTIFYs per 5 s: with 4 shards and a
// concurrency of 2, shards 0 and 1 identify at once, 2 and 3 only once 5 s
// have passed on the adapter's clock.
func TestIdentifyConcurrency(t *testing.T) {
	clk := bottest.NewClock(epoch)
	h := startAdapter(t, harnessOpt{clock: clk, fakeOpts: []discordtest.Option{discordtest.WithShards(4, 2)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.WaitShards(ctx, 0, 1); err != nil {
		t.Fatalf("shards 0 and 1: %v (identified %v)", err, identifiedPairs(h.fake))
	}
	// Up on the adapter's side too: their handshakes ended on the clock's now.
	bottest.Eventually(t, "shards 0 and 1 ready", func() bool {
		st := shardStates(h.a)
		return len(st) == 4 && st[0] == bot.PlatformReady && st[1] == bot.PlatformReady
	})
	clk.WaitIdle(t, 2) // shards 2 and 3 wait for their turn
	if got := identifiedPairs(h.fake); !slices.Equal(got, pairs(4, 0, 1)) {
		t.Fatalf("IDENTIFYs before 5 s %v, want shards 0 and 1", got)
	}
	if next, _ := clk.Next(); next != epoch.Add(IdentifyWindow) {
		t.Errorf("the next shards wait until %v, want %v", next, epoch.Add(IdentifyWindow))
	}
	clk.Advance(IdentifyWindow - time.Millisecond)
	if n := clk.Waiters(); n != 2 || len(h.fake.Identified()) != 2 {
		t.Fatalf("%d waiting, %d IDENTIFYs just before 5 s, want 2 and 2", n, len(h.fake.Identified()))
	}
	clk.Advance(time.Millisecond)
	if err := h.fake.WaitShards(ctx, 0, 1, 2, 3); err != nil {
		t.Fatalf("shards 2 and 3 after 5 s: %v (identified %v)\n%s", err, identifiedPairs(h.fake), h.logs)
	}
	if got := identifiedPairs(h.fake); !slices.Equal(got, pairs(4, 0, 1, 2, 3)) {
		t.Errorf("IDENTIFYs %v, want one per shard", got)
	}
	bottest.Eventually(t, "state ready with every shard up", func() bool { return h.a.State() == bot.PlatformReady })
}

// An interaction is answered whichever shard it came on, through the one
// REST client; server events are handled on any shard.
func TestCommandsAndServerEventsOnAnyShard(t *testing.T) {
	h := startAdapter(t, harnessOpt{fakeOpts: []discordtest.Option{discordtest.WithShards(2, 2)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.WaitShards(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	g1 := guildOn(t, 1, 2)
	const channel = "200000000000000011"

	// As Discord routes it: the server's shard, 1.
	in := h.interact(t, discordtest.InteractionSpec{Name: "subscribe", GuildID: g1, ChannelID: channel, Permissions: discordgo.PermissionManageChannels, AppPermissions: allText})
	if !strings.Contains(in.Text(), "Subscribed") {
		t.Fatalf("/subscribe on shard 1 answered %q", in.Text())
	}
	// Forced onto shard 1, then shard 0, whatever the server.
	for _, shard := range []int{1, 0} {
		id, err := h.fake.Shard(shard).Interact(discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000012"})
		if err != nil {
			t.Fatal(err)
		}
		if in, err := h.fake.WaitAnswered(ctx, id); err != nil || !in.Answered() {
			t.Fatalf("/help on shard %d: %v %+v", shard, err, in)
		}
	}

	// GUILD_CREATE counts the server on its shard; GUILD_DELETE ends its subscriptions.
	if err := h.fake.Shard(1).GuildCreate(g1); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "server counted on shard 1", func() bool { s := h.a.Shards(); return s[1].Guilds == 1 && s[0].Guilds == 0 })
	if err := h.fake.GuildDelete(g1, false); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "subscription ended by GUILD_DELETE on shard 1", func() bool { _, ok := h.store.sub(channel); return !ok })
	if n := h.a.Shards()[1].Guilds; n != 0 {
		t.Errorf("shard 1 still counts %d servers", n)
	}
	if err := h.fake.Shard(0).GuildCreate(g1); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "GUILD_CREATE handled on shard 0 too", func() bool { return h.a.Shards()[0].Guilds == 1 })
}

// A shard cut off from Discord reconnects by itself (RESUME, no new
// IDENTIFY) while the other shard keeps answering commands and sends go on.
func TestShardDropsAndReconnectsAlone(t *testing.T) {
	h := startAdapter(t, harnessOpt{fakeOpts: []discordtest.Option{discordtest.WithShards(2, 2)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.WaitShards(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "both shards ready", func() bool { return allShardsReady(h.a, 2) })

	h.fake.CutShard(1)
	bottest.Eventually(t, "shard 1 unavailable", func() bool {
		return slices.Equal(shardStates(h.a), []bot.PlatformState{bot.PlatformReady, bot.PlatformUnavailable})
	})
	if st := h.a.State(); st != bot.PlatformUnavailable {
		t.Errorf("state %q with a shard down, want unavailable", st)
	}
	// Shard 1 keeps trying meanwhile; shard 0 serves.
	for k := range 3 {
		in := h.interact(t, discordtest.InteractionSpec{Name: "help", GuildID: guildOn(t, 0, 2), ChannelID: fmt.Sprint(200000000000000020 + k)})
		if !in.Answered() {
			t.Fatal("shard 0 stopped answering while shard 1 was down")
		}
	}
	if _, err := h.fake.Shard(1).Interact(discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000029"}); err == nil {
		t.Error("shard 1 still has a session on the fake")
	}
	if se, err := send(t, h, "300000000000000001"); err != nil {
		t.Errorf("send with shard 1 down: %+v", se)
	}

	h.fake.Recover()
	if err := h.fake.WaitShards(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "both shards ready again", func() bool { return allShardsReady(h.a, 2) && h.a.State() == bot.PlatformReady })
	if n := h.fake.Resumes(); n != 1 {
		t.Errorf("%d resumes, want 1 (shard 1)", n)
	}
	if got := identifiedPairs(h.fake); !slices.Equal(got, pairs(2, 0, 1)) {
		t.Errorf("IDENTIFYs %v, want only the first two", got)
	}
	in := h.interact(t, discordtest.InteractionSpec{Name: "help", GuildID: guildOn(t, 1, 2), ChannelID: "200000000000000030"})
	if !in.Answered() {
		t.Error("shard 1 does not answer after its reconnection")
	}
	if !strings.Contains(h.logs.String(), "discord gateway reconnected") {
		t.Error("the reconnection was not logged")
	}
}

// A gateway that wants shards closes an unsharded session with 4011: Run
// stops with an error that says so and names the setting.
func TestShardingRequired(t *testing.T) {
	fake := discordtest.New(discordtest.WithShards(2, 1), discordtest.WithShardsRequired(2))
	t.Cleanup(fake.Close)
	logs := &bottest.Buffer{}
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), APIURL: fake.URL, Log: newTestLogger(logs), Shards: 1}, nil)
	a.minBackoff, a.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Run(ctx)
	if !errors.Is(err, ErrShardingRequired) || !strings.Contains(err.Error(), "DISCORD_SHARDS") || !strings.Contains(err.Error(), "4011") {
		t.Fatalf("Run = %v, want ErrShardingRequired naming 4011 and DISCORD_SHARDS", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run retried until its context ended instead of stopping")
	}
	ids := fake.Identified()
	if len(ids) != 1 || ids[0].Sharded || ids[0].Refused != 4011 {
		t.Errorf("IDENTIFYs %+v, want one unsharded, refused with 4011", ids)
	}
	if strings.Contains(err.Error(), fake.Token) || strings.Contains(logs.String(), fake.Token) {
		t.Error("the token leaked")
	}

	// auto, against the same gateway, opens the two shards it asks for.
	h := startAdapter(t, harnessOpt{fakeOpts: []discordtest.Option{discordtest.WithShards(2, 2), discordtest.WithShardsRequired(2)}})
	bottest.Eventually(t, "both shards ready", func() bool { return allShardsReady(h.a, 2) })
}

func TestParseShards(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"auto", 0, true}, {"AUTO", 0, true}, {" auto ", 0, true}, {"", 0, true},
		{"1", 1, true}, {"16", 16, true}, {"1024", 1024, true},
		{"0", 0, false}, {"-2", 0, false}, {"1025", 0, false}, {"two", 0, false}, {"1.5", 0, false}, {"2 shards", 0, false},
	} {
		got, err := ParseShards(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShards(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "DISCORD_SHARDS: ") || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in))) {
			t.Errorf("ParseShards(%q) error %q does not name the setting and the value", tc.in, err)
		}
	}
	cfg := Config{Token: "t", APIURL: DefaultAPIURL, Rate: 50, Shards: "many"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "DISCORD_SHARDS") {
		t.Errorf("Validate with DISCORD_SHARDS=many: %v", err)
	}
}

// The shard gauges follow each shard's session.
func TestShardMetrics(t *testing.T) {
	h := startAdapter(t, harnessOpt{fakeOpts: []discordtest.Option{discordtest.WithShards(2, 2)}})
	bottest.Eventually(t, "both shards ready", func() bool { return allShardsReady(h.a, 2) })
	set := metrics.NewSet()
	set.RegisterMetricsWriter(func(w io.Writer) { WriteShardMetrics(w, h.a) })
	gauges := func() map[string]float64 {
		t.Helper()
		return metricstest.Series(t, set)
	}
	want := map[string]float64{
		`xstatusbot_discord_shard_connected{shard="0"}`: 1, `xstatusbot_discord_shard_connected{shard="1"}`: 1,
		`xstatusbot_discord_shard_guilds{shard="0"}`: 0, `xstatusbot_discord_shard_guilds{shard="1"}`: 0,
	}
	if got := gauges(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("gauges %v, want %v", got, want)
	}
	if typ := metricstest.Type(t, set, "xstatusbot_discord_shard_guilds"); typ != "gauge" {
		t.Errorf("TYPE of the shard guilds %q, want gauge", typ)
	}
	h.fake.CutShard(0)
	bottest.Eventually(t, "shard 0 disconnected in the gauge", func() bool {
		g := gauges()
		return g[`xstatusbot_discord_shard_connected{shard="0"}`] == 0 && g[`xstatusbot_discord_shard_connected{shard="1"}`] == 1
	})
	h.fake.Recover()
	bottest.Eventually(t, "shard 0 connected again", func() bool { return gauges()[`xstatusbot_discord_shard_connected{shard="0"}`] == 1 })
}

// The bot outgrows its shards while running: Discord closes the sessions
// with 4011 and recommends more. With DISCORD_SHARDS=auto the adapter asks
// again and opens them all, without a restart; sends go on through REST
// meanwhile, and the commands are not registered again.
func TestAutoReshardsWhenTheBotOutgrowsItsShards(t *testing.T) {
	h := startAdapter(t, harnessOpt{fakeOpts: []discordtest.Option{discordtest.WithShards(1, 2)}})
	bottest.Eventually(t, "the one shard ready", func() bool { return allShardsReady(h.a, 1) })

	h.fake.Outgrow(2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.a.Send(ctx, "300000000000000001", bot.Message{Title: "while resharding"}); err != nil {
		t.Errorf("send while resharding: %v", err)
	}
	bottest.Eventually(t, "two shards ready", func() bool {
		return allShardsReady(h.a, 2) && h.a.State() == bot.PlatformReady
	})
	if got := h.fake.ConnectedShards(); !slices.Equal(got, pairs(2, 0, 1)) {
		t.Errorf("connected shards %v, want 0 and 1 of 2", got)
	}
	select {
	case <-h.ended:
		t.Fatal("Run ended: the bot would have needed a restart")
	default:
	}
	if n := len(h.fake.CommandOverwrites()); n != 1 {
		t.Errorf("%d command registrations, want 1", n)
	}
	if !strings.Contains(h.logs.String(), "discord requires more gateway shards") {
		t.Error("the resharding was not logged")
	}
}

// Without auto, or when Discord recommends no more shards than are open, a
// 4011 while running ends Run with an error naming the setting, as at start.
func TestShardingRequiredWhileRunningWithoutMoreToOpen(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setting     int
		recommended int
	}{
		{"a number", 1, 2},
		{"auto, Discord recommending no more", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := discordtest.New()
			t.Cleanup(fake.Close)
			logs := &bottest.Buffer{}
			a := NewBot(Options{Token: adapterkit.Secret(fake.Token), APIURL: fake.URL, Log: newTestLogger(logs), Shards: tc.setting}, nil)
			a.minBackoff, a.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			if err := fake.WaitShards(ctx, 0); err != nil {
				t.Fatal(err)
			}
			fake.Outgrow(2, tc.recommended)
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				t.Fatal("Run went on after Discord required more shards than it can open")
			}
			if !errors.Is(err, ErrShardingRequired) || !strings.Contains(err.Error(), "DISCORD_SHARDS") {
				t.Errorf("Run = %v, want ErrShardingRequired naming DISCORD_SHARDS", err)
			}
		})
	}
}

// Discord counts the session starts of a day (session_start_limit): with
// fewer left than there are shards, the adapter identifies none until the
// count's reset, on its clock, instead of spending the last ones.
func TestSessionStartLimitWaitsForItsReset(t *testing.T) {
	clk := bottest.NewClock(epoch)
	fake := discordtest.New(discordtest.WithShards(2, 2), discordtest.WithSessionStartLimit(1, time.Hour))
	t.Cleanup(fake.Close)
	logs := &bottest.Buffer{}
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), APIURL: fake.URL, Log: newTestLogger(logs), Clock: clk}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after ctx ended", err)
		}
	}()
	clk.WaitIdle(t, 1) // the plan waits for the reset
	if next, _ := clk.Next(); next != epoch.Add(time.Hour) {
		t.Errorf("waiting until %v, want the reset at %v", next, epoch.Add(time.Hour))
	}
	if n := len(fake.Identified()); n != 0 {
		t.Fatalf("%d IDENTIFYs before the reset, want none", n)
	}
	if !strings.Contains(logs.String(), "fewer session starts today than there are shards") {
		t.Error("the wait was not logged")
	}
	clk.Advance(time.Hour)
	if err := fake.WaitShards(ctx, 0, 1); err != nil {
		t.Fatalf("shards after the reset: %v", err)
	}
}
