// Package webhook is the outgoing-webhook adapter: each configured URL (a
// Slack incoming webhook, a Discord webhook or any endpoint taking JSON) is
// one subscribed "chat" that receives every alert. It has no commands.
package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// Platform is the adapter's name in subscriptions, outbox rows, logs and metrics.
const Platform bot.Platform = "webhook"

// Kind is the chat kind of every webhook subscription: configured by the
// operator, never managed by commands. A kind of its own, rather than
// the console's kind, keeps the console's rules and the webhook's apart.
const Kind bot.ChatKind = "webhook"

// The payload formats a URL can receive.
const (
	KindSlack   = "slack"
	KindDiscord = "discord"
	KindJSON    = "json"
)

const (
	envURLs = "WEBHOOK_URLS"
	envRate = "WEBHOOK_RATE_LIMIT"
)

// Config is the adapter's configuration, read with caarlos0/env.
type Config struct {
	// URLs is a comma-separated list of KIND=URL or plain URLs. It is a
	// secret: Slack's and Discord's webhook URLs carry their token.
	URLs adapterkit.Secret `env:"WEBHOOK_URLS"`
	// Rate is the most messages per second sent to any one URL.
	Rate float64 `env:"WEBHOOK_RATE_LIMIT" envDefault:"5"`
}

// target is one parsed entry of WEBHOOK_URLS.
type target struct {
	id   string // stable, not secret: kind + "-" + 12 hex of sha256(url)
	kind string
	url  *url.URL
}

// Enabled reports whether any webhook is configured.
func (s Config) Enabled() bool { return strings.TrimSpace(s.URLs.Reveal()) != "" }

// Validate reports every bad entry and setting at once. Messages name the
// variable, the entry's position (from 1) and its kind, never the URL.
func (s Config) Validate() error {
	_, err := s.targets()
	if s.Enabled() && (!(s.Rate > 0) || math.IsInf(s.Rate, 0)) {
		err = errors.Join(err, fmt.Errorf("%s: must be a positive number of messages per second", envRate))
	}
	return err
}

// Subscriptions lists one subscription per valid entry, for the caller to
// keep in the store (and to remove the ones that left the list).
func (s Config) Subscriptions() []bot.Subscription {
	ts, _ := s.targets()
	subs := make([]bot.Subscription, 0, len(ts))
	for _, t := range ts {
		subs = append(subs, bot.Subscription{Chat: bot.ChatRef{Platform: Platform, ID: t.id}, Kind: Kind})
	}
	return subs
}

// Policy is the delivery policy: no platform-wide ceiling (each URL is its
// own receiver), Rate messages per second per URL.
func (s Config) Policy() delivery.Policy {
	p := delivery.DefaultPolicy(0)
	if s.Rate > 0 && !math.IsInf(s.Rate, 0) {
		p.PerChat = time.Duration(float64(time.Second) / s.Rate)
	}
	return p
}

// targets parses WEBHOOK_URLS. Blank entries (a trailing comma) are
// skipped but still counted, so positions match what the operator wrote.
func (s Config) targets() ([]target, error) {
	var (
		out  []target
		errs []error
		seen = map[string]int{}
	)
	for i, raw := range strings.Split(s.URLs.Reveal(), ",") {
		pos := i + 1
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t, err := parseEntry(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s entry %d%s", envURLs, pos, err.Error()))
			continue
		}
		key := t.url.String()
		if first, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s entry %d (%s): same URL as entry %d", envURLs, pos, t.kind, first))
			continue
		}
		seen[key] = pos
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// entryError is a problem with one entry; its text starts with the kind, if known.
type entryError struct{ kind, why string }

func (e entryError) Error() string {
	if e.kind == "" {
		return ": " + e.why
	}
	return fmt.Sprintf(" (%s): %s", e.kind, e.why)
}

// parseEntry reads "KIND=URL" or a plain URL. Error texts never contain the URL.
func parseEntry(raw string) (target, error) {
	kind, rest, explicit := "", raw, false
	if k, v, ok := strings.Cut(raw, "="); ok && !strings.Contains(k, "://") {
		k = strings.TrimSpace(k)
		if !isWord(k) {
			return target{}, entryError{why: "not a URL and not KIND=URL"}
		}
		kind, rest, explicit = strings.ToLower(k), strings.TrimSpace(v), true
		if kind != KindSlack && kind != KindDiscord && kind != KindJSON {
			return target{}, entryError{why: fmt.Sprintf("unknown kind %q (want slack, discord or json)", k)}
		}
	}
	u, err := url.Parse(rest)
	if err != nil || u.Host == "" || u.Scheme == "" || u.Opaque != "" {
		return target{}, entryError{kind: kind, why: "not a URL"}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if !explicit {
		kind = guessKind(u)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		// Plain HTTP only to this machine, for tests and local relays.
	default:
		return target{}, entryError{kind: kind, why: "not an https URL (http:// is allowed only for 127.0.0.1 and localhost)"}
	}
	if u.Fragment != "" {
		return target{}, entryError{kind: kind, why: "has a #fragment, which is never sent"}
	}
	sum := sha256.Sum256([]byte(u.String()))
	return target{id: kind + "-" + hex.EncodeToString(sum[:])[:12], kind: kind, url: u}, nil
}

// guessKind tells a plain URL's kind by its host.
func guessKind(u *url.URL) string {
	host := u.Hostname()
	switch {
	case host == "hooks.slack.com":
		return KindSlack
	case (host == "discord.com" || host == "discordapp.com" || strings.HasSuffix(host, ".discord.com")) &&
		isDiscordWebhookPath(u.Path):
		return KindDiscord
	default:
		return KindJSON
	}
}

// isDiscordWebhookPath matches /api/webhooks/… and the versioned /api/v10/webhooks/….
func isDiscordWebhookPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/api/")
	if !ok {
		return false
	}
	if v, after, ok := strings.Cut(rest, "/"); ok && len(v) > 1 && v[0] == 'v' && strings.Trim(v[1:], "0123456789") == "" {
		rest = after
	}
	return strings.HasPrefix(rest, "webhooks/")
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// isWord reports whether s looks like a kind, so only such text is echoed in errors.
func isWord(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
