package bot

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Every word a user reads comes from this file. A Catalog holds one language;
// per-chat language settings pick one with For.

type Catalog struct {
	StateName                                  map[probe.State]string
	TitleDown, TitleDegraded, TitleUp          string
	TitleDownFromDegraded, TitleDegradedFromDn string
	SinceLine                                  string // time, ago
	OutageLine                                 string // worst state, duration, from, to
	CoalescedTitle                             string // duration, from, to
	StatusTitle                                string // state
	StatusSince                                string // state, time, ago
	StatusLastCheck                            string // time, ago
	StatusNoCheck                              string
	StatusNetwork                              string
	StatusOpenIncident                         string // time, worst, duration
	StatusLastIncident                         string // from, to, worst, duration
	StatusSlow                                 string // latency
	UptimeLine                                 string // 24 h, 7 days, 30 days figures
	UptimeNoData                               string // a figure with no known time
	NoDataLine                                 string // duration
	HistoryTitle, HistoryEmpty                 string
	HistoryEntry                               string // worst, duration
	HistoryOngoing                             string // worst, duration so far
	DecimalComma                               bool
	Help                                       []string
	Subscribed, AlreadySubscribed              string
	Unsubscribed, NotSubscribed                string
	AdminOnly, UnknownCommand                  string
	CommandDescriptions                        map[string]string
	Ago                                        string
	JustNow                                    string
	Notices                                    map[Notice]string
	OptionChoices                              string // command, option, values
	OptionExample                              string // command, option, example
	Or                                         string
	// Settings (issue 12).
	SettingsTitle, SettingsHelp, SubscribeFirst string
	SettingAlerts, SettingMute                  string
	SettingLanguage, SettingRemind              string
	LanguageName, LanguageSet, Off              string
	LevelName                                   map[AlertLevel]string
	AlertsUsage, MuteUsage, RemindUsage         string
	LanguageUsage                               string
	MutedUntil                                  string // time
	Unmuted, RemindOff                          string
	RemindEvery                                 string // duration
	ButtonLabels                                map[string]string
	MuteEnded                                   string
	ReminderLine                                string // state, duration, time
	UnstableTitle, UnstableLine                 string // line: changes, time
	SettledTitle, SettledLine                   string // title: state; line: state, time, from, to, duration, changes
	StatusUnstable                              string // time, changes
	// Vantage points (issue 13).
	RegionsSeen    string // state, regions
	RegionsUnknown string // regions
	RegionsSilent  string // regions
	ListSep        string
	// Command limits.
	SubscriptionCap string // the cap
	// Fast confirmation (first to know).
	StatusEvery string // interval
}

// Notice is a short answer an adapter gives on its own, when a command never
// reaches the service (an interaction without a chat, say).
type Notice int

const (
	NoticeUnknownCommand Notice = iota
	NoticeFailed
	NoticeNoChannel
	NoticeServersOnly
	NoticeBotLacksPermissions
	// NoticeStaleButton answers a press on a button the bot can no longer act on.
	NoticeStaleButton
	// NoticeSlowDown answers a person whose commands come faster than the
	// command limit: some were dropped.
	NoticeSlowDown
)

