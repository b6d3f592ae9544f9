package adapterkit

import (
	"context"
	"io"
	"log/slog"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// Config is one chat platform's configuration, the adapter's settings
// struct: main fills it from the environment (caarlos0/env tags on its
// fields), asks it whether it is on and whether its settings are right, and
// builds the running Adapter from it. Adding a platform is one package and
// one line in main's list of adapters; bot names no platform.
type Config interface {
	// Platform is the name the adapter's chats are stored under.
	Platform() bot.Platform
	// Enabled says whether the settings turn the adapter on (a token is set).
	Enabled() bool
	// Validate reports every wrong setting at once, each naming its variable
	// and never echoing a secret.
	Validate() error
	// Build makes the running adapter. It makes no network call:
	// Adapter.Run connects.
	Build(deps Deps) (*Adapter, error)
}

// Fallback is implemented by an adapter that is on only when no other
// adapter is (the console, in its "auto" mode).
type Fallback interface {
	Fallback() bool
}

// FixedChats is implemented by an adapter whose chats come from its
// configuration rather than from people subscribing (the console, outgoing
// webhooks): they are subscribed at start, and the platform's other
// subscriptions end, also when the adapter is off.
type FixedChats interface {
	FixedChats() []bot.Subscription
}

// CommandHandler answers commands and records membership changes;
// *Service is the one the program uses.
type CommandHandler interface {
	Handle(ctx context.Context, cmd command.Command) (bot.Message, bool)
	ChatGone(ctx context.Context, chat bot.ChatRef) error
	GroupGone(ctx context.Context, p bot.Platform, group string) error
	ChatMigrated(ctx context.Context, from, to bot.ChatRef) error
}

var _ CommandHandler = (*command.Service)(nil)

// Deps is what the program hands an adapter to build it.
type Deps struct {
	Handler CommandHandler
	// Log is tagged with the adapter's platform.
	Log      *slog.Logger
	Clock    clock.Clock
	Delivery DeliverySettings
	// Metrics holds the adapter's own metrics, if any (nil: none).
	Metrics *vm.Set
	// Stdout is the program's standard output (the console writes alerts there).
	Stdout io.Writer
	// Commands is the per-person command limit shared by every adapter
	// (nil: no limit).
	Commands *command.Limiter
	// Fence, if set, is asked right before each command answer whether this
	// replica may still send (Leader.Fence), as delivery asks before an alert.
	Fence func(now time.Time) error
}

// DeliverySettings are the delivery settings shared by every platform.
type DeliverySettings struct {
	MaxAge      time.Duration
	MaxAttempts int
	Workers     int
}

// Policy is DefaultPolicy(rate) with the shared delivery settings applied.
func (s DeliverySettings) Policy(rate float64) delivery.Policy {
	p := delivery.DefaultPolicy(rate)
	if s.MaxAge > 0 {
		p.MaxAge = s.MaxAge
	}
	if s.MaxAttempts > 0 {
		p.MaxAttempts = s.MaxAttempts
	}
	if s.Workers > 0 {
		p.Workers = s.Workers
	}
	return p
}

// Adapter is a built adapter: the delivery channel the dispatcher drains
// (Build fills its Platform) and what runs beside it.
type Adapter struct {
	delivery.Channel
	// Run connects and serves commands until ctx ends (nil: nothing to run).
	// An error stops the program: only a token refused at start should.
	Run func(ctx context.Context) error
	// Shards, when set, reports the gateway shards of a platform that
	// shards its connection (Discord), for /healthz.
	Shards func() []bot.ShardHealth
}
