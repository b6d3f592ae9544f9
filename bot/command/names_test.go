package command_test

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// TestEveryCommandIsDescribed keeps the menus complete: each command has a
// description in every language.
func TestEveryCommandIsDescribed(t *testing.T) {
	for _, name := range command.Names {
		if text.CommandDescription("en", name) == "" || text.CommandDescription("fr", name) == "" {
			t.Errorf("command %s lacks a description", name)
		}
	}
}