var english = Catalog{
	OptionChoices: "/%s needs its option %s: %s.",
	OptionExample: "/%s needs its option %s, for example %s.",
	Or:            " or ",
	StateName: map[probe.State]string{
		probe.StateUp: "up", probe.StateDegraded: "degraded", probe.StateDown: "down", probe.StateUnknown: "not known yet",
	},
	TitleDown:             "🔴 X is down",
	TitleDegraded:         "🟠 X is degraded",
	TitleUp:               "🟢 X is back up",
	TitleDownFromDegraded: "🔴 X is now down",
	TitleDegradedFromDn:   "🟠 X is partly back (degraded)",
	SinceLine:             "Since %s (%s).",
	OutageLine:            "It was %s for %s (%s – %s).",
	CoalescedTitle:        "🟢 X was down for %s, %s – %s, and is back up",
	StatusTitle:           "X is %s",
	StatusSince:           "%s since %s (%s).",
	StatusLastCheck:       "Last check: %s (%s).",
	StatusNoCheck:         "No check has completed yet.",
	StatusNetwork:         "⚠️ The bot's own network check failed: the last result says nothing about X.",
	StatusOpenIncident:    "Ongoing incident since %s, worst %s, %s so far.",
	StatusLastIncident:    "Last incident: %s – %s, worst %s, lasted %s.",
	StatusSlow:            "%s (slow)",
	UptimeLine:            "Uptime: 24 h %s, 7 days %s, 30 days %s.",
	UptimeNoData:          "no data",
	NoDataLine:            "No data for %s of the last 30 days: the bot was not running or could not reach the internet then, and that time is left out of the figures.",
	HistoryTitle:          "Latest incidents, newest first",
	HistoryEmpty:          "No incident recorded yet.",
	HistoryEntry:          "%s for %s",
	HistoryOngoing:        "%s, ongoing for %s",
	Help: []string{
		"I watch X (formerly Twitter) and tell this chat the moment it goes down and the moment it is back.",
		"/subscribe: get alerts in this chat (admins only in groups and servers)",
		"/unsubscribe: stop the alerts",
		"/status: X's state now, each component's last result, uptime and the current or last incident",
		"/history: the last 10 incidents",
		"/settings: this chat's settings; /alerts outages|all, /mute 2h, /unmute, /language fr|en, /remind 1h|off change them (admins only in groups and servers)",
		"/help: this text",
	},
	SettingsTitle:   "Settings of this chat",
	SettingsHelp:    "Change them with /alerts outages|all, /mute 2h (up to 7d), /unmute, /language fr|en, /remind 1h|off (15m at least).",
	SubscribeFirst:  "This chat is not subscribed: run /subscribe first, then change its settings.",
	SettingAlerts:   "Alerts",
	SettingMute:     "Mute",
	SettingLanguage: "Language",
	SettingRemind:   "Reminders",
	LanguageName:    "English",
	LanguageSet:     "Language: English",
	Off:             "off",
	LevelName: map[AlertLevel]string{
		AlertsAll:     "all changes (degraded ones silently)",
		AlertsOutages: "outages only (down and its recovery)",
	},
	AlertsUsage:   "Use /alerts outages (only down and its recovery) or /alerts all (degraded too). Nothing changed.",
	MuteUsage:     "Use /mute with a duration up to 7 days: 30m, 2h, 1d. Nothing changed.",
	RemindUsage:   "Use /remind with an interval of at least 15 minutes (15m, 1h, 1d) or /remind off. Nothing changed.",
	LanguageUsage: "Use /language fr or /language en. Nothing changed.",
	MutedUntil:    "muted until %s",
	Unmuted:       "Not muted",
	RemindOff:     "Reminders off",
	RemindEvery:   "reminders every %s while X is not up",
	ButtonLabels: map[string]string{
		"/alerts outages": "Outages only", "/alerts all": "All alerts",
		"/mute 1h": "Mute 1h", "/mute 8h": "Mute 8h", "/unmute": "Unmute",
		"/language fr": "Français", "/language en": "English",
		"/remind 1h": "Remind every 1h", "/remind off": "No reminders",
	},
	MuteEnded:         "Your mute has ended; meanwhile X changed.",
	ReminderLine:      "Reminder: still %s, for %s so far (since %s).",
	UnstableTitle:     "⚠️ X is unstable",
	UnstableLine:      "%d changes since %s. No alert for each change until X holds one state; then one message.",
	SettledTitle:      "X has settled: %s",
	SettledLine:       "%s since %s. It was unstable from %s to %s (%s, %d changes).",
	StatusUnstable:    "⚠️ Unstable since %s (%d changes): alerts for each change are paused until it settles.",
	RegionsSeen:       "%s from %s",
	RegionsUnknown:    "no verdict from %s",
	RegionsSilent:     "not heard from %s",
	ListSep:           "; ",
	StatusEvery:       "X is checked every %s.",
	Subscribed:        "✅ Subscribed: this chat gets an alert when X goes down and when it is back.",
	AlreadySubscribed: "This chat is already subscribed; nothing changed.",
	Unsubscribed:      "Unsubscribed: no more alerts here.",
	NotSubscribed:     "This chat is not subscribed; nothing changed.",
	AdminOnly:         "Sorry, only an admin of this chat can change its alerts.",
	UnknownCommand:    "I don't know that command.",
	CommandDescriptions: map[string]string{
		"subscribe":   "Get an alert here when X goes down and when it is back",
		"unsubscribe": "Stop X outage alerts here",
		"status":      "Show whether X is up right now",
		"history":     "List X's last 10 incidents",
		"settings":    "Show this chat's alert settings",
		"alerts":      "Alerts for outages only, or for every change",
		"mute":        "No alerts for a while (30m, 2h, up to 7d)",
		"unmute":      "End the mute now",
		"language":    "Language of alerts and replies (fr, en)",
		"remind":      "Repeat the alert while X is not up (1h, off)",
		"help":        "What this bot does and its commands",
		"start":       "What this bot does and its commands",
	},
	Ago:     "%s ago",
	JustNow: "just now",
	Notices: map[Notice]string{
		NoticeUnknownCommand:      "I don't know that command. Try /help.",
		NoticeFailed:              "Something went wrong on my side; please try again in a minute.",
		NoticeNoChannel:           "I could not tell which chat this is; please try again.",
		NoticeServersOnly:         "This command works in a shared chat (a group, a server channel), not in direct messages.",
		NoticeBotLacksPermissions: "I can't post alerts in this channel yet: give me View Channel, Send Messages, Embed Links and Read Message History here, then run /subscribe again.",
		NoticeStaleButton:         "This button no longer works here. Send /settings for fresh ones.",
		NoticeSlowDown:            "You are sending commands too fast: I skipped some. Wait a few seconds.",
	},
	SubscriptionCap: "You have already subscribed %d chats, the most one person may. Send /unsubscribe in one of them first.",
}

