package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkScaleSQLite is storetest.BenchScale on SQLite: 100,000 subscribers.
//
//	go test -run '^$' -bench ScaleSQLite -benchtime 1x -timeout 30m ./bot/store
func BenchmarkScaleSQLite(b *testing.B) {
	storetest.BenchScale(b, func(b *testing.B) storetest.Store {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bot.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}, 1)
}
