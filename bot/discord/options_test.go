package discord

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

// newCommands are the per-chat settings commands: the recorder below takes
// these and nothing else.
var newCommands = []string{"settings", "alerts", "mute", "unmute", "language", "remind"}

// recorder stands in for the service's settings side, so these tests see
// exactly what the adapter hands over:
// it records the settings commands and answers with the command and its
// argument (buttons included, which Discord ignores); a change asks IsAdmin
// in an AdminOnly chat and is refused without it, as the service does for
// /subscribe. Everything else goes to the real service.
type recorder struct {
	Handler
	mu   sync.Mutex
	cmds []command.Command
}

func (r *recorder) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	if !slices.Contains(newCommands, cmd.Name) {
		return r.Handler.Handle(ctx, cmd)
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, cmd)
	r.mu.Unlock()
	if cmd.Name != "settings" && cmd.AdminOnly {
		admin := false
		if cmd.IsAdmin != nil {
			admin, _ = cmd.IsAdmin(ctx)
		}
		if !admin {
			return bot.Message{Title: "Only an admin can change this channel's settings.", Private: true}, true
		}
	}
	return bot.Message{
		Title:   "Settings (" + cmd.Lang + ")",
		Lines:   []string{cmd.Name + " <" + cmd.Args + ">"},
		Buttons: [][]bot.Button{{{Label: "Outages only", Data: "/alerts outages"}}},
	}, true
}

func (r *recorder) commands() []command.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

func startSettings(t *testing.T) (*harness, *recorder) {
	rec := &recorder{}
	h := startAdapter(t, harnessOpt{
		handler: func(s *command.Service) Handler { rec.Handler = s; return rec },
	})
	return h, rec
}

func str(name, value string) []discordtest.CommandOption {
	return []discordtest.CommandOption{{Name: name, Type: discordtest.OptionString, Value: value}}
}

func TestSettingsSlashCommandsCarryArgs(t *testing.T) {
	h, rec := startSettings(t)
	const channel = "200000000000000021"
	manage := int64(discordgo.PermissionManageChannels)
	tests := []struct {
		name      string
		options   []discordtest.CommandOption
		locale    string
		args      string
		ephemeral bool
	}{
		{"settings", nil, "en-US", "", false},
		{"settings", nil, "fr", "", false},
		{"alerts", str("level", "outages"), "fr", "outages", true},
		{"alerts", str("level", "all"), "en-US", "all", true},
		{"mute", str("duration", " 2h "), "en-US", "2h", true},
		{"mute", str("duration", "30m"), "fr", "30m", true},
		{"unmute", nil, "fr", "", true},
		{"language", str("value", "fr"), "en-US", "fr", true},
		{"language", str("value", "en"), "fr", "en", true},
		{"remind", str("every", "1h"), "en-US", "1h", true},
		{"remind", str("every", "off"), "fr", "off", true},
		{"mute", str("duration", strings.Repeat("9", 100)), "en-US", strings.Repeat("9", MaxArgs-1) + "…", true},
	}
	for k, tc := range tests {
		in := h.interact(t, discordtest.InteractionSpec{Name: tc.name, GuildID: guild, ChannelID: channel, Permissions: manage, Locale: tc.locale, Options: tc.options})
		if !strings.Contains(in.Text(), tc.name+" <"+tc.args+">") || in.Ephemeral() != tc.ephemeral {
			t.Errorf("/%s %q: answer %q (ephemeral %v), want the argument echoed (ephemeral %v)", tc.name, tc.args, in.Text(), in.Ephemeral(), tc.ephemeral)
		}
		cmds := rec.commands()
		if len(cmds) != k+1 {
			t.Fatalf("handler got %d commands after %d interactions", len(cmds), k+1)
		}
		c := cmds[k]
		if c.Name != tc.name || c.Args != tc.args || c.Lang != tc.locale || c.Chat.ID != channel || c.Group != guild || !c.AdminOnly || c.Kind != KindServer {
			t.Errorf("/%s: command %+v, want args %q, lang %q, AdminOnly in server %s", tc.name, c, tc.args, tc.locale, guild)
		}
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("payloads broke Discord's limits: %v", v)
	}
}

