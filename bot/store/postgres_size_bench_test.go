//go:build !nopostgres

package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkSizePostgres is storetest.BenchSize on PostgreSQL:
// pg_database_size after 1,000 outages, 100,000 subscribers, the default
// retention, with autovacuum as the server runs it.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench SizePostgres -benchtime 1x -timeout 180m ./bot/store
func BenchmarkSizePostgres(b *testing.B) {
	var url string
	storetest.BenchSize(b, storetest.SizeBackend{
		Open: func(b *testing.B, o storetest.Options) storetest.Store {
			url = pgtest.URL(b)
			s, err := store.OpenPostgres(context.Background(), url, store.WithHolder("bench"),
				store.WithRetention(o.Retention), store.WithOutboxRetention(o.OutboxRetention), store.WithSpanGap(o.SpanGap))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		Size: func(b *testing.B) (int64, string) {
			var total, outbox int64
			if err := connect(b, url).QueryRow(context.Background(),
				`SELECT pg_database_size(current_database()), pg_total_relation_size('outbox')`).Scan(&total, &outbox); err != nil {
				b.Fatal(err)
			}
			return total, fmt.Sprintf("pg_database_size; outbox with its indexes %.1f MB", float64(outbox)/1e6)
		},
	})
}
