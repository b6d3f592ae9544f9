package webhook

import (
	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

var (
	_ adapterkit.Config     = (*Config)(nil)
	_ adapterkit.FixedChats = (*Config)(nil)
)

func (s *Config) Platform() bot.Platform { return Platform }

// FixedChats are the configured webhooks: one subscription per entry.
func (s *Config) FixedChats() []bot.Subscription {
	if !s.Enabled() {
		return nil
	}
	return s.Subscriptions()
}

// Build makes the notifier. Each URL is its own chat, held to
// WEBHOOK_RATE_LIMIT messages per second.
func (s *Config) Build(deps adapterkit.Deps) (*adapterkit.Adapter, error) {
	n, err := New(*s, nil, deps.Log)
	if err != nil {
		return nil, err
	}
	p := deps.Delivery.Policy(0)
	p.PerChat = s.Policy().PerChat
	return &adapterkit.Adapter{Channel: delivery.Channel{Platform: Platform, Notifier: n, Policy: p}}, nil
}
