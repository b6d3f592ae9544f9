package discord

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/text"
	"github.com/xstatusbot/xstatusbot/probe"
)

const guild = "100000000000000001"

var allText = int64(discordgo.PermissionAllText)

func TestSlashCommands(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	now := time.Now()
	h.store.setSaved(bot.Saved{
		Status:    probe.Status{State: probe.StateDown, Since: now.Add(-5 * time.Minute)},
		LastRound: &probe.Round{Start: now.Add(-30 * time.Second), Targets: []probe.Result{{Target: "x.com", Class: probe.ClassStatus, Detail: "HTTP 503"}}},
		Incident:  &bot.Incident{Start: now.Add(-5 * time.Minute), Worst: probe.StateDown},
	})

	tests := []struct {
		name string
		spec discordtest.InteractionSpec
		// want
		ephemeral  bool
		deferred   bool
		contains   string
		subscribed bool // the channel is subscribed afterwards
		color      int  // of the first embed, 0 if no embed expected
	}{
		{
			name:      "member with MANAGE_CHANNELS subscribes",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: "200000000000000001", Permissions: discordgo.PermissionManageChannels, AppPermissions: allText},
			ephemeral: true, deferred: true, contains: "Subscribed", subscribed: true,
		},
		{
			name:      "member without permission is refused",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: "200000000000000002", Permissions: discordgo.PermissionSendMessages},
			ephemeral: true, deferred: true, contains: "only an admin",
		},
		{
			name:      "ADMINISTRATOR subscribes",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: "200000000000000003", Permissions: discordgo.PermissionAdministrator},
			ephemeral: true, deferred: true, contains: "Subscribed", subscribed: true,
		},
		{
			name:      "French locale",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: "200000000000000004", Permissions: discordgo.PermissionManageChannels, Locale: "fr"},
			ephemeral: true, deferred: true, contains: "Abonné", subscribed: true,
		},
		{
			name:      "bot cannot post in the channel",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: "200000000000000005", Permissions: discordgo.PermissionManageChannels, AppPermissions: discordgo.PermissionViewChannel},
			ephemeral: true, deferred: true, contains: "Send Messages",
		},
		{
			name:      "unsubscribe of a channel that is not subscribed",
			spec:      discordtest.InteractionSpec{Name: "unsubscribe", GuildID: guild, ChannelID: "200000000000000006", Permissions: discordgo.PermissionManageChannels},
			ephemeral: true, deferred: true, contains: "not subscribed",
		},
		{
			name:     "status is visible and deferred",
			spec:     discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000007"},
			deferred: true, contains: "X is down", color: adapterkit.DiscordColorDown,
		},
		{
			name:     "help is visible",
			spec:     discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000007"},
			deferred: true, contains: "/subscribe", color: adapterkit.DiscordColorInfo,
		},
		{
			name:      "unknown command in a server",
			spec:      discordtest.InteractionSpec{Name: "frobnicate", GuildID: guild, ChannelID: "200000000000000007"},
			ephemeral: true, deferred: true, contains: "I don't know that command",
		},
		{
			name:      "unknown command in a DM",
			spec:      discordtest.InteractionSpec{Name: "frobnicate", ChannelID: "200000000000000008"},
			ephemeral: true, deferred: true, contains: "I don't know that command",
		},
		{
			name:      "subscribe in a DM is refused",
			spec:      discordtest.InteractionSpec{Name: "subscribe", ChannelID: "200000000000000008"},
			ephemeral: true, deferred: true, contains: "not in direct messages",
		},
		{
			name:     "status in a DM",
			spec:     discordtest.InteractionSpec{Name: "status", ChannelID: "200000000000000008", Locale: "fr"},
			deferred: true, contains: "X est en panne", color: adapterkit.DiscordColorDown,
		},
		{
			name:      "no data",
			spec:      discordtest.InteractionSpec{NoData: true, GuildID: guild, ChannelID: "200000000000000007"},
			ephemeral: true, deferred: true, contains: "I don't know that command",
		},
		{
			name:      "no channel",
			spec:      discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, Permissions: discordgo.PermissionManageChannels},
			ephemeral: true, deferred: true, contains: "which chat",
		},
		{
			name:      "button press",
			spec:      discordtest.InteractionSpec{Type: discordtest.TypeComponent, Name: "whatever", GuildID: guild, ChannelID: "200000000000000007"},
			ephemeral: true, contains: "I don't know that command",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := h.interact(t, tc.spec)
			if d := in.AckDelay(); d < 0 || d > discordtest.InteractionWindow {
				t.Errorf("first answer after %v, want within %v", d, discordtest.InteractionWindow)
			}
			if in.Ephemeral() != tc.ephemeral {
				t.Errorf("ephemeral = %v, want %v", in.Ephemeral(), tc.ephemeral)
			}
			if in.Deferred() != tc.deferred {
				t.Errorf("deferred = %v, want %v", in.Deferred(), tc.deferred)
			}
			if text := in.Text(); !strings.Contains(text, tc.contains) {
				t.Errorf("answer %q does not contain %q", text, tc.contains)
			}
			_, embeds := in.Final()
			switch {
			case tc.color != 0 && len(embeds) == 0:
				t.Errorf("no embed, want one coloured %#x", tc.color)
			case tc.color != 0 && embeds[0].Color != tc.color:
				t.Errorf("embed colour %#x, want %#x", embeds[0].Color, tc.color)
			}
			if tc.spec.ChannelID != "" {
				if _, ok := h.store.sub(tc.spec.ChannelID); ok != tc.subscribed {
					t.Errorf("subscribed = %v, want %v", ok, tc.subscribed)
				}
			}
		})
	}

	t.Run("subscription records server, kind and language", func(t *testing.T) {
		s, ok := h.store.sub("200000000000000004")
		if !ok {
			t.Fatal("not subscribed")
		}
		if s.Kind != KindServer || s.Group != guild || s.Lang != "fr" {
			t.Errorf("subscription = %+v, want kind server, group %s, lang fr", s, guild)
		}
	})
	t.Run("autocomplete gets an empty choice list", func(t *testing.T) {
		id, err := h.fake.Interact(discordtest.InteractionSpec{Type: discordtest.TypeAutocomplete, Name: "status", GuildID: guild, ChannelID: "200000000000000007"})
		if err != nil {
			t.Fatal(err)
		}
		bottest.Eventually(t, "autocomplete answer", func() bool { in, _ := h.fake.Interaction(id); return len(in.Callbacks) > 0 })
		in, _ := h.fake.Interaction(id)
		if in.Callbacks[0].Type != 8 {
			t.Errorf("callback type %d, want 8", in.Callbacks[0].Type)
		}
	})
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("payloads broke Discord's limits: %v", v)
	}
}

