package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := loadConfig(lookupFrom(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 4 || len(cfg.Controls) != 3 || cfg.HTTPAddr != "127.0.0.1:8080" || cfg.DBPath != "data/xstatusbot.db" {
		t.Fatalf("defaults %+v", cfg)
	}
	if on := platforms(cfg.Enabled()); on != "console" || cfg.ProbeTimeout != 10*time.Second || cfg.ProbeDownAfter != 2 {
		t.Fatalf("defaults %+v, adapters on: %s", cfg, on)
	}
	if cfg.DeliveryShutdownGrace != 10*time.Second || cfg.DBOutboxRetention != 720*time.Hour {
		t.Fatalf("grace %s, outbox retention %s", cfg.DeliveryShutdownGrace, cfg.DBOutboxRetention)
	}
}

func platforms(as []adapterkit.Config) string {
	var names []string
	for _, a := range as {
		names = append(names, string(a.Platform()))
	}
	return strings.Join(names, ",")
}

// The console is the fallback: on when no chat platform is, unless told.
func TestAdaptersOnBySettings(t *testing.T) {
	const tg = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "console"},
		{map[string]string{"CONSOLE_NOTIFIER": "off"}, ""},
		{map[string]string{"TELEGRAM_BOT_TOKEN": tg}, "telegram"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": tg, "CONSOLE_NOTIFIER": "on"}, "console,telegram"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": tg, "DISCORD_BOT_TOKEN": "discord-token"}, "telegram,discord"},
	} {
		cfg, err := loadConfig(lookupFrom(tc.env), "")
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if got := platforms(cfg.Enabled()); got != tc.want {
			t.Errorf("%v: adapters on %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestConfigTelegramPaidBroadcast: TELEGRAM_RATE_LIMIT above Telegram's
// free 30 a second is refused, naming both settings, unless
// TELEGRAM_PAID_BROADCAST=on, which allows up to 1000; a switch that is
// neither on nor off is refused by name.
func TestConfigTelegramPaidBroadcast(t *testing.T) {
	const tg = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, tc := range []struct {
		paid, rate string
		// want lists what the error must name; nil: accepted.
		want []string
	}{
		{"", "30", nil},
		{"", "1000", []string{"TELEGRAM_RATE_LIMIT:", "TELEGRAM_PAID_BROADCAST"}},
		{"off", "31", []string{"TELEGRAM_RATE_LIMIT:", "TELEGRAM_PAID_BROADCAST"}},
		{"on", "1000", nil},
		{"on", "1001", []string{"TELEGRAM_RATE_LIMIT:", "1000"}},
		{"maybe", "25", []string{"TELEGRAM_PAID_BROADCAST:"}},
	} {
		env := map[string]string{"TELEGRAM_BOT_TOKEN": tg, "TELEGRAM_RATE_LIMIT": tc.rate}
		if tc.paid != "" {
			env["TELEGRAM_PAID_BROADCAST"] = tc.paid
		}
		_, err := loadConfig(lookupFrom(env), "")
		if tc.want == nil {
			if err != nil {
				t.Errorf("paid %q rate %s: %v", tc.paid, tc.rate, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("paid %q rate %s: accepted", tc.paid, tc.rate)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("paid %q rate %s: error %q does not say %q", tc.paid, tc.rate, err, w)
			}
		}
	}
}

func TestEmptyControlTargetsDisableTheCheck(t *testing.T) {
	cfg, err := loadConfig(lookupFrom(map[string]string{"PROBE_CONTROL_TARGETS": ""}), "")
	if err != nil || len(cfg.Controls) != 0 {
		t.Fatalf("controls %+v, %v", cfg.Controls, err)
	}
}

func TestDotEnvIsReadAndRealEnvWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("PROBE_DOWN_AFTER=5\nPROBE_UP_AFTER=4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(lookupFrom(map[string]string{"PROBE_UP_AFTER": "3"}), path)
	if err != nil || cfg.ProbeDownAfter != 5 || cfg.ProbeUpAfter != 3 {
		t.Fatalf("down %d up %d, %v", cfg.ProbeDownAfter, cfg.ProbeUpAfter, err)
	}
}

func TestBadConfigurationNamesEverySetting(t *testing.T) {
	env := map[string]string{
		"PROBE_SCHEDULE":          "every thirty seconds",
		"PROBE_TARGETS":           "ftp://x.com",
		"PROBE_TIMEOUT":           "soon",
		"PROBE_DOWN_AFTER":        "0",
		"LOG_LEVEL":               "loud",
		"HTTP_ADDR":               "8080",
		"CONSOLE_NOTIFIER":        "maybe",
		"TELEGRAM_BOT_TOKEN":      "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"TELEGRAM_RATE_LIMIT":     "-1",
		"DB_OUTBOX_RETENTION":     "30m",
		"DELIVERY_SHUTDOWN_GRACE": "10m",
		"PROBE_REGION":            "eu west",
		"DISCORD_SHARDS":          "0",
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, lookupFrom(env), &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	msg := stderr.String()
	for _, key := range []string{"PROBE_SCHEDULE", "PROBE_TARGETS", "PROBE_TIMEOUT", "PROBE_DOWN_AFTER", "LOG_LEVEL", "HTTP_ADDR", "CONSOLE_NOTIFIER", "TELEGRAM_RATE_LIMIT", "DB_OUTBOX_RETENTION", "DELIVERY_SHUTDOWN_GRACE", "PROBE_REGION", "DISCORD_SHARDS"} {
		if !strings.Contains(msg, key+":") {
			t.Errorf("message does not name %s:\n%s", key, msg)
		}
	}
	if strings.Contains(msg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("token printed in the error:\n%s", msg)
	}
	if strings.Contains(msg, "panic") {
		t.Errorf("panicked:\n%s", msg)
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, lookupFrom(nil), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "unknown command") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

// The dotenv library quotes the rest of the file in its errors; a malformed
// line must be reported by file and line number alone.
func TestMalformedDotEnvNamesTheLineNotTheContent(t *testing.T) {
	// Every line carries a marker word that must not reach the error.
	const token = "123456:AAHsecretTOKENvalue"
	cases := []struct {
		name, body string
		line       int
	}{
		{"bad line after the token", "# settings kiwi\nPROBE_DOWN_AFTER=3\nTELEGRAM_BOT_TOKEN=" + token + "\nLOG_LEVEL=info\n\nbad line mango\nHTTP_ADDR=off\n", 6},
		{"quote never closed", "LOG_LEVEL=info\nDISCORD_BOT_TOKEN=\"guava\nTELEGRAM_BOT_TOKEN=" + token + "\n", 2},
		{"bad line after a multi-line value", "PROBE_TARGETS=\"web=https://papaya.example/\n\"\nTELEGRAM_BOT_TOKEN=" + token + "\n{\"json\": \"melon\"}\n", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig(lookupFrom(nil), path)
			if err == nil {
				t.Fatal("malformed .env accepted")
			}
			want := fmt.Sprintf("read %s: line %d: ", path, tc.line)
			if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(value not shown)") {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
			for _, secret := range []string{token, "AAHsecret", "kiwi", "mango", "guava", "papaya", "melon", "json"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows file content %q: %v", secret, err)
				}
			}
		})
	}
}

// run prints the configuration error on stderr: check all of it, with the
// file where the bot reads it, the working directory.
func TestRunWithMalformedDotEnvShowsNoContent(t *testing.T) {
	t.Chdir(t.TempDir())
	const token = "123456:AAHsecretTOKENvalue"
	body := "TELEGRAM_BOT_TOKEN=" + token + "\nexport PROBE_UP_AFTER=3\n[mango]\nLOG_LEVEL=info\n"
	if err := os.WriteFile(".env", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Should the file ever parse, the bot must not start for real: a
	// cancelled context, no HTTP server, nothing probed outside 127.0.0.1.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	safe := lookupFrom(map[string]string{"HTTP_ADDR": "off", "PROBE_TARGETS": "http://127.0.0.1:1/", "PROBE_CONTROL_TARGETS": "", "DB_PATH": "bot.db"})
	var stdout, stderr bytes.Buffer
	code := run(ctx, nil, safe, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String() + stderr.String()
	if !strings.Contains(out, "read .env: line 3: ") {
		t.Errorf("output does not name .env line 3:\n%s", out)
	}
	for _, secret := range []string{token, "AAHsecret", "mango", "PROBE_UP_AFTER", "TELEGRAM_BOT_TOKEN"} {
		if strings.Contains(out, secret) {
			t.Errorf("output shows file content %q:\n%s", secret, out)
		}
	}
}

func TestDurationSettingsBounds(t *testing.T) {
	cases := []struct {
		key, value string
		ok         bool
	}{
		{"DELIVERY_SHUTDOWN_GRACE", "1s", true},
		{"DELIVERY_SHUTDOWN_GRACE", "5m", true},
		{"DELIVERY_SHUTDOWN_GRACE", "999ms", false},
		{"DELIVERY_SHUTDOWN_GRACE", "5m1s", false},
		{"DELIVERY_SHUTDOWN_GRACE", "ten seconds", false},
		{"DB_OUTBOX_RETENTION", "1h", true},
		{"DB_OUTBOX_RETENTION", "59m", false},
		{"DB_OUTBOX_RETENTION", "-1h", false},
		{"FLAP_WINDOW", "1m", true},
		{"FLAP_WINDOW", "24h", true},
		{"FLAP_WINDOW", "59s", false},
		{"FLAP_WINDOW", "25h", false},
		{"FLAP_CHANGES", "0", true},
		{"FLAP_CHANGES", "63", true},
		{"FLAP_CHANGES", "-1", false},
		{"FLAP_CHANGES", "64", false},
		{"LEADER_LEASE_TTL", "3s", true},
		{"LEADER_LEASE_TTL", "5m", true},
		{"LEADER_LEASE_TTL", "2s", false},
		{"LEADER_LEASE_TTL", "6m", false},
		{"CROWD_REPORTS", "0", true},
		{"CROWD_REPORTS", "100000", true},
		{"CROWD_REPORTS", "-1", false},
		{"CROWD_REPORTS", "many", false},
		{"CROWD_WINDOW", "1m", true},
		{"CROWD_WINDOW", "24h", true},
		{"CROWD_WINDOW", "59s", false},
		{"CROWD_WINDOW", "25h", false},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := loadConfig(lookupFrom(map[string]string{tc.key: tc.value}), "")
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.key+":")) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
}

// TestCrowdWindowFitsTheRetention: the reports two windows need must
// outlive the pruning of rounds, which prunes them too.
func TestCrowdWindowFitsTheRetention(t *testing.T) {
	_, err := loadConfig(lookupFrom(map[string]string{"CROWD_WINDOW": "2h", "DB_ROUND_RETENTION": "3h"}), "")
	if err == nil || !strings.Contains(err.Error(), "CROWD_WINDOW:") || !strings.Contains(err.Error(), "DB_ROUND_RETENTION") {
		t.Fatalf("error %v, want one naming CROWD_WINDOW and DB_ROUND_RETENTION", err)
	}
	if _, err := loadConfig(lookupFrom(map[string]string{"CROWD_WINDOW": "2h", "DB_ROUND_RETENTION": "4h"}), ""); err != nil {
		t.Fatalf("a window of half the retention refused: %v", err)
	}
}

func TestStatusAddrMustDifferFromHTTPAddr(t *testing.T) {
	_, err := loadConfig(lookupFrom(map[string]string{"HTTP_ADDR": "127.0.0.1:8080", "STATUS_ADDR": "127.0.0.1:8080"}), "")
	if err == nil || !strings.Contains(err.Error(), "STATUS_ADDR:") {
		t.Fatalf("error %v, want one naming STATUS_ADDR", err)
	}
	if _, err := loadConfig(lookupFrom(map[string]string{"STATUS_ADDR": "0.0.0.0:8081"}), ""); err != nil {
		t.Fatalf("a public page address was refused: %v", err)
	}
	if _, err := loadConfig(lookupFrom(map[string]string{"STATUS_ADDR": "8081"}), ""); err == nil || !strings.Contains(err.Error(), "STATUS_ADDR:") {
		t.Fatalf("error %v, want one naming STATUS_ADDR", err)
	}
}

func TestDatabaseURLIsCheckedAndNeverShown(t *testing.T) {
	const password = "s3cr3t-Pa55"
	if !withPostgres { // go test -tags nopostgres
		_, err := loadConfig(lookupFrom(map[string]string{"DATABASE_URL": "postgres://bot:" + password + "@127.0.0.1:5432/x"}), "")
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL: this build has no PostgreSQL support") {
			t.Fatalf("error %v, want DATABASE_URL refused by a build without PostgreSQL", err)
		}
		bottest.AssertNoSecret(t, password, err.Error())
		return
	}
	for _, bad := range []string{
		"mysql://bot:" + password + "@127.0.0.1/x",
		"postgres://bot:" + password + "@/x",
		"bot:" + password + "@127.0.0.1:5432/x",
		"postgres://bot:" + password + "@127.0.0.1:5432/x\x7f%zz",
	} {
		_, err := loadConfig(lookupFrom(map[string]string{"DATABASE_URL": bad}), "")
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL:") {
			t.Fatalf("%q: error %v, want one naming DATABASE_URL", bad, err)
		}
		bottest.AssertNoSecret(t, password, err.Error())
	}
	for _, good := range []string{"postgres://bot:" + password + "@127.0.0.1:5432/x", "postgresql://db.internal/x?sslmode=require"} {
		if _, err := loadConfig(lookupFrom(map[string]string{"DATABASE_URL": good}), ""); err != nil {
			t.Fatalf("refused a good URL: %v", err)
		}
	}
}

func TestProbeRegion(t *testing.T) {
	for _, tc := range []struct{ value, want, err string }{
		{"eu-west", "eu-west", ""},
		{"fra1.example_2", "fra1.example_2", ""},
		{strings.Repeat("a", 40), strings.Repeat("a", 40), ""},
		{strings.Repeat("a", 41), "", "is not 1 to 40"},
		{"eu west", "", "is not 1 to 40"},
		{"région", "", "is not 1 to 40"},
	} {
		cfg, err := loadConfig(lookupFrom(map[string]string{"PROBE_REGION": tc.value}), "")
		switch {
		case tc.err == "" && (err != nil || cfg.ProbeRegion != tc.want):
			t.Errorf("PROBE_REGION=%q: region %q, %v; want %q", tc.value, cfg.ProbeRegion, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), "PROBE_REGION: ") || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("PROBE_REGION=%q: %v; want an error naming the setting and saying %q", tc.value, err, tc.err)
		}
	}
	// Unset, it is the host name, or its first label when the name is too long.
	if host, err := os.Hostname(); err == nil {
		want, _ := defaultRegion(host, nil)
		if cfg, err := loadConfig(lookupFrom(nil), ""); err != nil || cfg.ProbeRegion != want || want == "" {
			t.Errorf("default region %q, %v; want %q from host name %q", cfg.ProbeRegion, err, want, host)
		}
	}
	long := "replica-1." + strings.Repeat("x", 40) + ".internal"
	for _, tc := range []struct {
		host string
		err  error
		want string
	}{
		{"bot-1", nil, "bot-1"},
		{"bot-1.eu.example.com", nil, "bot-1.eu.example.com"},
		{long, nil, "replica-1"},
		{"", nil, ""},
		{"ordinateur-de-zoé", nil, ""},
		{"", errors.New("uname failed"), ""},
	} {
		got, err := defaultRegion(tc.host, tc.err)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("defaultRegion(%q, %v) = %q, %v; want %q", tc.host, tc.err, got, err, tc.want)
		}
	}
}

// TestConfirmDelay: unset, it is 5 s, or the interval when that is shorter;
// set, it must lie between 100ms and the interval, and a bad value is named
// with the interval it was checked against.
func TestConfirmDelay(t *testing.T) {
	for _, tc := range []struct {
		schedule, value string
		want            time.Duration
		err             string
	}{
		{"", "", 5 * time.Second, ""},
		{"@every 1s", "", time.Second, ""},
		{"@every 30s", "", 5 * time.Second, ""},
		{"", "", 5 * time.Second, ""},
		{"@every 30s", "30s", 30 * time.Second, ""},
		{"@every 30s", "2s", 2 * time.Second, ""},
		{"@every 30s", "31s", 0, "PROBE_CONFIRM_DELAY: 31s is longer than the check interval (30s, from PROBE_SCHEDULE)"},
		{"@every 1s", "5s", 0, "PROBE_CONFIRM_DELAY: 5s is longer than the check interval (1s, from PROBE_SCHEDULE)"},
		{"@every 30s", "0s", 0, "PROBE_CONFIRM_DELAY: 0s is shorter than 100ms"},
		{"@every 30s", "-1s", 0, "PROBE_CONFIRM_DELAY: -1s is shorter than 100ms"},
		{"@every 30s", "soon", 0, "PROBE_CONFIRM_DELAY: cannot parse"},
	} {
		t.Run(tc.schedule+" "+tc.value, func(t *testing.T) {
			env := map[string]string{"PROBE_CONFIRM_DELAY": tc.value}
			if tc.schedule != "" {
				env["PROBE_SCHEDULE"] = tc.schedule
			}
			cfg, err := loadConfig(lookupFrom(env), "")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ProbeConfirmDelay != tc.want {
				t.Fatalf("PROBE_CONFIRM_DELAY %s, want %s", cfg.ProbeConfirmDelay, tc.want)
			}
		})
	}
}

// Configuration errors name the setting and the host, never a URL's user
// info, path or query: a probe target's API key, a proxy's password, a bot
// token written into TELEGRAM_API_ENDPOINT's path.
func TestConfigErrorsHideURLSecrets(t *testing.T) {
	const secret = "s3cr3t-K3y"
	for _, tc := range []struct{ key, value, want string }{
		{"PROBE_TARGETS", "web=https://x.com/?key=" + secret + ";colour=red", "https://x.com/…"},
		{"PROBE_TARGETS", "api=https://bot:" + secret + "@api.x.com:8443/2/tweets;nope", "https://api.x.com:8443/…"},
		{"PROBE_TARGETS", "web=https://x.com/" + secret + "/home;status=abc", "https://x.com/…"},
		{"PROBE_CONTROL_TARGETS", "ctrl=https://u:" + secret + "@example.com/;bad", "https://example.com/…"},
		{"TELEGRAM_API_ENDPOINT", "https://proxy:" + secret + "@tg.example.net/bot%s/" + secret, "https://tg.example.net/…"},
		{"DISCORD_API_URL", "ftp://u:" + secret + "@discord.example.net/" + secret, "ftp://discord.example.net/…"},
	} {
		_, err := loadConfig(lookupFrom(map[string]string{tc.key: tc.value}), "")
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Fatalf("%s=%q: %v; want an error naming %s", tc.key, tc.value, err, tc.key)
		}
		bottest.AssertNoSecret(t, secret, err.Error())
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q does not name the host as %q", tc.key, err, tc.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"no url here":                              "no url here",
		`"https://x.com"`:                          `"https://x.com"`,
		"https://a:b@h:1/p?q#f and http://h2/":     "https://h:1/… and http://h2/…",
		"web=https://x.com/home,api=https://y.com": "web=https://x.com/…,api=https://y.com",
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// Unset, PROBE_REGION is the host name: the public page (its board) then
// names no region; set, it does.
func TestPageNamesRegionsOnlyWhenProbeRegionIsSet(t *testing.T) {
	type regioned interface{ Regions() []bot.RegionVerdict }
	mon := monitor.New(monitor.Config{})
	unset, err := loadConfig(lookupFrom(nil), "")
	if err != nil {
		t.Skipf("no default region on this host: %v", err)
	}
	if _, ok := pageSource(unset, mon).(regioned); ok || unset.RegionNamed {
		t.Error("the page's board reads region names while PROBE_REGION is unset (they would be host names)")
	}
	// What else the board reads stays: when the state began, people's reports.
	if _, ok := pageSource(unset, mon).(interface {
		Began() time.Time
		Crowd() bot.Crowd
	}); !ok {
		t.Error("without region names the board lost the state's beginning or people's reports")
	}
	set, err := loadConfig(lookupFrom(map[string]string{"PROBE_REGION": "eu-west"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pageSource(set, mon).(regioned); !ok {
		t.Error("the page's board hides region names though PROBE_REGION is set")
	}
}
