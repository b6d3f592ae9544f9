package telegram

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// Platform is the name Telegram chats are stored under.
const Platform bot.Platform = "telegram"

// Chat kinds, stored with each subscription.
const (
	KindPrivate bot.ChatKind = "private" // a one-to-one chat: its user manages it
	KindGroup   bot.ChatKind = "group"   // a group or supergroup: admins only
	KindChannel bot.ChatKind = "channel" // a channel: only admins can post there
)

// Config is the adapter's configuration, read from the environment by main.
type Config struct {
	Token    adapterkit.Secret `env:"TELEGRAM_BOT_TOKEN"`
	Endpoint string            `env:"TELEGRAM_API_ENDPOINT" envDefault:"https://api.telegram.org/bot%s/%s"`
	Rate     float64           `env:"TELEGRAM_RATE_LIMIT" envDefault:"25"`
	// PaidBroadcast is "on" or "off": on, alerts ask for Telegram's paid
	// broadcast and Rate may go up to PaidRate instead of FreeRate.
	PaidBroadcast string `env:"TELEGRAM_PAID_BROADCAST" envDefault:"off"`
}

var _ adapterkit.Config = (*Config)(nil)

func (s *Config) Platform() bot.Platform { return Platform }

// Enabled: a token turns the adapter on.
func (s *Config) Enabled() bool { return s.Token != "" }

// Validate reports every wrong setting, naming its variable.
func (s *Config) Validate() error {
	var errs []error
	paid, known := false, true
	switch s.PaidBroadcast {
	case "on":
		paid = true
	case "off":
	default:
		known = false
		errs = append(errs, fmt.Errorf("TELEGRAM_PAID_BROADCAST: %q is not one of on, off", s.PaidBroadcast))
	}
	switch {
	case s.Rate <= 0:
		errs = append(errs, errors.New("TELEGRAM_RATE_LIMIT: must be above 0 messages per second"))
	case s.Rate > PaidRate:
		errs = append(errs, fmt.Errorf("TELEGRAM_RATE_LIMIT: %g messages per second is above %d, the most Telegram allows even with paid broadcast",
			s.Rate, PaidRate))
	case s.Rate > FreeRate && known && !paid:
		errs = append(errs, fmt.Errorf("TELEGRAM_RATE_LIMIT: %g messages per second is above Telegram's free limit of about %d while TELEGRAM_PAID_BROADCAST is off: "+
			"Telegram would refuse the excess with 429. Lower TELEGRAM_RATE_LIMIT to %d or less, or set TELEGRAM_PAID_BROADCAST=on to pay Telegram in Stars for up to %d",
			s.Rate, FreeRate, FreeRate, PaidRate))
	}
	check := validateEndpoint(s.Endpoint)
	if s.Enabled() {
		check = s.options().Validate() // the endpoint and the token
	}
	if check != nil {
		errs = append(errs, check)
	}
	if tok := s.Token.Reveal(); tok != "" && !strings.Contains(tok, ":") {
		errs = append(errs, errors.New("TELEGRAM_BOT_TOKEN: does not look like a BotFather token (digits:letters)"))
	}
	return errors.Join(errs...)
}

func (s *Config) options() Options {
	return Options{Token: s.Token, Endpoint: s.Endpoint, PaidBroadcast: s.PaidBroadcast == "on"}
}

// Build makes the adapter. Command answers and alerts share one gate, so
// TELEGRAM_RATE_LIMIT bounds both and answers go first.
func (s *Config) Build(deps adapterkit.Deps) (*adapterkit.Adapter, error) {
	SetLibraryLogger(deps.Log) // the library's logger is process-wide; there is one Telegram adapter
	policy := deps.Delivery.Policy(s.Rate)
	gate := delivery.NewGate(policy, deps.Clock)
	gate.Fence = deps.Fence
	cfg := s.options()
	cfg.Log, cfg.Replier, cfg.Limiter = deps.Log, gate, deps.Commands
	cfg.Panics = adapterkit.NewPanics(deps.Metrics, Platform)
	a := NewBot(cfg, deps.Handler)
	if deps.Metrics != nil {
		deps.Metrics.RegisterMetricsWriter(func(w io.Writer) { WritePaidMetrics(w, a) })
	}
	return &adapterkit.Adapter{
		Channel: delivery.Channel{Platform: Platform, Notifier: a, Policy: policy, Gate: gate, State: a.State},
		Run:     a.Run,
	}, nil
}

// validateEndpoint checks a TELEGRAM_API_ENDPOINT value.
func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	if strings.Count(endpoint, "%s") != 2 || strings.Count(endpoint, "%") != 2 {
		return fmt.Errorf("TELEGRAM_API_ENDPOINT %q must contain exactly two %%s (token, then method), like %q", endpoint, DefaultEndpoint)
	}
	u, err := url.Parse(fmt.Sprintf(endpoint, "TOKEN", "getMe"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("TELEGRAM_API_ENDPOINT %q is not an http(s) URL format", endpoint)
	}
	return nil
}