// slowHandler delays every command, as a slow store would.
type slowHandler struct {
	Handler
	delay time.Duration
}

func (s slowHandler) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	time.Sleep(s.delay)
	return s.Handler.Handle(ctx, cmd)
}

// panicHandler panics on every command.
type panicHandler struct{ Handler }

func (panicHandler) Handle(context.Context, command.Command) (bot.Message, bool) { panic("boom") }

func TestSlowHandlerAnsweredWithinWindow(t *testing.T) {
	h := startAdapter(t, harnessOpt{handler: func(s *command.Service) Handler { return slowHandler{s, 3500 * time.Millisecond} }})
	in := h.interact(t, discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001"})
	if !in.Deferred() || in.AckDelay() > time.Second {
		t.Errorf("deferred = %v after %v, want a deferral at once", in.Deferred(), in.AckDelay())
	}
	if len(in.Edits) != 1 || in.Edits[0].At.Sub(in.Dispatched) < 3*time.Second {
		t.Errorf("edits = %+v, want one edit after the slow work", in.Edits)
	}
}

func TestPanickingHandlerStillAnswers(t *testing.T) {
	h := startAdapter(t, harnessOpt{handler: func(s *command.Service) Handler { return panicHandler{s} }})
	in := h.interact(t, discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001"})
	if !strings.Contains(in.Text(), "went wrong") {
		t.Errorf("answer %q, want the failure text", in.Text())
	}
	// The session still serves.
	in = h.interact(t, discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000001"})
	if !in.Answered() {
		t.Error("second interaction not answered")
	}
}

func TestCommandsRegisteredOnceWithLocalizations(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.fake.WaitOverwrites(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// A dropped gateway connection is resumed without registering again.
	h.fake.DropConnections()
	bottest.Eventually(t, "gateway resumed", func() bool { return h.fake.Resumes() == 1 })
	if n := h.fake.Identifies(); n != 1 {
		t.Errorf("identifies = %d, want 1 (then a resume)", n)
	}
	if _, err := h.a.Send(ctx, "300000000000000001", bot.Message{Title: "after reconnect"}); err != nil {
		t.Errorf("send after reconnect: %v", err)
	}

	ow := h.fake.CommandOverwrites()
	if len(ow) != 1 {
		t.Fatalf("%d bulk overwrites, want 1", len(ow))
	}
	cmds := ow[0]
	if len(cmds) != len(command.Names) {
		t.Fatalf("%d commands, want %d", len(cmds), len(command.Names))
	}
	for k, c := range cmds {
		name := command.Names[k]
		if c.Name != name {
			t.Errorf("command %d is %q, want %q", k, c.Name, name)
		}
		if c.Description != text.CommandDescription("en", name) || c.DescriptionLocalizations["fr"] != text.CommandDescription("fr", name) {
			t.Errorf("%s: description %q, fr %q", name, c.Description, c.DescriptionLocalizations["fr"])
		}
		admin := command.AdminOnly(name)
		gotPerm := c.DefaultMemberPermissions != nil && *c.DefaultMemberPermissions == "16"
		if gotPerm != admin {
			t.Errorf("%s: default_member_permissions %v, want MANAGE_CHANNELS (16) = %v", name, c.DefaultMemberPermissions, admin)
		}
		serverOnly := admin || settingsCommand(name) // a chat's settings belong to a server channel
		if c.DMPermission == nil || *c.DMPermission == serverOnly {
			t.Errorf("%s: dm_permission %v, want %v", name, c.DMPermission, !serverOnly)
		}
		if len(c.Contexts) == 0 || c.Contexts[0] != 0 || (len(c.Contexts) > 1) == serverOnly {
			t.Errorf("%s: contexts %v", name, c.Contexts)
		}
	}
}

func TestMembershipEvents(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	ctx := context.Background()
	subs := []struct{ channel, group string }{
		{"200000000000000001", guild},
		{"200000000000000002", guild},
		{"200000000000000003", "100000000000000002"},
		{"200000000000000004", "100000000000000002"},
	}
	for _, s := range subs {
		if _, err := h.store.Subscribe(ctx, bot.Subscription{Chat: bot.ChatRef{Platform: Platform, ID: s.channel}, Kind: KindServer, Group: s.group}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(ch string) bool { _, ok := h.store.sub(ch); return ok }

	// A server outage (unavailable) ends nothing.
	if err := h.fake.GuildDelete(guild, true); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.GuildDelete(guild, false); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "server's subscriptions ended", func() bool { return !has(subs[0].channel) && !has(subs[1].channel) })
	if !has(subs[2].channel) || !has(subs[3].channel) {
		t.Error("another server's subscriptions ended")
	}

	if err := h.fake.ChannelDelete(subs[2].channel, subs[2].group); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "deleted channel unsubscribed", func() bool { return !has(subs[2].channel) })
	if !has(subs[3].channel) {
		t.Error("a sibling channel was unsubscribed")
	}
}

func TestRunUnauthorized(t *testing.T) {
	fake := discordtest.New()
	t.Cleanup(fake.Close)
	logs := &bottest.Buffer{}
	a := NewBot(Options{Token: "wrong-token-value", APIURL: fake.URL, Log: newTestLogger(logs)}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.Run(ctx)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if n := fake.Requests(); n != 1 {
		t.Errorf("%d requests, want exactly 1 (no retry of a refused token)", n)
	}
	if strings.Contains(err.Error(), "wrong-token-value") || strings.Contains(logs.String(), "wrong-token-value") {
		t.Error("the token leaked into the error or logs")
	}
}

func TestRunGatewayRefusesToken(t *testing.T) {
	fake := discordtest.New(discordtest.WithGatewayToken("another-token"))
	t.Cleanup(fake.Close)
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), APIURL: fake.URL}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Run(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized from close code 4004", err)
	}
	if n := fake.Identifies(); n != 0 {
		t.Errorf("%d identifies accepted", n)
	}
}

func TestRunRetriesUnreachableUntilCancelled(t *testing.T) {
	fake := discordtest.New()
	t.Cleanup(fake.Close)
	url := fake.URL
	fake.Close() // nothing listens there any more
	logs := &bottest.Buffer{}
	a := NewBot(Options{Token: adapterkit.Secret(discordtest.DefaultToken), APIURL: url, Log: newTestLogger(logs)}, nil)
	a.minBackoff, a.maxBackoff = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	bottest.Eventually(t, "several retries logged", func() bool { return strings.Count(logs.String(), "retrying") >= 3 })
	if _, err := a.Send(ctx, "300000000000000001", bot.Message{Title: "x"}); bot.ClassOf(err).Class != bot.Unavailable {
		t.Errorf("Send before ready = %v, want Unavailable (Discord's failure, not the channel's)", err)
	}
	if st := a.State(); st != bot.PlatformConnecting {
		t.Errorf("state %q while Discord was never reached, want connecting", st)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if strings.Contains(logs.String(), discordtest.DefaultToken) {
		t.Error("token in logs")
	}
}

func TestInviteURL(t *testing.T) {
	got := InviteURL("123")
	for _, want := range []string{"client_id=123", "scope=bot+applications.commands", "permissions=83968"} {
		if !strings.Contains(got, want) {
			t.Errorf("invite %q lacks %q", got, want)
		}
	}
}

func TestHistoryAndUptimeSlashCommands(t *testing.T) {
	store := adaptertest.Store(t)
	h := startAdapter(t, harnessOpt{store: store})

	k := slices.IndexFunc(Commands(), func(c *discordgo.ApplicationCommand) bool { return c.Name == "history" })
	if k < 0 {
		t.Fatal("/history is not registered")
	}
	if c := Commands()[k]; c.DefaultMemberPermissions != nil || !slices.Contains(*c.Contexts, discordgo.InteractionContextBotDM) ||
		(*c.DescriptionLocalizations)[discordgo.French] != text.CommandDescription("fr", "history") {
		t.Errorf("/history should be open to anyone, in servers and DMs, described in French: %+v", c)
	}

	for _, tc := range []struct {
		name, cmd, locale, want string
		dm                      bool
	}{
		{"empty history", "history", "", "No incident recorded yet.", false},
		{"empty history in French, in a DM", "history", "fr", "Aucun incident enregistré pour l'instant.", true},
	} {
		spec := discordtest.InteractionSpec{Name: tc.cmd, GuildID: guild, ChannelID: "200000000000000011", Locale: tc.locale}
		if tc.dm {
			spec.GuildID, spec.ChannelID = "", "200000000000000012"
		}
		if in := h.interact(t, spec); in.Ephemeral() || !strings.Contains(in.Text(), tc.want) {
			t.Errorf("%s: answer %q (ephemeral %v), want a visible %q", tc.name, in.Text(), in.Ephemeral(), tc.want)
		}
	}

	adaptertest.RecordOutage(t, store, time.Now(), "HTTP 503")
	for _, tc := range []struct {
		cmd, locale string
		want        []string
	}{
		{"history", "", []string{"Latest incidents, newest first", "down for 30s — api (HTTP 503)"}},
		{"history", "fr", []string{"Derniers incidents, du plus récent au plus ancien", "en panne pendant 30s — api (HTTP 503)"}},
		{"status", "", []string{"X is up", "Uptime: 24 h 50.00 %, 7 days 50.00 %, 30 days 50.00 %.", "No data for 29d23h of the last 30 days"}},
		{"status", "fr", []string{"X est en ligne", "Disponibilité : 24 h 50,00 %, 7 jours 50,00 %, 30 jours 50,00 %.", "Pas de données pendant 29d23h"}},
	} {
		in := h.interact(t, discordtest.InteractionSpec{Name: tc.cmd, GuildID: guild, ChannelID: "200000000000000011", Locale: tc.locale})
		for _, w := range tc.want {
			if !strings.Contains(in.Text(), w) {
				t.Errorf("/%s (%q) answer %q lacks %q", tc.cmd, tc.locale, in.Text(), w)
			}
		}
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("payloads broke Discord's limits: %v", v)
	}
}
