package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkFanOutSettings is storetest.BenchFanOutSettings on SQLite:
//
//	go test -run '^$' -bench FanOutSettingsSQLite -benchtime 1x ./bot/store
func BenchmarkFanOutSettingsSQLite(b *testing.B) {
	storetest.BenchFanOutSettings(b, func(b *testing.B) storetest.Store {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bot.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
