package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if !cfg.consoleOn() || cfg.ProbeTimeout != 10*time.Second || cfg.ProbeDownAfter != 2 || cfg.TelegramRate != 25 {
		t.Fatalf("defaults %+v", cfg)
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
		"PROBE_SCHEDULE":      "every thirty seconds",
		"PROBE_TARGETS":       "ftp://x.com",
		"PROBE_TIMEOUT":       "soon",
		"PROBE_DOWN_AFTER":    "0",
		"LOG_LEVEL":           "loud",
		"HTTP_ADDR":           "8080",
		"CONSOLE_NOTIFIER":    "maybe",
		"TELEGRAM_BOT_TOKEN":  "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"TELEGRAM_RATE_LIMIT": "-1",
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, lookupFrom(env), &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	msg := stderr.String()
	for _, key := range []string{"PROBE_SCHEDULE", "PROBE_TARGETS", "PROBE_TIMEOUT", "PROBE_DOWN_AFTER", "LOG_LEVEL", "HTTP_ADDR", "CONSOLE_NOTIFIER", "TELEGRAM_RATE_LIMIT"} {
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
