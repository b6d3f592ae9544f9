package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of the settings commands (issue 12).
const (
	MaxMute   = 7 * 24 * time.Hour
	MinRemind = 15 * time.Minute
	MaxRemind = 7 * 24 * time.Hour
)

const settingsName = "settings"

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

// ChangesSettings reports whether a command changes a chat's settings.
func ChangesSettings(name string) bool {
	switch name {
	case "alerts", "mute", "unmute", "language", "remind":
		return true
	}
	return false
}

// ParseDuration reads a duration as people type it: Go's units ("30m",
// "2h", "1h30m") and whole days ("1d", "7d").
func ParseDuration(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 365 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

// settingsChange is a validated settings command, ready to apply.
type settingsChange struct {
	apply func(cs *ChatSettings, now time.Time)
	done  func(c *Catalog, cs ChatSettings) string
}

// parseSettingsCommand validates a settings command's argument; problem is
// the text telling what is accepted when it is not.
func parseSettingsCommand(name, args string) (ch settingsChange, problem func(*Catalog) string) {
	arg := strings.ToLower(strings.TrimSpace(args))
	switch name {
	case "alerts":
		var level AlertLevel
		switch arg {
		case "outages", "pannes":
			level = AlertsOutages
		case "all", "tout", "toutes":
			level = AlertsAll
		default:
			return ch, func(c *Catalog) string { return c.AlertsUsage }
		}
		return settingsChange{
			apply: func(cs *ChatSettings, _ time.Time) { cs.Level = level },
			done:  func(c *Catalog, _ ChatSettings) string { return c.LevelName[level] },
		}, nil
	case "mute":
		d, ok := ParseDuration(arg)
		if !ok || d > MaxMute {
			return ch, func(c *Catalog) string { return c.MuteUsage }
		}
		return settingsChange{
			apply: func(cs *ChatSettings, now time.Time) { cs.MutedUntil = now.Add(d) },
			done:  func(c *Catalog, cs ChatSettings) string { return fmt.Sprintf(c.MutedUntil, stamp(cs.MutedUntil)) },
		}, nil
	case "unmute":
		return settingsChange{
			// Ending the mute at now (not clearing it) lets the next round
			// tell the chat what it missed, as when a mute runs out.
			apply: func(cs *ChatSettings, now time.Time) {
				if cs.MutedUntil.After(now) {
					cs.MutedUntil = now
				}
			},
			done: func(c *Catalog, _ ChatSettings) string { return c.Unmuted },
		}, nil
	case "language":
		if arg != "fr" && arg != "en" {
			return ch, func(c *Catalog) string { return c.LanguageUsage }
		}
		return settingsChange{
			apply: func(cs *ChatSettings, _ time.Time) { cs.Lang = arg },
			done:  func(c *Catalog, _ ChatSettings) string { return c.LanguageSet },
		}, nil
	case "remind":
		var every time.Duration
		if arg != "off" && arg != "non" {
			d, ok := ParseDuration(arg)
			if !ok || d < MinRemind || d > MaxRemind {
				return ch, func(c *Catalog) string { return c.RemindUsage }
			}
			every = d
		}
		return settingsChange{
			apply: func(cs *ChatSettings, _ time.Time) { cs.RemindEvery = every },
			done: func(c *Catalog, cs ChatSettings) string {
				if cs.RemindEvery == 0 {
					return c.RemindOff
				}
				return fmt.Sprintf(c.RemindEvery, FormatDuration(cs.RemindEvery))
			},
		}, nil
	}
	return ch, func(c *Catalog) string { return c.UnknownCommand }
}

// settings answers /settings and the commands that change them.
func (s *Service) settings(ctx context.Context, cmd Command, name string) Message {
	c := For(cmd.Lang)
	store, ok := s.subs.(SettingsStore)
	if !ok {
		s.log.Error("this store keeps no settings", "chat", cmd.Chat.String())
		return NoticeMessage(cmd.Lang, NoticeFailed)
	}
	if name == settingsName {
		cs, subscribed, err := store.Settings(ctx, cmd.Chat)
		if err != nil {
			s.log.Error("load settings", "err", err, "chat", cmd.Chat.String())
			return NoticeMessage(cmd.Lang, NoticeFailed)
		}
		if !subscribed {
			return private(c.SubscribeFirst)
		}
		return RenderSettings(langOf(cs, cmd.Lang), cs, "", s.now())
	}
	change, problem := parseSettingsCommand(name, cmd.Args)
	if problem != nil {
		return private(problem(c))
	}
	if refusal, ok := s.mayManage(ctx, cmd); !ok {
		return refusal
	}
	now := s.now()
	cs, subscribed, err := store.UpdateSettings(ctx, cmd.Chat, func(cs *ChatSettings) { change.apply(cs, now) })
	if err != nil {
		s.log.Error("update settings", "err", err, "chat", cmd.Chat.String())
		return NoticeMessage(cmd.Lang, NoticeFailed)
	}
	if !subscribed {
		return private(c.SubscribeFirst)
	}
	s.log.Info("settings changed", "chat", cmd.Chat.String(), "command", name)
	lang := langOf(cs, cmd.Lang)
	return RenderSettings(lang, cs, change.done(For(lang), cs), now)
}

// langOf is the chat's language when it has one, else the asker's.
func langOf(cs ChatSettings, fallback string) string {
	if cs.Lang != "" {
		return cs.Lang
	}
	return fallback
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
		mute = fmt.Sprintf(c.MutedUntil, stamp(cs.MutedUntil))
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
