package webhook

import (
	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

var (
	_ adapterkit.Adapter    = (*Settings)(nil)
	_ adapterkit.FixedChats = (*Settings)(nil)
)

func (s *Settings) Platform() bot.Platform { return Platform }

// FixedChats are the configured webhooks: one subscription per entry.
func (s *Settings) FixedChats() []bot.Subscription {
	if !s.Enabled() {
		return nil
	}
	return s.Subscriptions()
}

// Build makes the notifier. Each URL is its own chat, held to
// WEBHOOK_RATE_LIMIT messages per second.
func (s *Settings) Build(deps adapterkit.Deps) (*adapterkit.Plugin, error) {
	n, err := New(*s, nil, deps.Log)
	if err != nil {
		return nil, err
	}
	p := deps.Delivery.Policy(0)
	p.PerChat = s.Policy().PerChat
	return &adapterkit.Plugin{Notifier: n, Policy: p}, nil
}