func TestSettingsSlashCommandRefusals(t *testing.T) {
	h, rec := startSettings(t)
	const channel = "200000000000000022"
	tests := []struct {
		name    string
		spec    discordtest.InteractionSpec
		want    string
		handled bool // the handler saw it
	}{
		{"member without MANAGE_CHANNELS", discordtest.InteractionSpec{Name: "mute", Options: str("duration", "2h"), Permissions: discordgo.PermissionSendMessages}, "Only an admin", true},
		{"member reads the settings", discordtest.InteractionSpec{Name: "settings", Permissions: discordgo.PermissionSendMessages}, "settings <>", true},
		{"option missing", discordtest.InteractionSpec{Name: "alerts", Permissions: discordgo.PermissionManageChannels}, "/alerts needs its option level: outages or all.", false},
		{"option missing, French", discordtest.InteractionSpec{Name: "mute", Locale: "fr", Permissions: discordgo.PermissionManageChannels}, "/mute attend son option durée, par exemple 2h, 30m.", false},
		{"integer instead of string", discordtest.InteractionSpec{Name: "remind", Options: []discordtest.CommandOption{{Name: "every", Type: discordtest.OptionInteger, Value: 60}}, Permissions: discordgo.PermissionManageChannels}, "/remind needs its option every, for example 1h, off.", false},
		{"number sent as a string option", discordtest.InteractionSpec{Name: "language", Options: []discordtest.CommandOption{{Name: "value", Type: discordtest.OptionString, Value: 2}}, Permissions: discordgo.PermissionManageChannels}, "/language needs its option value: fr or en.", false},
		{"empty value", discordtest.InteractionSpec{Name: "mute", Options: str("duration", "  "), Permissions: discordgo.PermissionManageChannels}, "/mute needs its option duration", false},
		{"other option name", discordtest.InteractionSpec{Name: "mute", Options: str("level", "2h"), Permissions: discordgo.PermissionManageChannels}, "/mute needs its option duration", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.commands())
			spec := tc.spec
			spec.GuildID, spec.ChannelID = guild, channel
			in := h.interact(t, spec)
			if !strings.Contains(in.Text(), tc.want) {
				t.Errorf("answer %q, want %q", in.Text(), tc.want)
			}
			if tc.name != "member reads the settings" && !in.Ephemeral() {
				t.Error("a refusal was shown to the whole channel")
			}
			if got := len(rec.commands()) - before; got != map[bool]int{true: 1}[tc.handled] {
				t.Errorf("handler got %d commands, want handled=%v", got, tc.handled)
			}
		})
	}
	t.Run("settings in a DM", func(t *testing.T) {
		before := len(rec.commands())
		for _, name := range newCommands {
			spec := discordtest.InteractionSpec{Name: name, ChannelID: "200000000000000023"}
			if o := commandOptions[name]; o != nil {
				spec.Options = str(o.name, "x")
			}
			if in := h.interact(t, spec); !strings.Contains(in.Text(), "not in direct messages") || !in.Ephemeral() {
				t.Errorf("/%s in a DM: %q, want the servers-only notice", name, in.Text())
			}
		}
		if n := len(rec.commands()) - before; n != 0 {
			t.Errorf("handler got %d commands from DMs", n)
		}
	})
}

