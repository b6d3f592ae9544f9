package discord

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
)

// Platform is the name Discord channels are stored under.
const Platform bot.Platform = "discord"

// Chat kinds, stored with each subscription.
const (
	KindServer  bot.ChatKind = "server"  // a server channel: Manage Channels or Administrator
	KindPrivate bot.ChatKind = "private" // a direct message: /status and /help only
)

// Config is the adapter's configuration, read from the environment by main.
type Config struct {
	Token  adapterkit.Secret `env:"DISCORD_BOT_TOKEN"`
	APIURL string            `env:"DISCORD_API_URL" envDefault:"https://discord.com/"`
	Rate   float64           `env:"DISCORD_RATE_LIMIT" envDefault:"50"`
	// Shards is "auto" (as many gateway shards as Discord recommends) or a
	// number; see ParseShards.
	Shards string `env:"DISCORD_SHARDS" envDefault:"auto"`
}

var _ adapterkit.Config = (*Config)(nil)

func (s *Config) Platform() bot.Platform { return Platform }

// Enabled: a token turns the adapter on.
func (s *Config) Enabled() bool { return s.Token != "" }

// Validate reports every wrong setting, naming its variable.
func (s *Config) Validate() error {
	var errs []error
	if s.Rate <= 0 {
		errs = append(errs, errors.New("DISCORD_RATE_LIMIT: must be above 0 requests per second"))
	}
	if err := ValidateAPIURL(s.APIURL); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseShards(s.Shards); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build makes the adapter and registers its invalid-request gauge and its
// per-shard gauges.
func (s *Config) Build(deps adapterkit.Deps) (*adapterkit.Adapter, error) {
	shards, err := ParseShards(s.Shards)
	if err != nil {
		return nil, err
	}
	a := NewBot(Options{Token: s.Token, APIURL: s.APIURL, Log: deps.Log, Clock: deps.Clock,
		Limiter: deps.Commands, Panics: adapterkit.NewPanics(deps.Metrics, Platform), Shards: shards}, deps.Handler)
	policy := deps.Delivery.Policy(s.Rate)
	policy.PerChat = 0 // discordgo keeps Discord's per-route buckets itself
	if deps.Metrics != nil {
		// Answers Discord counts towards its IP ban (401, 403, 429) in the last 10 minutes.
		const invalid = "xstatusbot_discord_invalid_requests"
		if slices.Contains(deps.Metrics.ListMetricNames(), invalid) {
			return nil, fmt.Errorf("discord: metric %s is already in the set", invalid)
		}
		deps.Metrics.NewGauge(invalid, func() float64 { return float64(a.InvalidRequests()) })
		deps.Metrics.RegisterMetricsWriter(func(w io.Writer) { WriteShardMetrics(w, a) })
	}
	return &adapterkit.Adapter{
		Channel: delivery.Channel{Platform: Platform, Notifier: a, Policy: policy, State: a.State},
		Run:     a.Run,
		Shards:  a.Shards,
	}, nil
}

// WriteShardMetrics writes each gateway shard of a as
// xstatusbot_discord_shard_connected{shard} (1 while the Discord gateway
// session of the shard is up, else 0) and xstatusbot_discord_shard_guilds{shard}
// (servers Discord sends on the shard), read at every scrape; nothing
// before the shards exist.
func WriteShardMetrics(w io.Writer, a *Bot) {
	shards := a.Shards()
	if len(shards) == 0 {
		return
	}
	const connected, guilds = "xstatusbot_discord_shard_connected", "xstatusbot_discord_shard_guilds"
	vm.WriteMetadataIfNeeded(w, connected, "gauge")
	for _, sh := range shards {
		up := 0
		if sh.State == bot.PlatformReady {
			up = 1
		}
		fmt.Fprintf(w, "%s %d\n", metrics.Name(connected, "shard", strconv.Itoa(sh.ID)), up)
	}
	vm.WriteMetadataIfNeeded(w, guilds, "gauge")
	for _, sh := range shards {
		fmt.Fprintf(w, "%s %d\n", metrics.Name(guilds, "shard", strconv.Itoa(sh.ID)), sh.Guilds)
	}
}

// ValidateAPIURL checks a DISCORD_API_URL value, for configuration loading.
func ValidateAPIURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("DISCORD_API_URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("DISCORD_API_URL: want an http(s) URL like %s, got %q", DefaultAPIURL, raw)
	}
	return nil
}
