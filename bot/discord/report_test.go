package discord

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// startReports runs the adapter in front of the real service taking reports
// into a real SQLite store, with the crowd rule's defaults; setup, when
// set, changes the adapter before Run.
func startReports(t *testing.T, setup func(*Bot)) (*harness, *store.Store) {
	t.Helper()
	st := adaptertest.Store(t)
	tally := crowd.NewTally(crowd.Rule{Reports: 5, Window: 10 * time.Minute})
	h := startAdapter(t, harnessOpt{store: st, setup: setup, handler: func(*command.Service) Handler {
		return command.NewService(st, st, time.Now, newTestLogger(io.Discard), command.WithReports(st, tally))
	}})
	return h, st
}

// reports are the reports st keeps, oldest first.
func reports(t *testing.T, st *store.Store) []bot.Report {
	t.Helper()
	rs, err := st.ReportsSince(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// /report through the real discordgo session: with a kind and without, in
// servers and in a DM, in English and French; one person counts once
// whatever the channel, a server at most crowd.PerGroup times; an option
// of the wrong type or a value that is no kind records nothing. Every
// answer is the reporter's alone.
func TestReportSlashCommand(t *testing.T) {
	h, st := startReports(t, nil)
	const (
		guild2 = "100000000000000002"
		guild3 = "100000000000000003"
		chan1  = "200000000000000031"
		chan2  = "200000000000000032"
		chan3  = "200000000000000033"
		chan4  = "200000000000000034"
		dm     = "300000000000000031"
		dm2    = "300000000000000032"
	)
	what := func(v any) []discordtest.CommandOption {
		return []discordtest.CommandOption{{Name: "what", Type: discordtest.OptionString, Value: v}}
	}
	tests := []struct {
		name string
		spec discordtest.InteractionSpec
		want []string
		// record is the kind stored, "" for nothing; deferred is false when
		// the adapter answers at once (a malformed option).
		record   bot.ReportKind
		deferred bool
	}{
		{
			name:   "a kind, in a server",
			spec:   discordtest.InteractionSpec{GuildID: guild, ChannelID: chan1, UserID: "700000000000000031", Options: what("post")},
			want:   []string{"Thanks, your report counts.", "1 report in the last 10 min (one per person, at most 2 per chat or server)."},
			record: bot.ReportPost, deferred: true,
		},
		{
			name:   "no option records other",
			spec:   discordtest.InteractionSpec{GuildID: guild, ChannelID: chan1, UserID: "700000000000000032"},
			want:   []string{"Thanks, your report counts.", "2 reports in the last 10 min"},
			record: bot.ReportOther, deferred: true,
		},
		{
			name:   "in a DM",
			spec:   discordtest.InteractionSpec{ChannelID: dm, UserID: "700000000000000033", Options: what("dm")},
			want:   []string{"Thanks, your report counts.", "3 reports in the last 10 min"},
			record: bot.ReportDM, deferred: true,
		},
		{
			name:   "French, in another server",
			spec:   discordtest.InteractionSpec{GuildID: guild2, ChannelID: chan2, UserID: "700000000000000034", Locale: "fr", Options: what("media")},
			want:   []string{"Merci, votre signalement compte.", "4 signalements sur 10 min (un par personne, 2 au plus par discussion ou serveur)."},
			record: bot.ReportMedia, deferred: true,
		},
		{
			name:   "a third person in the first server is kept but not counted",
			spec:   discordtest.InteractionSpec{GuildID: guild, ChannelID: chan3, UserID: "700000000000000035", Options: what("feed")},
			want:   []string{"Thanks, your report counts.", "4 reports in the last 10 min"},
			record: bot.ReportFeed, deferred: true,
		},
		{
			name:     "the same person in another channel",
			spec:     discordtest.InteractionSpec{GuildID: guild, ChannelID: chan3, UserID: "700000000000000031", Options: what("login")},
			want:     []string{"You already reported in the last 10 min: one report per person counts.", "4 reports"},
			deferred: true,
		},
		{
			name:     "the same person in a DM, in French",
			spec:     discordtest.InteractionSpec{ChannelID: dm2, UserID: "700000000000000031", Locale: "fr"},
			want:     []string{"Vous avez déjà signalé un problème", "4 signalements"},
			deferred: true,
		},
		{
			name: "an integer instead of the string",
			spec: discordtest.InteractionSpec{GuildID: guild, ChannelID: chan1, UserID: "700000000000000036",
				Options: []discordtest.CommandOption{{Name: "what", Type: discordtest.OptionInteger, Value: 3}}},
			want: []string{"/report needs its option what: post or feed or login or dm or media or other."},
		},
		{
			name: "a number sent as the string option, in French",
			spec: discordtest.InteractionSpec{ChannelID: dm, UserID: "700000000000000036", Locale: "fr", Options: what(2)},
			want: []string{"/report attend son option quoi : post ou feed"},
		},
		{
			name:     "a value that is no kind (a stale client)",
			spec:     discordtest.InteractionSpec{GuildID: guild3, ChannelID: chan4, UserID: "700000000000000036", Options: what("nonsense")},
			want:     []string{"Use /report with what fails for you: post, feed, login, dm, media, other (or nothing). Nothing was recorded."},
			deferred: true,
		},
		{
			name:   "a blank value is no option",
			spec:   discordtest.InteractionSpec{GuildID: guild3, ChannelID: chan4, UserID: "700000000000000037", Options: what("  ")},
			want:   []string{"Thanks, your report counts.", "5 reports in the last 10 min"},
			record: bot.ReportOther, deferred: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := reports(t, st)
			spec := tc.spec
			spec.Name = "report"
			in := h.interact(t, spec)
			for _, w := range tc.want {
				if !strings.Contains(in.Text(), w) {
					t.Errorf("answer %q lacks %q", in.Text(), w)
				}
			}
			if !in.Ephemeral() || in.Deferred() != tc.deferred {
				t.Errorf("ephemeral %v, deferred %v; want an answer only the reporter sees, deferred %v", in.Ephemeral(), in.Deferred(), tc.deferred)
			}
			after := reports(t, st)
			if tc.record == "" {
				if len(after) != len(before) {
					t.Errorf("%d reports recorded, want none: %+v", len(after)-len(before), after[len(before):])
				}
				return
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%d reports recorded, want 1", len(after)-len(before))
			}
			r := after[len(after)-1]
			want := bot.Report{ID: r.ID, User: spec.UserID, Chat: bot.ChatRef{Platform: Platform, ID: spec.ChannelID}, Group: spec.GuildID, Kind: tc.record, At: r.At}
			if r != want || time.Since(r.At) > time.Minute {
				t.Errorf("recorded %+v, want %+v", r, want)
			}
		})
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("payloads broke Discord's limits: %v", v)
	}
}

// A person flooding /report, in a server and in a DM, is slowed like for
// any command and counts once; every answer is theirs alone.
func TestFloodingReporterOnDiscord(t *testing.T) {
	clock := bottest.NewClock(time.Now()) // frozen: no budget comes back during the test
	h, st := startReports(t, func(a *Bot) { a.limiter = command.NewLimiter(command.DefaultLimits(), clock) })
	var thanks, already, slowed int
	for i := range 8 {
		spec := discordtest.InteractionSpec{Name: "report", GuildID: guild, ChannelID: "200000000000000041", UserID: "700000000000000041"}
		if i%2 == 1 {
			spec.GuildID, spec.ChannelID = "", "300000000000000041" // the DM
		}
		in := h.interact(t, spec)
		switch txt := in.Text(); {
		case !in.Ephemeral():
			t.Errorf("interaction %d answered %q for the whole channel", i, txt)
		case in.Deferred() && strings.Contains(txt, "Thanks, your report counts."):
			thanks++
		case in.Deferred() && strings.Contains(txt, "You already reported"):
			already++
		case !in.Deferred() && strings.Contains(txt, "too fast"):
			slowed++
		default:
			t.Errorf("interaction %d answered %q (deferred %v)", i, txt, in.Deferred())
		}
	}
	if thanks != 1 || already != 2 || slowed != 5 {
		t.Errorf("%d thanks, %d already-reported and %d slow-down notes, want 1, 2 and 5", thanks, already, slowed)
	}
	if rs := reports(t, st); len(rs) != 1 {
		t.Errorf("%d reports recorded, want 1: %+v", len(rs), rs)
	}
}

// /report is registered for everyone, in servers and DMs, with one optional
// option whose six choices are the kinds the service accepts, named in
// English and French.
func TestReportCommandRegistered(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	ow := h.fake.CommandOverwrites()
	if v := h.fake.Violations(); len(ow) != 1 || len(v) > 0 {
		t.Fatalf("%d overwrites, violations %v", len(ow), v)
	}
	k := slices.IndexFunc(ow[0], func(c discordtest.Command) bool { return c.Name == "report" })
	if k < 0 {
		t.Fatal("/report is not registered")
	}
	c := ow[0][k]
	if c.DefaultMemberPermissions != nil || c.DMPermission == nil || !*c.DMPermission || !slices.Equal(c.Contexts, []int{0, 1}) {
		t.Errorf("/report: default_member_permissions %v, dm_permission %v, contexts %v; want anyone, in servers and DMs",
			c.DefaultMemberPermissions, c.DMPermission, c.Contexts)
	}
	if c.Description != text.CommandDescription("en", "report") || c.DescriptionLocalizations["fr"] != text.CommandDescription("fr", "report") {
		t.Errorf("/report: description %q, fr %q", c.Description, c.DescriptionLocalizations["fr"])
	}
	if len(c.Options) != 1 {
		t.Fatalf("/report: options %+v, want one", c.Options)
	}
	o := c.Options[0]
	if o.Name != "what" || o.NameLocalizations["fr"] != "quoi" || o.Type != discordtest.OptionString || o.Required ||
		o.Description == "" || o.DescriptionLocalizations["fr"] == "" {
		t.Errorf("/report: option %+v, want an optional string \"what\" (fr \"quoi\") described in both languages", o)
	}
	want := []struct{ value, en, fr string }{
		{"post", "Posting", "Publier"},
		{"feed", "Timeline / feed", "Fil d'actualité"},
		{"login", "Logging in", "Connexion"},
		{"dm", "Direct messages", "Messages privés"},
		{"media", "Images and video", "Images et vidéos"},
		{"other", "Something else", "Autre chose"},
	}
	if len(o.Choices) != len(want) {
		t.Fatalf("/report: %d choices, want %d: %+v", len(o.Choices), len(want), o.Choices)
	}
	for i, w := range want {
		ch := o.Choices[i]
		if ch.Value != w.value || ch.Name != w.en || ch.NameLocalizations["fr"] != w.fr {
			t.Errorf("/report choice %d: %q %q (fr %q), want %q %q (fr %q)", i, ch.Value, ch.Name, ch.NameLocalizations["fr"], w.value, w.en, w.fr)
		}
	}
}

// The choices are the kinds the service accepts, in their order: a kind
// added to bot.ReportKinds without a choice here fails this test.
func TestReportOptionMatchesTheKinds(t *testing.T) {
	var values []bot.ReportKind
	for _, c := range commandOptions[reportCommand].choices {
		k, ok := text.ParseReportKind(c.value)
		if !ok {
			t.Errorf("choice %q is no kind the service accepts", c.value)
		}
		values = append(values, k)
	}
	if !slices.Equal(values, bot.ReportKinds) {
		t.Errorf("choices %v, want the kinds %v", values, bot.ReportKinds)
	}
}

// optionValue with an optional option: absent or blank is "" and valid;
// present, it must be a string.
func TestOptionalOptionValue(t *testing.T) {
	opt := func(typ discordgo.ApplicationCommandOptionType, v any) []*discordgo.ApplicationCommandInteractionDataOption {
		return []*discordgo.ApplicationCommandInteractionDataOption{{Name: "what", Type: typ, Value: v}}
	}
	tests := []struct {
		name    string
		command string
		options []*discordgo.ApplicationCommandInteractionDataOption
		value   string
		ok      bool
	}{
		{"absent", "report", nil, "", true},
		{"nil option", "report", []*discordgo.ApplicationCommandInteractionDataOption{nil}, "", true},
		{"another option's name", "report", []*discordgo.ApplicationCommandInteractionDataOption{{Name: "level", Type: discordgo.ApplicationCommandOptionString, Value: "all"}}, "", true},
		{"a kind", "report", opt(discordgo.ApplicationCommandOptionString, " dm "), "dm", true},
		{"blank", "report", opt(discordgo.ApplicationCommandOptionString, "  "), "", true},
		{"long", "report", opt(discordgo.ApplicationCommandOptionString, strings.Repeat("x", 100)), strings.Repeat("x", MaxArgs-1) + "…", true},
		{"integer", "report", opt(discordgo.ApplicationCommandOptionInteger, float64(3)), "", false},
		{"string type, number value", "report", opt(discordgo.ApplicationCommandOptionString, float64(3)), "", false},
		{"boolean", "report", opt(discordgo.ApplicationCommandOptionBoolean, true), "", false},
		// A required option stays required.
		{"required absent", "mute", nil, "", false},
		{"required blank", "mute", []*discordgo.ApplicationCommandInteractionDataOption{{Name: "duration", Type: discordgo.ApplicationCommandOptionString, Value: " "}}, "", false},
		{"no option at all", "status", opt(discordgo.ApplicationCommandOptionInteger, float64(3)), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := optionValue(tc.command, discordgo.ApplicationCommandInteractionData{Name: tc.command, Options: tc.options})
			if v != tc.value || ok != tc.ok {
				t.Errorf("optionValue = %q, %v; want %q, %v", v, ok, tc.value, tc.ok)
			}
		})
	}
}
