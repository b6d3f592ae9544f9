package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
	"github.com/robfig/cron/v3"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Defaults of the probe: X's web app, API, static and media CDNs. The API
// answers 401 without credentials, which still proves it is serving; the
// media CDN answers 404 for its bare root, which proves the same.
const (
	defaultTargets = "web=https://x.com/," +
		"api=https://api.x.com/2/openapi.json;status=200-299|401|403," +
		"static=https://abs.twimg.com/favicons/twitter.3.ico," +
		"media=https://pbs.twimg.com/;status=200-404"
	defaultControls = "google=https://www.google.com/generate_204," +
		"cloudflare=https://www.cloudflare.com/cdn-cgi/trace," +
		"apple=https://www.apple.com/library/test/success.html"
)

// Config is every setting, read from the environment (and .env).
type Config struct {
	ProbeSchedule     string        `env:"PROBE_SCHEDULE" envDefault:"@every 30s"`
	ProbeTargetsSpec  string        `env:"PROBE_TARGETS"` // default: defaultTargets
	ProbeTimeout      time.Duration `env:"PROBE_TIMEOUT" envDefault:"10s"`
	ProbeRetryDelay   time.Duration `env:"PROBE_RETRY_DELAY" envDefault:"1s"`
	ProbeSlow         time.Duration `env:"PROBE_SLOW" envDefault:"3s"`
	ProbeConfirmDelay time.Duration `env:"PROBE_CONFIRM_DELAY"` // default: defaultConfirmDelay, or the interval when shorter
	ProbeDownAfter    int           `env:"PROBE_DOWN_AFTER" envDefault:"2"`
	ProbeUpAfter      int           `env:"PROBE_UP_AFTER" envDefault:"2"`
	ProbeRegion       string        `env:"PROBE_REGION"` // default: the host name
	// RegionNamed is true when PROBE_REGION was set: only then does the
	// public status page name regions (a default region is the host name).
	RegionNamed             bool          `env:"-"`
	FlapChanges             int           `env:"FLAP_CHANGES" envDefault:"4"`
	FlapWindow              time.Duration `env:"FLAP_WINDOW" envDefault:"30m"`
	DatabaseURL             string        `env:"DATABASE_URL"` // postgres://…; empty: SQLite at DB_PATH
	DBPath                  string        `env:"DB_PATH" envDefault:"data/xstatusbot.db"`
	DBRoundRetention        time.Duration `env:"DB_ROUND_RETENTION" envDefault:"168h"`
	DBOutboxRetention       time.Duration `env:"DB_OUTBOX_RETENTION" envDefault:"720h"`
	HTTPAddr                string        `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	StatusAddr              string        `env:"STATUS_ADDR" envDefault:"off"`
	LogLevel                string        `env:"LOG_LEVEL" envDefault:"info"`
	DeliveryMaxAge          time.Duration `env:"DELIVERY_MAX_AGE" envDefault:"6h"`
	DeliveryAttempts        int           `env:"DELIVERY_MAX_ATTEMPTS" envDefault:"8"`
	DeliveryWorkers         int           `env:"DELIVERY_WORKERS" envDefault:"16"`
	DeliveryShutdownGrace   time.Duration `env:"DELIVERY_SHUTDOWN_GRACE" envDefault:"10s"`
	LeaderLeaseTTL          time.Duration `env:"LEADER_LEASE_TTL" envDefault:"9s"`
	MaxSubscriptionsPerUser int           `env:"MAX_SUBSCRIPTIONS_PER_USER" envDefault:"20"`
	CrowdReports            int           `env:"CROWD_REPORTS" envDefault:"5"`
	CrowdWindow             time.Duration `env:"CROWD_WINDOW" envDefault:"10m"`

	// Adapters are every chat platform with its own settings, read from the
	// same environment; Enabled picks those that are on.
	Adapters []adapterkit.Config `env:"-"`

	// Derived from the settings above by loadConfig.
	Targets  []probe.Target `env:"-"`
	Controls []probe.Target `env:"-"`
	Schedule cron.Schedule  `env:"-"`
	Level    slog.Level     `env:"-"`
}

const controlsKey = "PROBE_CONTROL_TARGETS"

// defaultConfirmDelay is PROBE_CONFIRM_DELAY when it is not set, or the
// schedule's interval when that is shorter: long enough that a blip of a
// second or two does not fail two rounds in a row, short enough that an
// outage is announced within seconds of the round that first saw it.
const defaultConfirmDelay = 5 * time.Second

// loadConfig reads the settings through lookup, with the .env file in the
// working directory as a fallback, and reports every bad setting at once.
func loadConfig(lookup func(string) (string, bool), dotenv string) (Config, error) {
	file := map[string]string{}
	if dotenv != "" {
		src, err := os.ReadFile(dotenv)
		switch {
		case err == nil:
			if file, err = parseDotenv(src); err != nil {
				return Config{}, fmt.Errorf("read %s: %w", dotenv, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return Config{}, fmt.Errorf("read %s: %w", dotenv, err)
		}
	}
	get := func(key string) (string, bool) {
		if v, ok := lookup(key); ok {
			return v, true
		}
		v, ok := file[key]
		return v, ok
	}
	cfg := Config{Adapters: adapters()}
	environ := map[string]string{}
	for _, key := range append(envKeys(cfg.Adapters), controlsKey) {
		if v, ok := get(key); ok {
			environ[key] = v
		}
	}
	var errs []error
	parse := func(target any) {
		if err := env.ParseWithOptions(target, env.Options{Environment: environ}); err != nil {
			errs = append(errs, namedEnvErrors(target, err)...)
		}
	}
	parse(&cfg)
	for _, a := range cfg.Adapters {
		parse(a)
	}
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if s, err := monitor.ParseSchedule(cfg.ProbeSchedule); err != nil {
		bad("PROBE_SCHEDULE", "%v (use a 5-field cron spec or a descriptor such as \"@every 30s\")", err)
	} else {
		cfg.Schedule = s
	}
	if strings.TrimSpace(cfg.ProbeTargetsSpec) == "" {
		cfg.ProbeTargetsSpec = defaultTargets
	}
	var err error
	if cfg.Targets, err = probe.ParseTargets(cfg.ProbeTargetsSpec); err != nil {
		bad("PROBE_TARGETS", "%s", oneLine(err))
	} else if len(cfg.Targets) == 0 {
		bad("PROBE_TARGETS", "no target given")
	}
	controls, set := environ[controlsKey]
	if !set {
		controls = defaultControls
	}
	if cfg.Controls, err = probe.ParseTargets(controls); err != nil {
		bad(controlsKey, "%s", oneLine(err))
	}
	if cfg.ProbeTimeout < 100*time.Millisecond || cfg.ProbeTimeout > 2*time.Minute {
		bad("PROBE_TIMEOUT", "%s is out of range 100ms..2m", cfg.ProbeTimeout)
	}
	if cfg.ProbeRetryDelay < 0 || cfg.ProbeRetryDelay > time.Minute {
		bad("PROBE_RETRY_DELAY", "%s is out of range 0..1m", cfg.ProbeRetryDelay)
	}
	if cfg.ProbeSlow < 0 {
		bad("PROBE_SLOW", "must not be negative (0 disables)")
	}
	if cfg.Schedule != nil {
		interval := monitor.Interval(cfg.Schedule, time.Now())
		switch raw := strings.TrimSpace(environ["PROBE_CONFIRM_DELAY"]); {
		case raw == "":
			cfg.ProbeConfirmDelay = min(defaultConfirmDelay, interval)
		case cfg.ProbeConfirmDelay < 100*time.Millisecond:
			bad("PROBE_CONFIRM_DELAY", "%s is shorter than 100ms (unset, it is %s, or the check interval when shorter)", cfg.ProbeConfirmDelay, defaultConfirmDelay)
		case cfg.ProbeConfirmDelay > interval:
			bad("PROBE_CONFIRM_DELAY", "%s is longer than the check interval (%s, from PROBE_SCHEDULE): a confirming round must come before the next scheduled one; use at most %s, or unset it", cfg.ProbeConfirmDelay, interval, interval)
		}
	}
	if cfg.ProbeDownAfter < 1 || cfg.ProbeDownAfter > 100 {
		bad("PROBE_DOWN_AFTER", "%d is out of range 1..100", cfg.ProbeDownAfter)
	}
	if cfg.ProbeUpAfter < 1 || cfg.ProbeUpAfter > 100 {
		bad("PROBE_UP_AFTER", "%d is out of range 1..100", cfg.ProbeUpAfter)
	}
	if cfg.DatabaseURL != "" && !withPostgres {
		bad("DATABASE_URL", "this build has no PostgreSQL support (built with -tags nopostgres); unset it to use SQLite")
	} else if cfg.DatabaseURL != "" {
		// The URL holds a password: never quoted back.
		if u, err := url.Parse(cfg.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("DATABASE_URL", "is not a postgres://user:password@host:port/database URL (value not shown)")
		}
	}
	if cfg.LeaderLeaseTTL < 3*time.Second || cfg.LeaderLeaseTTL > 5*time.Minute {
		bad("LEADER_LEASE_TTL", "%s is out of range 3s..5m", cfg.LeaderLeaseTTL)
	}
	cfg.RegionNamed = cfg.ProbeRegion != ""
	if cfg.ProbeRegion == "" {
		if cfg.ProbeRegion, err = defaultRegion(os.Hostname()); err != nil {
			bad("PROBE_REGION", "not set, and %v: set it", err)
		}
	} else if !regionName.MatchString(cfg.ProbeRegion) {
		bad("PROBE_REGION", "%q is not 1 to 40 letters, digits, '.', '_' or '-'", cfg.ProbeRegion)
	}
	if strings.TrimSpace(cfg.DBPath) == "" {
		bad("DB_PATH", "must not be empty")
	}
	if cfg.DBRoundRetention < time.Hour {
		bad("DB_ROUND_RETENTION", "%s is shorter than 1h", cfg.DBRoundRetention)
	}
	if cfg.DBOutboxRetention < time.Hour {
		bad("DB_OUTBOX_RETENTION", "%s is shorter than 1h", cfg.DBOutboxRetention)
	}
	for _, a := range []struct{ key, addr string }{{"HTTP_ADDR", cfg.HTTPAddr}, {"STATUS_ADDR", cfg.StatusAddr}} {
		if a.addr == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad(a.key, "%q is not host:port (or \"off\")", a.addr)
		}
	}
	if cfg.StatusAddr != "off" && cfg.StatusAddr == cfg.HTTPAddr {
		bad("STATUS_ADDR", "is the same address as HTTP_ADDR, which serves the status page already")
	}
	if err := cfg.Level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", cfg.LogLevel)
	}
	if cfg.FlapChanges < 0 || cfg.FlapChanges > bot.RecentChanges-1 {
		bad("FLAP_CHANGES", "%d is out of range 0..%d (0 turns the flap rule off)", cfg.FlapChanges, bot.RecentChanges-1)
	}
	if cfg.FlapWindow < time.Minute || cfg.FlapWindow > 24*time.Hour {
		bad("FLAP_WINDOW", "%s is out of range 1m..24h", cfg.FlapWindow)
	}
	if cfg.DeliveryMaxAge < time.Minute {
		bad("DELIVERY_MAX_AGE", "%s is shorter than 1m", cfg.DeliveryMaxAge)
	}
	if cfg.DeliveryAttempts < 1 {
		bad("DELIVERY_MAX_ATTEMPTS", "must be at least 1")
	}
	if cfg.MaxSubscriptionsPerUser < 0 || cfg.MaxSubscriptionsPerUser > 100000 {
		bad("MAX_SUBSCRIPTIONS_PER_USER", "%d is out of range 0..100000 (0: no cap)", cfg.MaxSubscriptionsPerUser)
	}
	if cfg.CrowdReports < 0 || cfg.CrowdReports > 100000 {
		bad("CROWD_REPORTS", "%d is out of range 0..100000 (0 turns the crowd signal off)", cfg.CrowdReports)
	}
	if cfg.CrowdWindow < time.Minute || cfg.CrowdWindow > 24*time.Hour {
		bad("CROWD_WINDOW", "%s is out of range 1m..24h", cfg.CrowdWindow)
	} else if 2*cfg.CrowdWindow > cfg.DBRoundRetention && cfg.DBRoundRetention >= time.Hour {
		bad("CROWD_WINDOW", "%s is more than half of DB_ROUND_RETENTION (%s), which keeps the reports two windows need", cfg.CrowdWindow, cfg.DBRoundRetention)
	}
	if cfg.DeliveryWorkers < 1 || cfg.DeliveryWorkers > 1024 {
		bad("DELIVERY_WORKERS", "%d is out of range 1..1024", cfg.DeliveryWorkers)
	}
	if cfg.DeliveryShutdownGrace < time.Second || cfg.DeliveryShutdownGrace > 5*time.Minute {
		bad("DELIVERY_SHUTDOWN_GRACE", "%s is out of range 1s..5m", cfg.DeliveryShutdownGrace)
	}
	for _, a := range cfg.Adapters {
		if err := a.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	// Values are quoted back to help, but never a URL's credentials, path or
	// query: those may be secrets.
	return cfg, redactErr(errors.Join(errs...))
}

// regionName is what PROBE_REGION accepts: short enough for an alert line,
// plain enough for a Prometheus label and a log.
var regionName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// defaultRegion is the region of a replica without PROBE_REGION: its host
// name (os.Hostname's results), or the host name's first label when the
// whole name is not a valid region.
func defaultRegion(host string, err error) (string, error) {
	if err != nil {
		return "", fmt.Errorf("the host name is unknown (%w)", err)
	}
	if regionName.MatchString(host) {
		return host, nil
	}
	if label, _, _ := strings.Cut(host, "."); regionName.MatchString(label) {
		return label, nil
	}
	return "", fmt.Errorf("the host name %q is not a valid region", host)
}

// Enabled lists the adapters that are on. An adapter that is a fallback
// (the console in its auto mode) is on only when no other adapter is.
func (c Config) Enabled() []adapterkit.Config {
	var on, fallbacks []adapterkit.Config
	for _, a := range c.Adapters {
		if !a.Enabled() {
			continue
		}
		if f, ok := a.(adapterkit.Fallback); ok && f.Fallback() {
			fallbacks = append(fallbacks, a)
			continue
		}
		on = append(on, a)
	}
	if len(on) == 0 {
		return fallbacks
	}
	return on
}

// envKeys lists the variables Config and the adapters read.
func envKeys(adapters []adapterkit.Config) []string {
	keys := structKeys(Config{})
	for _, a := range adapters {
		keys = append(keys, structKeys(a)...)
	}
	return keys
}

func structKeys(v any) []string {
	t := reflect.Indirect(reflect.ValueOf(v)).Type()
	var keys []string
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// namedEnvErrors rewrites the parser's errors to name the variable, not the Go field.
func namedEnvErrors(target any, err error) []error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	t := reflect.Indirect(reflect.ValueOf(target)).Type()
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				out = append(out, fmt.Errorf("%s: cannot parse as %s: %v", key, pe.Type, pe.Err))
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// parseDotenv parses a .env file. The library's errors quote the rest of the
// file (tokens included), so on failure it reports only the line of the bad
// statement: the line after the longest prefix of whole lines that parses.
// Trying every prefix rather than reading the error's text keeps working when
// a quoted value spans lines.
func parseDotenv(src []byte) (map[string]string, error) {
	m, err := godotenv.UnmarshalBytes(src)
	if err == nil {
		return m, nil
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	line := 1
	for k := len(lines) - 1; k > 0; k-- {
		if _, err := godotenv.UnmarshalBytes(bytes.Join(lines[:k], nil)); err == nil {
			line = k + 1
			break
		}
	}
	what := "malformed"
	switch msg := err.Error(); {
	case strings.HasPrefix(msg, "unterminated quoted value"):
		what = "quoted value never closed"
	case strings.HasPrefix(msg, "unexpected character"):
		what = "not a NAME=value line"
	}
	return nil, fmt.Errorf("line %d: %s (value not shown)", line, what)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
