package console

import (
	"fmt"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// Platform is the name of the console's one chat.
const Platform bot.Platform = "console"

// Kind is the console's chat kind.
const Kind bot.ChatKind = "console"

// Config is the console adapter's configuration, read from the environment by main.
type Config struct {
	// Mode is auto (on when no other adapter is), on or off.
	Mode string `env:"CONSOLE_NOTIFIER" envDefault:"auto"`
}

var (
	_ adapterkit.Config     = (*Config)(nil)
	_ adapterkit.Fallback   = (*Config)(nil)
	_ adapterkit.FixedChats = (*Config)(nil)
)

func (s *Config) Platform() bot.Platform { return Platform }
func (s *Config) Enabled() bool          { return s.Mode == "on" || s.Mode == "auto" }
func (s *Config) Fallback() bool         { return s.Mode == "auto" }

func (s *Config) Validate() error {
	switch s.Mode {
	case "auto", "on", "off":
		return nil
	}
	return fmt.Errorf("CONSOLE_NOTIFIER: %q is not one of auto, on, off", s.Mode)
}

// FixedChats is the one console chat: standard output.
func (s *Config) FixedChats() []bot.Subscription {
	return []bot.Subscription{{Chat: bot.ChatRef{Platform: Platform, ID: ChatID}, Kind: Kind}}
}

// Build makes the notifier writing to the program's standard output.
func (s *Config) Build(deps adapterkit.Deps) (*adapterkit.Adapter, error) {
	p := deps.Delivery.Policy(0)
	p.PerChat, p.Workers = 0, 1
	deps.Log.Info("console notifier on: alerts are printed to stdout")
	return &adapterkit.Adapter{Channel: delivery.Channel{Platform: Platform, Notifier: New(deps.Stdout, deps.Clock.Now), Policy: p}}, nil
}