var french = Catalog{
	OptionChoices: "/%s attend son option %s : %s.",
	OptionExample: "/%s attend son option %s, par exemple %s.",
	Or:            " ou ",
	StateName: map[probe.State]string{
		probe.StateUp: "en ligne", probe.StateDegraded: "dégradé", probe.StateDown: "en panne", probe.StateUnknown: "pas encore connu",
	},
	TitleDown:             "🔴 X est en panne",
	TitleDegraded:         "🟠 X fonctionne mal",
	TitleUp:               "🟢 X est de retour",
	TitleDownFromDegraded: "🔴 X est maintenant en panne",
	TitleDegradedFromDn:   "🟠 X revient en partie (dégradé)",
	SinceLine:             "Depuis %s (%s).",
	OutageLine:            "Il a été %s pendant %s (%s – %s).",
	CoalescedTitle:        "🟢 X a été en panne %s, %s – %s, et est de retour",
	StatusTitle:           "X est %s",
	StatusSince:           "%s depuis %s (%s).",
	StatusLastCheck:       "Dernière vérification : %s (%s).",
	StatusNoCheck:         "Aucune vérification terminée pour l'instant.",
	StatusNetwork:         "⚠️ Le réseau du bot lui-même est en échec : le dernier résultat ne dit rien de X.",
	StatusOpenIncident:    "Incident en cours depuis %s, pire état %s, %s jusqu'ici.",
	StatusLastIncident:    "Dernier incident : %s – %s, pire état %s, durée %s.",
	StatusSlow:            "%s (lent)",
	UptimeLine:            "Disponibilité : 24 h %s, 7 jours %s, 30 jours %s.",
	UptimeNoData:          "pas de données",
	NoDataLine:            "Pas de données pendant %s sur les 30 derniers jours : le bot ne tournait pas ou n'accédait pas à internet, et ce temps est exclu des chiffres.",
	HistoryTitle:          "Derniers incidents, du plus récent au plus ancien",
	HistoryEmpty:          "Aucun incident enregistré pour l'instant.",
	HistoryEntry:          "%s pendant %s",
	HistoryOngoing:        "%s, en cours depuis %s",
	DecimalComma:          true,
	Help: []string{
		"Je surveille X (ex-Twitter) et préviens ce chat dès qu'il tombe en panne et dès qu'il revient.",
		"/subscribe : recevoir les alertes ici (admins seulement dans les groupes et serveurs)",
		"/unsubscribe : arrêter les alertes",
		"/status : l'état de X, le dernier résultat de chaque composant, la disponibilité et l'incident en cours ou le dernier",
		"/history : les 10 derniers incidents",
		"/settings : les réglages de ce chat ; /alerts outages|all, /mute 2h, /unmute, /language fr|en, /remind 1h|off les changent (admins seulement dans les groupes et serveurs)",
		"/help : ce texte",
	},
	SettingsTitle:   "Réglages de ce chat",
	SettingsHelp:    "Changez-les avec /alerts outages|all, /mute 2h (jusqu'à 7d), /unmute, /language fr|en, /remind 1h|off (15m au moins).",
	SubscribeFirst:  "Ce chat n'est pas abonné : lancez d'abord /subscribe, puis changez ses réglages.",
	SettingAlerts:   "Alertes",
	SettingMute:     "Silence",
	SettingLanguage: "Langue",
	SettingRemind:   "Rappels",
	LanguageName:    "français",
	LanguageSet:     "Langue : français",
	Off:             "non",
	LevelName: map[AlertLevel]string{
		AlertsAll:     "tous les changements (dégradé sans son)",
		AlertsOutages: "pannes seulement (panne et retour)",
	},
	AlertsUsage:   "Utilisez /alerts outages (panne et retour seulement) ou /alerts all (dégradé aussi). Rien n'a changé.",
	MuteUsage:     "Utilisez /mute avec une durée jusqu'à 7 jours : 30m, 2h, 1d. Rien n'a changé.",
	RemindUsage:   "Utilisez /remind avec un intervalle d'au moins 15 minutes (15m, 1h, 1d) ou /remind off. Rien n'a changé.",
	LanguageUsage: "Utilisez /language fr ou /language en. Rien n'a changé.",
	MutedUntil:    "silence jusqu'à %s",
	Unmuted:       "Silence levé",
	RemindOff:     "Rappels désactivés",
	RemindEvery:   "rappel toutes les %s tant que X ne va pas bien",
	ButtonLabels: map[string]string{
		"/alerts outages": "Pannes seulement", "/alerts all": "Toutes les alertes",
		"/mute 1h": "Silence 1h", "/mute 8h": "Silence 8h", "/unmute": "Lever le silence",
		"/language fr": "Français", "/language en": "English",
		"/remind 1h": "Rappel toutes les 1h", "/remind off": "Pas de rappel",
	},
	MuteEnded:         "Fin du silence ; entre-temps X a changé.",
	ReminderLine:      "Rappel : toujours %s, depuis %s (début %s).",
	UnstableTitle:     "⚠️ X est instable",
	UnstableLine:      "%d changements depuis %s. Plus d'alerte à chaque changement tant que X ne tient pas un même état ; ensuite un seul message.",
	SettledTitle:      "X s'est stabilisé : %s",
	SettledLine:       "%s depuis %s. Il a été instable de %s à %s (%s, %d changements).",
	StatusUnstable:    "⚠️ Instable depuis %s (%d changements) : les alertes à chaque changement sont suspendues jusqu'à ce qu'il se stabilise.",
	RegionsSeen:       "%s vu de %s",
	RegionsUnknown:    "pas de verdict de %s",
	RegionsSilent:     "sans nouvelles de %s",
	ListSep:           " ; ",
	StatusEvery:       "X est vérifié toutes les %s.",
	Subscribed:        "✅ Abonné : ce chat sera prévenu quand X tombe en panne et quand il revient.",
	AlreadySubscribed: "Ce chat est déjà abonné ; rien n'a changé.",
	Unsubscribed:      "Désabonné : plus d'alertes ici.",
	NotSubscribed:     "Ce chat n'est pas abonné ; rien n'a changé.",
	AdminOnly:         "Désolé, seul un admin de ce chat peut changer ses alertes.",
	UnknownCommand:    "Je ne connais pas cette commande.",
	CommandDescriptions: map[string]string{
		"subscribe":   "Recevoir ici une alerte quand X tombe en panne et quand il revient",
		"unsubscribe": "Arrêter les alertes de panne de X ici",
		"status":      "Voir si X fonctionne en ce moment",
		"history":     "Les 10 derniers incidents de X",
		"settings":    "Voir les réglages d'alerte de ce chat",
		"alerts":      "Alertes pour les pannes seulement, ou pour tout changement",
		"mute":        "Pas d'alerte pendant un temps (30m, 2h, jusqu'à 7d)",
		"unmute":      "Lever le silence maintenant",
		"language":    "Langue des alertes et des réponses (fr, en)",
		"remind":      "Répéter l'alerte tant que X ne va pas bien (1h, off)",
		"help":        "Ce que fait ce bot et ses commandes",
		"start":       "Ce que fait ce bot et ses commandes",
	},
	Ago:     "il y a %s",
	JustNow: "à l'instant",
	Notices: map[Notice]string{
		NoticeUnknownCommand:      "Je ne connais pas cette commande. Essayez /help.",
		NoticeFailed:              "Un problème de mon côté ; réessayez dans une minute.",
		NoticeNoChannel:           "Je n'ai pas pu savoir de quelle discussion il s'agit ; réessayez.",
		NoticeServersOnly:         "Cette commande s'utilise dans une discussion partagée (un groupe, un salon de serveur), pas en message privé.",
		NoticeBotLacksPermissions: "Je ne peux pas encore publier d'alertes dans ce salon : donnez-moi Voir le salon, Envoyer des messages, Intégrer des liens et Voir les anciens messages ici, puis relancez /subscribe.",
		NoticeStaleButton:         "Ce bouton n'est plus valable ici. Envoyez /settings pour en obtenir de nouveaux.",
		NoticeSlowDown:            "Vous envoyez des commandes trop vite : j'en ai ignoré. Patientez quelques secondes.",
	},
	SubscriptionCap: "Vous avez déjà abonné %d discussions, le maximum par personne. Envoyez d'abord /unsubscribe dans l'une d'elles.",
}

