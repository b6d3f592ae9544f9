package text

import (
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// settingsButtons are the command lines of the rows under the /settings
// answer: a button press is the same command a person could type.
var settingsButtons = [][]string{
	{"/alerts outages", "/alerts all"},
	{"/mute 1h", "/mute 8h", "/unmute"},
	{"/language fr", "/language en"},
	{"/remind 1h", "/remind off"},
}

func (c *Catalog) buttons() [][]bot.Button {
	out := make([][]bot.Button, len(settingsButtons))
	for i, row := range settingsButtons {
		for _, data := range row {
			out[i] = append(out[i], bot.Button{Label: c.ButtonLabels[data], Data: data})
		}
	}
	return out
}

// RenderSettings shows a chat's settings, after done (the change just
// made, "" for none), with the buttons that change them.
func RenderSettings(lang string, cs bot.ChatSettings, done string, now time.Time) bot.Message {
	c := For(lang)
	level := cs.Level
	if level == "" {
		level = bot.AlertsAll
	}
	mute := c.Off
	if cs.MutedUntil.After(now) {
		mute = fmt.Sprintf(c.MutedUntil, Stamp(cs.MutedUntil))
	}
	remind := c.Off
	if cs.RemindEvery > 0 {
		remind = fmt.Sprintf(c.RemindEvery, FormatDuration(cs.RemindEvery))
	}
	m := bot.Message{Title: c.SettingsTitle, Time: now, Buttons: c.buttons()}
	if done != "" {
		m.Title = "✅ " + done
		m.Lines = []string{c.SettingsTitle}
	}
	m.Fields = []bot.Field{
		{Name: c.SettingAlerts, Value: c.LevelName[level]},
		{Name: c.SettingMute, Value: mute},
		{Name: c.SettingLanguage, Value: c.LanguageName},
		{Name: c.SettingRemind, Value: remind},
	}
	m.Lines = append(m.Lines, c.SettingsHelp)
	return m
}