func TestSettingsCommandsRegistered(t *testing.T) {
	h, _ := startSettings(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.fake.WaitOverwrites(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ow := h.fake.CommandOverwrites()
	if v := h.fake.Violations(); len(ow) != 1 || len(v) > 0 {
		t.Fatalf("%d overwrites, violations %v", len(ow), v)
	}
	byName := map[string]discordtest.Command{}
	for _, c := range ow[0] {
		byName[c.Name] = c
	}
	want := map[string]struct {
		option, optionFR string
		choices          []string
		admin            bool
	}{
		"settings": {},
		"unmute":   {admin: true},
		"alerts":   {"level", "niveau", []string{"outages", "all"}, true},
		"mute":     {"duration", "durée", nil, true},
		"language": {"value", "langue", []string{"fr", "en"}, true},
		"remind":   {"every", "intervalle", nil, true},
	}
	for name, w := range want {
		c, ok := byName[name]
		if !ok {
			t.Errorf("/%s not registered", name)
			continue
		}
		if perm := c.DefaultMemberPermissions != nil && *c.DefaultMemberPermissions == "16"; perm != w.admin {
			t.Errorf("/%s: MANAGE_CHANNELS by default %v, want %v", name, perm, w.admin)
		}
		if c.DMPermission == nil || *c.DMPermission || len(c.Contexts) != 1 || c.Contexts[0] != 0 {
			t.Errorf("/%s: dm_permission %v, contexts %v; want servers only", name, c.DMPermission, c.Contexts)
		}
		if c.DescriptionLocalizations["fr"] == "" {
			t.Errorf("/%s: no French description", name)
		}
		if w.option == "" {
			if len(c.Options) != 0 {
				t.Errorf("/%s: options %+v, want none", name, c.Options)
			}
			continue
		}
		if len(c.Options) != 1 {
			t.Fatalf("/%s: options %+v, want one", name, c.Options)
		}
		o := c.Options[0]
		if o.Name != w.option || o.NameLocalizations["fr"] != w.optionFR || o.Type != discordtest.OptionString || !o.Required ||
			o.DescriptionLocalizations["fr"] == "" || o.MaxLength != MaxArgs {
			t.Errorf("/%s: option %+v, want required string %q (fr %q) with a French description", name, o, w.option, w.optionFR)
		}
		var values []string
		for _, ch := range o.Choices {
			values = append(values, ch.Value.(string))
			if ch.NameLocalizations["fr"] == "" {
				t.Errorf("/%s: choice %q has no French name", name, ch.Value)
			}
		}
		if !slices.Equal(values, w.choices) {
			t.Errorf("/%s: choices %v, want %v", name, values, w.choices)
		}
	}
	// The commands of today keep no option.
	for _, name := range command.Names {
		if c := byName[name]; len(c.Options) != 0 && commandOptions[name] == nil {
			t.Errorf("/%s gained options %+v", name, c.Options)
		}
	}
}

// TestOptionFaultsNeverLogTokens: answers to settings commands that Discord
// fails (an HTML 502 on the callback, a 500 on the edit) are logged without
// the bot token or the interaction's token.
func TestOptionFaultsNeverLogTokens(t *testing.T) {
	h, _ := startSettings(t)
	var tokens []string
	for _, spec := range []discordtest.InteractionSpec{
		{Name: "alerts", GuildID: guild, ChannelID: "200000000000000024", Permissions: discordgo.PermissionManageChannels},
		{Name: "mute", Options: str("duration", "2h"), GuildID: guild, ChannelID: "200000000000000024", Permissions: discordgo.PermissionManageChannels},
	} {
		h.fake.FailAll(discordtest.HTMLError(502))
		id, err := h.fake.Interact(spec)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := h.fake.Interaction(id)
		tokens = append(tokens, in.Token)
		bottest.Eventually(t, "the failed answer logged", func() bool {
			return strings.Count(h.logs.String(), "acknowledge discord interaction") == len(tokens)
		})
		h.fake.Recover()
	}
	out := h.logs.String()
	bottest.AssertNoSecret(t, h.fake.Token, out)
	for _, tok := range tokens {
		bottest.AssertNoSecret(t, tok, out)
	}
}
