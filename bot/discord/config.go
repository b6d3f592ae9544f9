package discord

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
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
		gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xstatusbot_discord_invalid_requests",
			Help: "Answers Discord counts towards its IP ban (401, 403, 429) in the last 10 minutes.",
		}, func() float64 { return float64(a.InvalidRequests()) })
		if err := deps.Metrics.Register(gauge); err != nil {
			return nil, err
		}
		if err := deps.Metrics.Register(ShardCollector(a)); err != nil {
			return nil, err
		}
	}
	return &adapterkit.Adapter{
		Channel: delivery.Channel{Platform: Platform, Notifier: a, Policy: policy, State: a.State},
		Run:     a.Run,
		Shards:  a.Shards,
	}, nil
}

// ShardCollector exposes each gateway shard of a as
// xstatusbot_discord_shard_connected{shard} (1 while its session is up, else
// 0) and xstatusbot_discord_shard_guilds{shard}, read at every scrape.
func ShardCollector(a *Bot) prometheus.Collector { return shardCollector{a} }

var (
	shardConnectedDesc = prometheus.NewDesc("xstatusbot_discord_shard_connected",
		"1 while the Discord gateway session of the shard is up, else 0.", []string{"shard"}, nil)
	shardGuildsDesc = prometheus.NewDesc("xstatusbot_discord_shard_guilds",
		"Servers Discord sends on the shard.", []string{"shard"}, nil)
)

type shardCollector struct{ a *Bot }

func (c shardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- shardConnectedDesc
	ch <- shardGuildsDesc
}

func (c shardCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sh := range c.a.Shards() {
		id := strconv.Itoa(sh.ID)
		up := 0.0
		if sh.State == bot.PlatformReady {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(shardConnectedDesc, prometheus.GaugeValue, up, id)
		ch <- prometheus.MustNewConstMetric(shardGuildsDesc, prometheus.GaugeValue, float64(sh.Guilds), id)
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