// For picks the Catalog of a language tag ("fr", "fr-FR"); English by default.
func For(lang string) *Catalog {
	if strings.HasPrefix(strings.ToLower(lang), "fr") {
		return &french
	}
	return &english
}

// CommandDescription returns the menu description of a command in a language.
func CommandDescription(lang, command string) string {
	return For(lang).CommandDescriptions[command]
}

// FormatDuration renders a duration for people: "40s", "4m10s", "2h05m", "3d4h".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05 UTC") }

func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func (c *Catalog) since(t, now time.Time) string {
	d := now.Sub(t)
	if d < time.Second {
		return c.JustNow
	}
	return fmt.Sprintf(c.Ago, FormatDuration(d))
}

func causeFields(causes []Cause) []Field {
	out := make([]Field, 0, len(causes))
	for _, c := range causes {
		out = append(out, Field{Name: c.Component, Value: c.Detail})
	}
	return out
}

// RenderAlert writes the message for one chat's pending changes. Several
// rows are coalesced: a down alert still undelivered when the recovery is
// queued becomes one "was down, is back" message. When the vantage points
// disagreed, a line says what each saw.
func RenderAlert(lang string, rows []Delivery, now time.Time) Message {
	m := renderAlert(lang, rows, now)
	if regions := rows[len(rows)-1].Change.Regions; len(regions) > 0 {
		m.Lines = append(m.Lines, For(lang).regionsLine(regions))
	}
	return m
}

