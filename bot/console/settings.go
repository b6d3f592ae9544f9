package console

import (
	"fmt"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// Platform is the name of the console's one chat.
const Platform bot.Platform = "console"

// Kind is the console's chat kind.
const Kind bot.ChatKind = "console"

// Settings are the console adapter's settings.
type Settings struct {
	// Mode is auto (on when no other adapter is), on or off.
	Mode string `env:"CONSOLE_NOTIFIER" envDefault:"auto"`
}

var (
	_ adapterkit.Adapter    = (*Settings)(nil)
	_ adapterkit.Fallback   = (*Settings)(nil)
	_ adapterkit.FixedChats = (*Settings)(nil)
)

func (s *Settings) Platform() bot.Platform { return Platform }
func (s *Settings) Enabled() bool          { return s.Mode == "on" || s.Mode == "auto" }
func (s *Settings) Fallback() bool         { return s.Mode == "auto" }

func (s *Settings) Validate() error {
	switch s.Mode {
	case "auto", "on", "off":
		return nil
	}
	return fmt.Errorf("CONSOLE_NOTIFIER: %q is not one of auto, on, off", s.Mode)
}

// FixedChats is the one console chat: standard output.
func (s *Settings) FixedChats() []bot.Subscription {
	return []bot.Subscription{{Chat: bot.ChatRef{Platform: Platform, ID: ChatID}, Kind: Kind}}
}

// Build makes the notifier writing to the program's standard output.
func (s *Settings) Build(deps adapterkit.Deps) (*adapterkit.Plugin, error) {
	p := deps.Delivery.Policy(0)
	p.PerChat, p.Workers = 0, 1
	deps.Log.Info("console notifier on: alerts are printed to stdout")
	return &adapterkit.Plugin{Notifier: New(deps.Stdout, deps.Clock.Now), Policy: p}, nil
}
