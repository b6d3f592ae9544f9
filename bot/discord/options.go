package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// MaxArgs bounds Command.Args, in runes, as the Telegram adapter does:
// settings values are short ("2h", "outages").
const MaxArgs = 64

// option is the one string option a command takes; its value becomes
// Command.Args.
type option struct {
	name, nameFR string
	desc, descFR string
	// choices are the only values offered; nil means free text, described
	// by example.
	choices []choice
	example string
	// optional lets the command come without it (Args is then ""); a
	// settings command's option is required.
	optional bool
}

type choice struct{ value, en, fr string }

// commandOptions are the options of the commands that take one, by command
// name. Commands the service lists (command.Names) without an entry here
// take none.
var commandOptions = map[string]*option{
	"alerts": {
		name: "level", nameFR: "niveau",
		desc: "Which alerts this channel gets", descFR: "Les alertes que reçoit ce salon",
		choices: []choice{
			{"outages", "Outages only (down and its recovery)", "Pannes seulement (panne et retour)"},
			{"all", "All (degraded too, silently)", "Toutes (dégradations comprises, sans son)"},
		},
	},
	"mute": {
		name: "duration", nameFR: "durée",
		desc: "How long, e.g. 2h or 30m (at most 7 days)", descFR: "Combien de temps, par ex. 2h ou 30m (7 jours au plus)",
		example: "2h, 30m",
	},
	"language": {
		name: "value", nameFR: "langue",
		desc: "Language of alerts and answers", descFR: "Langue des alertes et des réponses",
		choices: []choice{{"fr", "Français", "Français"}, {"en", "English", "Anglais"}},
	},
	"remind": {
		name: "every", nameFR: "intervalle",
		desc: "Repeat the alert while X is not up, e.g. 1h; off to stop", descFR: "Répéter l'alerte tant que X ne va pas bien, par ex. 1h ; off pour arrêter",
		example: "1h, off",
	},
	// /report alone reports "other": the kinds are bot.ReportKinds, in
	// their order (TestReportOptionMatchesTheKinds).
	reportCommand: {
		name: "what", nameFR: "quoi",
		desc: "What fails for you on X", descFR: "Ce qui ne marche pas pour vous sur X",
		choices: []choice{
			{string(bot.ReportPost), "Posting", "Publier"},
			{string(bot.ReportFeed), "Timeline / feed", "Fil d'actualité"},
			{string(bot.ReportLogin), "Logging in", "Connexion"},
			{string(bot.ReportDM), "Direct messages", "Messages privés"},
			{string(bot.ReportMedia), "Images and video", "Images et vidéos"},
			{string(bot.ReportOther), "Something else", "Autre chose"},
		},
		optional: true,
	},
}

// reportCommand is /report: anyone may use it, in servers and DMs, and its
// answer is for the reporter alone.
const reportCommand = "report"

// settingsCommand reports whether a command is about a chat's settings:
// like a subscription they exist only in servers (a DM cannot subscribe).
func settingsCommand(name string) bool { return name == "settings" || command.ChangesSettings(name) }

// applicationOptions is the registered form of a command's option.
func applicationOptions(name string) []*discordgo.ApplicationCommandOption {
	o := commandOptions[name]
	if o == nil {
		return []*discordgo.ApplicationCommandOption{}
	}
	opt := &discordgo.ApplicationCommandOption{
		Type:                     discordgo.ApplicationCommandOptionString,
		Name:                     o.name,
		NameLocalizations:        map[discordgo.Locale]string{discordgo.French: o.nameFR},
		Description:              o.desc,
		DescriptionLocalizations: map[discordgo.Locale]string{discordgo.French: o.descFR},
		Required:                 !o.optional,
		MaxLength:                MaxArgs,
	}
	for _, c := range o.choices {
		opt.Choices = append(opt.Choices, &discordgo.ApplicationCommandOptionChoice{
			Name: c.en, NameLocalizations: map[discordgo.Locale]string{discordgo.French: c.fr}, Value: c.value,
		})
	}
	return []*discordgo.ApplicationCommandOption{opt}
}

// optionValue is the value of the option command name takes, trimmed and
// bounded; ok is false when the interaction sent it with another type (a
// stale command definition, a forged payload) or lacks a required one. A
// missing or blank optional option gives "", true, as do commands without
// an option.
func optionValue(name string, d discordgo.ApplicationCommandInteractionData) (value string, ok bool) {
	o := commandOptions[name]
	if o == nil {
		return "", true
	}
	for _, got := range d.Options {
		if got == nil || got.Name != o.name {
			continue
		}
		s, isString := got.Value.(string)
		if got.Type != discordgo.ApplicationCommandOptionString || !isString {
			return "", false
		}
		if s = strings.TrimSpace(s); s == "" {
			return "", o.optional
		}
		return bot.Truncate(s, MaxArgs), true
	}
	return "", o.optional
}

// optionHelp is the answer to a command whose option is missing (when
// required) or of the wrong type: what the option is called and what it accepts.
func optionHelp(lang, name string) string {
	o := commandOptions[name]
	var values []string
	for _, c := range o.choices {
		values = append(values, c.value)
	}
	option := o.name
	if strings.HasPrefix(strings.ToLower(lang), "fr") {
		option = o.nameFR // the option's name as a French client shows it
	}
	return text.OptionHelp(lang, name, option, values, o.example)
}