// RegionsLine is regionsLine in a language, for the status page; empty
// when there is no breakdown.
func RegionsLine(lang string, regions []RegionVerdict) string {
	if len(regions) == 0 {
		return ""
	}
	return For(lang).regionsLine(regions)
}

// regionsLine says where X is failing: "Down from eu-west, us-east; up from
// ap-south; no verdict from sa-east; not heard from ca-central." Worst
// first, regions in the given order.
func (c *Catalog) regionsLine(regions []RegionVerdict) string {
	var parts []string
	for _, st := range []probe.State{probe.StateDown, probe.StateDegraded, probe.StateUp} {
		if names := regionNames(regions, func(v probe.Verdict) bool { return v == probe.Verdict(st) }); names != "" {
			parts = append(parts, fmt.Sprintf(c.RegionsSeen, c.StateName[st], names))
		}
	}
	unknown := func(v probe.Verdict) bool {
		return v != probe.VerdictDown && v != probe.VerdictDegraded && v != probe.VerdictUp && v != VerdictSilent
	}
	if names := regionNames(regions, unknown); names != "" {
		parts = append(parts, fmt.Sprintf(c.RegionsUnknown, names))
	}
	if names := regionNames(regions, func(v probe.Verdict) bool { return v == VerdictSilent }); names != "" {
		parts = append(parts, fmt.Sprintf(c.RegionsSilent, names))
	}
	line := strings.Join(parts, c.ListSep) + "."
	r, size := utf8.DecodeRuneInString(line)
	return string(unicode.ToUpper(r)) + line[size:]
}

