package telegram

import (
	"context"
	"encoding/json"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// menuLanguages are the language codes the command menu is registered for
// ("" is the default for every other language).
var menuLanguages = []string{"", "fr"}

// registerCommands publishes the command menu. Failure is logged: the
// commands work without a menu.
func (a *Bot) registerCommands(ctx context.Context) {
	type menuEntry struct {
		Command     string `json:"command"`
		Description string `json:"description"`
	}
	for _, lang := range menuLanguages {
		cmds := make([]menuEntry, 0, len(command.Names))
		for _, name := range command.Names {
			desc := text.CommandDescription(lang, name)
			if desc == "" {
				desc = name
			}
			cmds = append(cmds, menuEntry{Command: name, Description: bot.Truncate(desc, 256)})
		}
		if lang != "" && text.CommandDescription(lang, command.Names[0]) == text.CommandDescription("", command.Names[0]) {
			continue // no translation: the default menu serves
		}
		body, _ := json.Marshal(cmds) // plain strings: cannot fail
		params := tgbotapi.Params{"commands": string(body)}
		if lang != "" {
			params["language_code"] = lang
		}
		if _, err := a.call(ctx, "setMyCommands", params, a.callTimeout); err != nil {
			a.log.Warn("telegram: setMyCommands failed; the command menu may be stale", "err", err, "lang", lang)
		}
	}
}
