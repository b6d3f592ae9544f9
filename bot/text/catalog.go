// Package text holds every word a user reads: one catalog per language
// (en.go, fr.go), the one language picker (For), and the renderers of
// alerts, /status, /history, /settings and notices into platform-neutral
// messages that adapters lay out.
package text

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Catalog is every text of one language. Format strings take their
// arguments in the order their comment gives.
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
	// Settings.
	SettingsTitle, SettingsHelp, SubscribeFirst string
	SettingAlerts, SettingMute                  string
	SettingLanguage, SettingRemind              string
	LanguageName, LanguageSet, Off              string
	LevelName                                   map[bot.AlertLevel]string
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
	// Vantage points.
	RegionsSeen    string // state, regions
	RegionsUnknown string // regions
	RegionsSilent  string // regions
	ListSep        string
	// Command limits.
	SubscriptionCap string // the cap
	// Fast confirmation (first to know).
	StatusEvery string // interval
	// People's reports (/report) and the crowd signal.
	KindName                   map[bot.ReportKind]string
	ReportsOne, ReportsMany    string // many: count
	ReportThanks, ReportAgain  string
	ReportCount                string // reports, window, the most per chat or server
	ReportUsage                string // kinds
	CrowdTitle, CrowdOverTitle string
	CrowdLine                  string // mostly (or nothing), reports, window
	CrowdMostly                string // kind
	CrowdMostlyTail            string // kind
	CrowdAlso                  string // reports, window, mostly (or nothing)
	CrowdOverLine              string // duration, from, to
	CrowdValue                 string // reports, window, mostly (or nothing)
	CrowdField                 string
	StatusCrowd                string // window, reports, breakdown
	StatusCrowdOnly            string
	HistoryCrowd               string // reports, duration
	HistoryCrowdOngoing        string // reports, duration so far
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

// For picks the Catalog of a language tag ("fr", "fr-FR"); English by default.
func For(lang string) *Catalog {
	if Lang(lang) == "fr" {
		return &french
	}
	return &english
}

// Lang is the language the bot speaks for a tag ("fr", "fr-FR", "en_GB"):
// "en" or "fr", or "" when it speaks none of it. Chats and the status page
// pick their language through it.
func Lang(tag string) string {
	base := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case strings.HasPrefix(base, "fr"):
		return "fr"
	case strings.HasPrefix(base, "en"):
		return "en"
	}
	return ""
}

// Pick chooses a language for a reader: an explicit choice first (a
// ?lang= parameter), then the best Accept-Language entry the bot speaks,
// else English.
func Pick(choice, accept string) string {
	if l := Lang(choice); l != "" {
		return l
	}
	best, bestQ := "en", 0.0
	for _, part := range strings.Split(accept, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l := Lang(tag); l != "" && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// CommandDescription returns the menu description of a command in a language.
func CommandDescription(lang, command string) string {
	return For(lang).CommandDescriptions[command]
}

// private is a one-line answer only its asker needs to see.
func Private(text string) bot.Message { return bot.Message{Title: text, Private: true} }

// HelpMessage is the answer to /start and /help.
func HelpMessage(lang string) bot.Message {
	c := For(lang)
	return bot.Message{Title: c.Help[0], Lines: c.Help[1:]}
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
func NoticeMessage(lang string, n Notice) bot.Message { return Private(NoticeText(lang, n)) }