func regionNames(regions []RegionVerdict, keep func(probe.Verdict) bool) string {
	var names []string
	for _, r := range regions {
		if keep(r.Verdict) {
			names = append(names, r.Region)
		}
	}
	return strings.Join(names, ", ")
}

func renderAlert(lang string, rows []Delivery, now time.Time) Message {
	c := For(lang)
	last := rows[len(rows)-1]
	ch := last.Change
	tr := ch.Transition
	m := Message{Time: tr.At, ReplyTo: last.ReplyTo}
	inc := ch.Incident
	m.Event = &Event{State: tr.To, Previous: rows[0].Change.Transition.From, At: tr.At, Began: tr.Began, Incident: &inc}
	switch ch.Kind {
	case KindUnmuted:
		return c.catchUp(m, tr, now)
	case KindReminder:
		return c.reminder(m, ch, now)
	case KindUnstable, KindSettled:
		return c.flapping(m, ch)
	}
	switch tr.To {
	case probe.StateUp:
		m.Severity = SeverityUp
		inc := ch.Incident
		from, to := inc.Start, inc.End
		if to.IsZero() {
			to = tr.Began
		}
		if to.IsZero() {
			to = tr.At
		}
		if from.IsZero() {
			from = to
		}
		dur := FormatDuration(to.Sub(from))
		if len(rows) > 1 && rows[0].ReplyTo == "" && rows[0].Change.Transition.To != probe.StateUp {
			// The chat never saw the down alert: tell the whole story at once.
			m.Title = fmt.Sprintf(c.CoalescedTitle, dur, clock(from), clock(to))
			m.Fields = causeFields(inc.Causes)
			m.ReplyTo = ""
			return m
		}
		m.Title = c.TitleUp
		worst := inc.Worst
		if worst.Severity() == 0 {
			worst = tr.From
		}
		m.Lines = []string{fmt.Sprintf(c.OutageLine, c.StateName[worst], dur, clock(from), clock(to))}
	case probe.StateDegraded:
		m.Severity, m.Silent, m.Title = SeverityDegraded, true, c.TitleDegraded
		if tr.From == probe.StateDown {
			m.Title = c.TitleDegradedFromDn
		}
		m.Lines = []string{fmt.Sprintf(c.SinceLine, Stamp(startOf(ch)), c.since(startOf(ch), now))}
		m.Fields = causeFields(ch.Causes)
	default:
		m.Severity, m.Title = SeverityDown, c.TitleDown
		if tr.From == probe.StateDegraded {
			m.Title = c.TitleDownFromDegraded
		}
		m.Lines = []string{fmt.Sprintf(c.SinceLine, Stamp(startOf(ch)), c.since(startOf(ch), now))}
		m.Fields = causeFields(ch.Causes)
	}
	return m
}

// catchUp tells a chat whose mute ended the state it missed, whatever the
// rows before: the current state is all that matters then.
func (c *Catalog) catchUp(m Message, tr probe.Transition, now time.Time) Message {
	m.ReplyTo = ""
	switch tr.To {
	case probe.StateUp:
		m.Severity, m.Title = SeverityUp, c.TitleUp
	case probe.StateDegraded:
		m.Severity, m.Title, m.Silent = SeverityDegraded, c.TitleDegraded, true
	default:
		m.Severity, m.Title = SeverityDown, c.TitleDown
	}
	m.Lines = []string{c.MuteEnded, fmt.Sprintf(c.SinceLine, Stamp(tr.Began), c.since(tr.Began, now))}
	return m
}

// reminder repeats the alert of a lasting state with its duration so far,
// answering the first alert of the incident when the chat got one.
func (c *Catalog) reminder(m Message, ch Change, now time.Time) Message {
	tr := ch.Transition
	m.Severity, m.Title = SeverityDown, c.TitleDown
	if tr.To == probe.StateDegraded {
		m.Severity, m.Title, m.Silent = SeverityDegraded, c.TitleDegraded, true
	}
	start := startOf(ch)
	m.Lines = []string{fmt.Sprintf(c.ReminderLine, c.StateName[tr.To], FormatDuration(now.Sub(start)), Stamp(start))}
	m.Fields = causeFields(ch.Incident.MainCauses(3))
	return m
}

