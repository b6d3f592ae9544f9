package main

import (
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/console"
	"github.com/xstatusbot/xstatusbot/bot/discord"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/webhook"
)

// adapters lists every platform the bot can deliver to, each with its own
// settings. Adding a platform is one line here.
func adapters() []adapterkit.Config {
	return []adapterkit.Config{
		&console.Config{},
		&telegram.Config{},
		&discord.Config{},
		&webhook.Config{},
	}
}
