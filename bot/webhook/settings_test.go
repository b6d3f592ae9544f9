package webhook

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

func TestValidateNamesEveryBadEntryWithoutTheURL(t *testing.T) {
	const tok = "T0/B0/" + secretMark
	entries := []string{
		"slack=https://hooks.slack.com/services/" + tok + "a",   // 1 ok
		"slack=http://hooks.slack.com/services/" + tok + "b",    // 2 http to a public host
		"https://hooks.slack.com/services/" + tok + "a",         // 3 same URL as 1
		"teams=https://example.com/" + secretMark,               // 4 unknown kind
		"hooks.slack.com/services/" + tok + "c?x=" + secretMark, // 5 no scheme
		"",                                   // 6 blank: skipped
		"json=ftp://127.0.0.1/" + secretMark, // 7 not http(s)
		"discord=https://discord.com/api/webhooks/1/" + secretMark, // 8 ok
		"json=", // 9 no URL
		"http://localhost:8080/hook/" + secretMark,                     // 10 ok: loopback
		"https://example.com/h#" + secretMark,                          // 11 fragment
		"http://[::1]:9/h/" + secretMark,                               // 12 ok: loopback
		"JSON=https://example.com/" + secretMark + "?a=b",              // 13 ok: kind is case-blind
		"https://discord.com/api/webhooks/1/" + secretMark + "?a=b,x=", // 14 and 15: a comma splits
	}
	err := Config{URLs: adapterkit.Secret(strings.Join(entries, ",")), Rate: 5}.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad entries")
	}
	msg := err.Error()
	assertNoSecret(t, "the validation error", msg)
	want := []string{
		"WEBHOOK_URLS entry 2 (slack): not an https URL",
		"WEBHOOK_URLS entry 3 (slack): same URL as entry 1",
		`WEBHOOK_URLS entry 4: unknown kind "teams"`,
		"WEBHOOK_URLS entry 5: not a URL",
		"WEBHOOK_URLS entry 7 (json): not an https URL",
		"WEBHOOK_URLS entry 9 (json): not a URL",
		"WEBHOOK_URLS entry 11 (json): has a #fragment",
		"WEBHOOK_URLS entry 15: unknown kind",
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if got := strings.Count(msg, "WEBHOOK_URLS entry"); got != len(want) {
		t.Errorf("%d entries reported, want %d:\n%s", got, len(want), msg)
	}
	for _, ok := range []string{"entry 1 ", "entry 6", "entry 8", "entry 10", "entry 12", "entry 13", "entry 14"} {
		if strings.Contains(msg, ok) {
			t.Errorf("good entry reported (%s):\n%s", ok, msg)
		}
	}
}

func TestValidateRate(t *testing.T) {
	for _, rate := range []float64{0, -1} {
		err := Config{URLs: "json=https://example.com/h", Rate: rate}.Validate()
		if err == nil || !strings.Contains(err.Error(), "WEBHOOK_RATE_LIMIT") {
			t.Errorf("rate %v: %v", rate, err)
		}
	}
	if err := (Config{Rate: 0}).Validate(); err != nil {
		t.Errorf("disabled adapter with no rate: %v", err)
	}
	if _, err := New(Config{URLs: "json=https://example.com/h", Rate: -1}, nil, nil); err == nil {
		t.Error("New accepted a bad rate")
	}
}

func TestKindGuessAndIDs(t *testing.T) {
	idPattern := regexp.MustCompile(`^(slack|discord|json)-[0-9a-f]{12}$`)
	cases := []struct{ raw, kind string }{
		{"https://hooks.slack.com/services/T/B/" + secretMark, KindSlack},
		{"https://discord.com/api/webhooks/1/" + secretMark, KindDiscord},
		{"https://discordapp.com/api/webhooks/1/" + secretMark, KindDiscord},
		{"https://canary.discord.com/api/v10/webhooks/1/" + secretMark, KindDiscord},
		{"https://discord.com/channels/1/" + secretMark, KindJSON}, // not a webhook path
		{"https://example.com/slack/" + secretMark, KindJSON},
		{"slack=https://example.com/relay/" + secretMark, KindSlack}, // an explicit kind wins
		{" discord = https://example.com/relay/" + secretMark + " ", KindDiscord},
	}
	seen := map[string]string{}
	for _, c := range cases {
		id := idOf(t, c.raw)
		if !idPattern.MatchString(id) || !strings.HasPrefix(id, c.kind+"-") {
			t.Errorf("%q: id %q, want kind %s", c.raw, id, c.kind)
		}
		assertNoSecret(t, "the id", id)
		if again := idOf(t, c.raw); again != id {
			t.Errorf("%q: id not stable: %s then %s", c.raw, id, again)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("%q and %q share id %s", prev, c.raw, id)
		}
		seen[id] = c.raw
	}
	// The same URL with a different token is another receiver.
	if idOf(t, "https://hooks.slack.com/services/T/B/a") == idOf(t, "https://hooks.slack.com/services/T/B/b") {
		t.Error("different URLs share an id")
	}
}

func TestSubscriptionsAndPolicy(t *testing.T) {
	s := Config{URLs: "slack=https://hooks.slack.com/services/a, ,json=https://example.com/b", Rate: 4}
	if !s.Enabled() || (Config{URLs: "  "}).Enabled() {
		t.Error("Enabled wrong")
	}
	subs := s.Subscriptions()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions, want 2", len(subs))
	}
	for _, sub := range subs {
		if sub.Chat.Platform != Platform || sub.Kind != Kind || sub.Lang != "" || sub.Group != "" {
			t.Errorf("subscription %+v", sub)
		}
	}
	p := s.Policy()
	if p.PerChat != 250*time.Millisecond || p.Rate != 0 {
		t.Errorf("policy PerChat %v Rate %v, want 250ms and no platform ceiling", p.PerChat, p.Rate)
	}
	if want := delivery.DefaultPolicy(0); p.MaxAttempts != want.MaxAttempts || p.MaxAge != want.MaxAge {
		t.Errorf("policy %+v strays from the default %+v", p, want)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	var s Config
	if err := env.ParseWithOptions(&s, env.Options{Environment: map[string]string{"WEBHOOK_URLS": "json=https://example.com/" + secretMark}}); err != nil {
		t.Fatal(err)
	}
	if s.Rate != 5 || s.URLs.Reveal() != "json=https://example.com/"+secretMark || !s.Enabled() {
		t.Errorf("parsed %v, rate %v", s.URLs.Reveal(), s.Rate)
	}
	assertNoSecret(t, "the settings printed", fmt.Sprintf("%v %+v", s, s))
}
