package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/console"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
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

// buildAdapters builds every enabled adapter into a delivery channel and
// its runner, and keeps the configured chats of fixed-chat adapters (console,
// webhooks) in step with the settings, also for adapters that are off.
func buildAdapters(ctx context.Context, cfg Config, store command.FixedStore, deps adapterkit.Deps, log *slog.Logger) ([]delivery.Channel, []func(context.Context) error, error) {
	on := cfg.Enabled()
	var (
		channels []delivery.Channel
		runners  []func(context.Context) error
	)
	for _, a := range cfg.Adapters {
		p := a.Platform()
		enabled := slices.Contains(on, a)
		if f, ok := a.(adapterkit.FixedChats); ok {
			var want []bot.Subscription
			if enabled {
				want = f.FixedChats()
			}
			added, removed, err := command.SyncFixed(ctx, store, p, want, time.Now())
			if err != nil {
				return nil, nil, err
			}
			if added+removed > 0 {
				log.Info("configured chats updated", "platform", p, "added", added, "removed", removed)
			}
		}
		if !enabled {
			continue
		}
		d := deps
		d.Log = log.With("platform", string(p))
		built, err := a.Build(d)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		channels = append(channels, built.Channel)
		if built.Run != nil {
			runners = append(runners, built.Run)
		}
	}
	return channels, runners, nil
}
