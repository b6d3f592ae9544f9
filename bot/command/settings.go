package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// Limits of the settings commands.
const (
	MaxMute   = 7 * 24 * time.Hour
	MinRemind = 15 * time.Minute
	MaxRemind = 7 * 24 * time.Hour
)

const settingsName = "settings"

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
	apply func(cs *bot.ChatSettings, now time.Time)
	done  func(c *text.Catalog, cs bot.ChatSettings) string
}

// parseSettingsCommand validates a settings command's argument; problem is
// the text telling what is accepted when it is not.
func parseSettingsCommand(name, args string) (ch settingsChange, problem func(*text.Catalog) string) {
	arg := strings.ToLower(strings.TrimSpace(args))
	switch name {
	case "alerts":
		var level bot.AlertLevel
		switch arg {
		case "outages", "pannes":
			level = bot.AlertsOutages
		case "all", "tout", "toutes":
			level = bot.AlertsAll
		default:
			return ch, func(c *text.Catalog) string { return c.AlertsUsage }
		}
		return settingsChange{
			apply: func(cs *bot.ChatSettings, _ time.Time) { cs.Level = level },
			done:  func(c *text.Catalog, _ bot.ChatSettings) string { return c.LevelName[level] },
		}, nil
	case "mute":
		d, ok := ParseDuration(arg)
		if !ok || d > MaxMute {
			return ch, func(c *text.Catalog) string { return c.MuteUsage }
		}
		return settingsChange{
			apply: func(cs *bot.ChatSettings, now time.Time) { cs.MutedUntil = now.Add(d) },
			done: func(c *text.Catalog, cs bot.ChatSettings) string {
				return fmt.Sprintf(c.MutedUntil, text.Stamp(cs.MutedUntil))
			},
		}, nil
	case "unmute":
		return settingsChange{
			// Ending the mute at now (not clearing it) lets the next round
			// tell the chat what it missed, as when a mute runs out.
			apply: func(cs *bot.ChatSettings, now time.Time) {
				if cs.MutedUntil.After(now) {
					cs.MutedUntil = now
				}
			},
			done: func(c *text.Catalog, _ bot.ChatSettings) string { return c.Unmuted },
		}, nil
	case "language":
		if arg != "fr" && arg != "en" {
			return ch, func(c *text.Catalog) string { return c.LanguageUsage }
		}
		return settingsChange{
			apply: func(cs *bot.ChatSettings, _ time.Time) { cs.Lang = arg },
			done:  func(c *text.Catalog, _ bot.ChatSettings) string { return c.LanguageSet },
		}, nil
	case "remind":
		var every time.Duration
		if arg != "off" && arg != "non" {
			d, ok := ParseDuration(arg)
			if !ok || d < MinRemind || d > MaxRemind {
				return ch, func(c *text.Catalog) string { return c.RemindUsage }
			}
			every = d
		}
		return settingsChange{
			apply: func(cs *bot.ChatSettings, _ time.Time) { cs.RemindEvery = every },
			done: func(c *text.Catalog, cs bot.ChatSettings) string {
				if cs.RemindEvery == 0 {
					return c.RemindOff
				}
				return fmt.Sprintf(c.RemindEvery, text.FormatDuration(cs.RemindEvery))
			},
		}, nil
	}
	return ch, func(c *text.Catalog) string { return c.UnknownCommand }
}

// settings answers /settings and the commands that change them.
func (s *Service) settings(ctx context.Context, cmd Command, name string) bot.Message {
	c := text.For(cmd.Lang)
	store, ok := s.subs.(bot.SettingsStore)
	if !ok {
		s.log.Error("this store keeps no settings", "chat", cmd.Chat.String())
		return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
	}
	if name == settingsName {
		cs, subscribed, err := store.Settings(ctx, cmd.Chat)
		if err != nil {
			s.log.Error("load settings", "err", err, "chat", cmd.Chat.String())
			return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
		}
		if !subscribed {
			return text.Private(c.SubscribeFirst)
		}
		return text.RenderSettings(langOf(cs, cmd.Lang), cs, "", s.now())
	}
	change, problem := parseSettingsCommand(name, cmd.Args)
	if problem != nil {
		return text.Private(problem(c))
	}
	if refusal, ok := s.mayManage(ctx, cmd); !ok {
		return refusal
	}
	now := s.now()
	cs, subscribed, err := store.UpdateSettings(ctx, cmd.Chat, func(cs *bot.ChatSettings) { change.apply(cs, now) })
	if err != nil {
		s.log.Error("update settings", "err", err, "chat", cmd.Chat.String())
		return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
	}
	if !subscribed {
		return text.Private(c.SubscribeFirst)
	}
	s.log.Info("settings changed", "chat", cmd.Chat.String(), "command", name)
	lang := langOf(cs, cmd.Lang)
	return text.RenderSettings(lang, cs, change.done(text.For(lang), cs), now)
}

// langOf is the chat's language when it has one, else the asker's.
func langOf(cs bot.ChatSettings, fallback string) string {
	if cs.Lang != "" {
		return cs.Lang
	}
	return fallback
}
