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

// built is what buildAdapters makes: the delivery channels, what runs
// beside them, and the adapters' shard reports for /healthz.
type built struct {
	channels []delivery.Channel
	runners  []func(context.Context) error
	shards   map[bot.Platform]func() []bot.ShardHealth
}

// buildAdapters builds every enabled adapter into a delivery channel and
// its runner, and keeps the configured chats of fixed-chat adapters (console,
// webhooks) in step with the settings, also for adapters that are off.
func buildAdapters(ctx context.Context, cfg Config, store command.FixedStore, deps adapterkit.Deps, log *slog.Logger) (built, error) {
	on := cfg.Enabled()
	out := built{shards: map[bot.Platform]func() []bot.ShardHealth{}}
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
				return built{}, err
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
		b, err := a.Build(d)
		if err != nil {
			return built{}, fmt.Errorf("%s: %w", p, err)
		}
		out.channels = append(out.channels, b.Channel)
		if b.Run != nil {
			out.runners = append(out.runners, b.Run)
		}
		if b.Shards != nil {
			out.shards[p] = b.Shards
		}
	}
	return out, nil
}