// flapping renders the unstable message and the settled one.
func (c *Catalog) flapping(m Message, ch Change) Message {
	tr := ch.Transition
	m.ReplyTo = ""
	if ch.Kind == KindUnstable {
		m.Severity, m.Title = SeverityDegraded, c.UnstableTitle
		m.Lines = []string{fmt.Sprintf(c.UnstableLine, ch.Flaps, Stamp(ch.FlapSince))}
		m.Fields = causeFields(ch.Causes)
		return m
	}
	m.Severity = severityOf(tr.To)
	m.Silent = tr.To == probe.StateDegraded
	state := c.StateName[tr.To]
	m.Title = fmt.Sprintf(c.SettledTitle, state)
	m.Lines = []string{fmt.Sprintf(c.SettledLine, strings.ToUpper(state[:1])+state[1:], Stamp(tr.Began),
		clock(ch.FlapSince), clock(tr.Began), FormatDuration(tr.Began.Sub(ch.FlapSince)), ch.Flaps)}
	return m
}

// startOf is when the trouble began: the incident's start, else the transition.
func startOf(ch Change) time.Time {
	if !ch.Incident.Start.IsZero() {
		return ch.Incident.Start
	}
	return ch.Transition.At
}

// Uptimes are the figures /status shows.
type Uptimes struct{ H24, D7, D30 Uptime }

// noDataWorthSaying is the least unknown time /status mentions: less is the
// instant between two rounds, not a hole in the record.
const noDataWorthSaying = time.Minute

// percent renders an uptime percentage rounded down, so any downtime keeps it
// below 100.
func (c *Catalog) percent(u Uptime) string {
	if u.Percent < 0 {
		return c.UptimeNoData
	}
	s := fmt.Sprintf("%.2f %%", math.Floor(u.Percent*100)/100)
	if c.DecimalComma {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// RenderStatus answers /status from the saved state; uptime may be nil when
// the figures could not be read, regions is the last vote's breakdown (nil
// when the vantage points agreed or there is one), every how often X is
// checked (0: not said). The state is given since its first round (the
// first failing round of an outage), not since its confirmation.
func RenderStatus(lang string, s Saved, uptime *Uptimes, regions []RegionVerdict, every time.Duration, now time.Time) Message {
	c := For(lang)
	st := s.Status.State
	if st == "" {
		st = probe.StateUnknown
	}
	m := Message{Title: fmt.Sprintf(c.StatusTitle, c.StateName[st]), Time: now}
	m.Severity = severityOf(st)
	if began := StateBegan(s.Status, s.Recent); !began.IsZero() && st != probe.StateUnknown {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusSince, c.StateName[st], Stamp(began), c.since(began, now)))
	}
	if len(regions) > 0 {
		m.Lines = append(m.Lines, c.regionsLine(regions))
	}
	if f := s.Flap; f.Unstable() {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusUnstable, Stamp(f.Since), f.Changes))
	}
	if u := uptime; u != nil {
		m.Lines = append(m.Lines, fmt.Sprintf(c.UptimeLine, c.percent(u.H24), c.percent(u.D7), c.percent(u.D30)))
		if u.D30.NoData >= noDataWorthSaying {
			m.Lines = append(m.Lines, fmt.Sprintf(c.NoDataLine, FormatDuration(u.D30.NoData)))
		}
	}
	if every > 0 {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusEvery, FormatDuration(every)))
	}
	if r := s.LastRound; r != nil {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusLastCheck, clock(r.Start), c.since(r.Start, now)))
		if !r.ControlOK() {
			m.Lines = append(m.Lines, c.StatusNetwork)
		}
		for _, t := range r.Targets {
			v := t.Detail
			if t.OK() {
				v = fmt.Sprintf("%d ms", t.Latency.Milliseconds())
				if t.Slow {
					v = fmt.Sprintf(c.StatusSlow, v)
				}
			}
			m.Fields = append(m.Fields, Field{Name: t.Target, Value: v})
		}
	} else {
		m.Lines = append(m.Lines, c.StatusNoCheck)
	}
	if inc := s.Incident; inc != nil {
		worst := c.StateName[inc.Worst]
		if inc.Open() {
			m.Lines = append(m.Lines, fmt.Sprintf(c.StatusOpenIncident, Stamp(inc.Start), worst, FormatDuration(inc.Duration(now))))
		} else {
			m.Lines = append(m.Lines, fmt.Sprintf(c.StatusLastIncident, Stamp(inc.Start), Stamp(inc.End), worst, FormatDuration(inc.Duration(now))))
		}
	}
	return m
}

