package command_test

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

// TestEveryCommandIsDescribed keeps the menus complete: each command has a
// description in every language.
func TestEveryCommandIsDescribed(t *testing.T) {
	for _, name := range command.Names {
		if bot.CommandDescription("en", name) == "" || bot.CommandDescription("fr", name) == "" {
			t.Errorf("command %s lacks a description", name)
		}
	}
}
