package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvExampleMatchesConfig keeps .env.example in step with the code: it
// parses as the defaults, and it names every setting the bot reads.
func TestEnvExampleMatchesConfig(t *testing.T) {
	path := filepath.Join("..", "..", ".env.example")
	fromFile, err := loadConfig(lookupFrom(nil), path)
	if err != nil {
		t.Fatalf(".env.example is not a valid configuration: %v", err)
	}
	defaults, _ := loadConfig(lookupFrom(nil), "")
	if fromFile.ProbeTargetsSpec != defaults.ProbeTargetsSpec || len(fromFile.Controls) != len(defaults.Controls) ||
		fromFile.ProbeSchedule != defaults.ProbeSchedule || fromFile.HTTPAddr != defaults.HTTPAddr {
		t.Fatalf(".env.example differs from the defaults:\n%+v\n%+v", fromFile, defaults)
	}
	text, _ := os.ReadFile(path)
	readme, _ := os.ReadFile(filepath.Join("..", "..", "README.md"))
	for _, key := range append(envKeys(adapters()), controlsKey) {
		if !strings.Contains(string(text), key+"=") {
			t.Errorf(".env.example lacks %s", key)
		}
		if !strings.Contains(string(readme), key) {
			t.Errorf("README.md lacks %s", key)
		}
	}
}
