package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/sqlite"
	"github.com/xstatusbot/xstatusbot/bot/storetest"
)

// BenchmarkFanOutSettings is storetest.BenchFanOutSettings on SQLite:
//
//	go test -run '^$' -bench FanOutSettings -benchtime 1x ./bot/sqlite
func BenchmarkFanOutSettings(b *testing.B) {
	storetest.BenchFanOutSettings(b, func(b *testing.B) storetest.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bot.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