// RenderHistory answers /history: one field per incident, newest first,
// with its start, worst state, duration and main causes.
func RenderHistory(lang string, incidents []Incident, now time.Time) Message {
	c := For(lang)
	if len(incidents) == 0 {
		return Message{Title: c.HistoryEmpty, Time: now}
	}
	m := Message{Title: c.HistoryTitle, Time: now}
	for _, inc := range incidents {
		v := fmt.Sprintf(c.HistoryEntry, c.StateName[inc.Worst], FormatDuration(inc.Duration(now)))
		if inc.Open() {
			v = fmt.Sprintf(c.HistoryOngoing, c.StateName[inc.Worst], FormatDuration(inc.Duration(now)))
		}
		var causes []string
		for _, cause := range inc.MainCauses(3) {
			causes = append(causes, cause.Component+" ("+Truncate(cause.Detail, 60)+")")
		}
		if len(causes) > 0 {
			v += " — " + strings.Join(causes, ", ")
		}
		m.Fields = append(m.Fields, Field{Name: Stamp(inc.Start), Value: v})
	}
	return m
}

// private is a one-line answer only its asker needs to see.
func Private(text string) Message { return Message{Title: text, Private: true} }

// HelpMessage is the answer to /start and /help.
func HelpMessage(lang string) Message {
	c := For(lang)
	return Message{Title: c.Help[0], Lines: c.Help[1:]}
}

// NoticeText is the text of a notice in a language.
func NoticeText(lang string, n Notice) string { return For(lang).Notices[n] }

// OptionHelp answers a command that came without its option, or with one of
// the wrong type: the option's name and its accepted values, or an example.
func OptionHelp(lang, command, option string, values []string, example string) string {
	c := For(lang)
	if len(values) > 0 {
		return fmt.Sprintf(c.OptionChoices, command, option, strings.Join(values, c.Or))
	}
	return fmt.Sprintf(c.OptionExample, command, option, example)
}

// NoticeMessage is a notice as a private reply.
func NoticeMessage(lang string, n Notice) Message { return Private(NoticeText(lang, n)) }

// severityOf is how a message announcing state s is styled.
func severityOf(s probe.State) Severity {
	switch s {
	case probe.StateUp:
		return SeverityUp
	case probe.StateDegraded:
		return SeverityDegraded
	case probe.StateDown:
		return SeverityDown
	}
	return SeverityInfo
}

// settingsButtons are the command lines of the rows under the /settings
// answer: a button press is the same command a person could type.
var settingsButtons = [][]string{
	{"/alerts outages", "/alerts all"},
	{"/mute 1h", "/mute 8h", "/unmute"},
	{"/language fr", "/language en"},
	{"/remind 1h", "/remind off"},
}

func (c *Catalog) buttons() [][]Button {
	out := make([][]Button, len(settingsButtons))
	for i, row := range settingsButtons {
		for _, data := range row {
			out[i] = append(out[i], Button{Label: c.ButtonLabels[data], Data: data})
		}
	}
	return out
}

// RenderSettings shows a chat's settings, after done (the change just
// made, "" for none), with the buttons that change them.
func RenderSettings(lang string, cs ChatSettings, done string, now time.Time) Message {
	c := For(lang)
	level := cs.Level
	if level == "" {
		level = AlertsAll
	}
	mute := c.Off
	if cs.MutedUntil.After(now) {
		mute = fmt.Sprintf(c.MutedUntil, Stamp(cs.MutedUntil))
	}
	remind := c.Off
	if cs.RemindEvery > 0 {
		remind = fmt.Sprintf(c.RemindEvery, FormatDuration(cs.RemindEvery))
	}
	m := Message{Title: c.SettingsTitle, Time: now, Buttons: c.buttons()}
	if done != "" {
		m.Title = "✅ " + done
		m.Lines = []string{c.SettingsTitle}
	}
	m.Fields = []Field{
		{Name: c.SettingAlerts, Value: c.LevelName[level]},
		{Name: c.SettingMute, Value: mute},
		{Name: c.SettingLanguage, Value: c.LanguageName},
		{Name: c.SettingRemind, Value: remind},
	}
	m.Lines = append(m.Lines, c.SettingsHelp)
	return m
}
