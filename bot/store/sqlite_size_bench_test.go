package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkSizeSQLite is storetest.BenchSize on SQLite: the file after 1,000
// outages, 100,000 subscribers, the default retention. About 15 minutes.
//
//	go test -run '^$' -bench SizeSQLite -benchtime 1x -timeout 120m ./bot/store
func BenchmarkSizeSQLite(b *testing.B) {
	var path string
	storetest.BenchSize(b, storetest.SizeBackend{
		Open: func(b *testing.B, o storetest.Options) storetest.Store {
			path = filepath.Join(b.TempDir(), "bot.db")
			s, err := store.OpenSQLite(context.Background(), path,
				store.WithRetention(o.Retention), store.WithOutboxRetention(o.OutboxRetention), store.WithSpanGap(o.SpanGap))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		// The file, its write-ahead log (not truncated after a checkpoint)
		// and the log's index.
		Size: func(b *testing.B) (int64, string) {
			var total int64
			var made string
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(f)
				if err != nil {
					continue
				}
				total += fi.Size()
				made += fmt.Sprintf(" %s %.1f MB", filepath.Base(f), float64(fi.Size())/1e6)
			}
			return total, made[1:]
		},
	})
}
