//go:build !nopostgres

package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkSizePostgres is storetest.BenchSize on PostgreSQL:
// pg_database_size after 1,000 outages, 100,000 subscribers, the default
// retention. Autovacuum runs as the server runs it, and after each
// simulated day a VACUUM ANALYZE does what it would have done in that day
// (BENCH_SIZE_VACUUM=off leaves autovacuum alone: the database then grows
// by the pruned rows it has not yet made reusable).
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench SizePostgres -benchtime 1x -timeout 180m ./bot/store
func BenchmarkSizePostgres(b *testing.B) {
	var session *sql.DB
	backend := storetest.SizeBackend{
		Open: func(b *testing.B, o storetest.Options) storetest.Store {
			url := pgtest.URL(b)
			session = pgtest.Open(b, url)
			s, err := store.OpenPostgres(context.Background(), url, store.WithHolder("bench"),
				store.WithRetention(o.Retention), store.WithOutboxRetention(o.OutboxRetention), store.WithSpanGap(o.SpanGap))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		Size: func(b *testing.B) (int64, string) {
			var total, outbox int64
			if err := session.QueryRowContext(context.Background(),
				`SELECT pg_database_size(current_database()), pg_total_relation_size('outbox')`).Scan(&total, &outbox); err != nil {
				b.Fatal(err)
			}
			return total, fmt.Sprintf("pg_database_size; outbox with its indexes %.1f MB", float64(outbox)/1e6)
		},
	}
	if os.Getenv("BENCH_SIZE_VACUUM") != "off" {
		backend.Day = func(b *testing.B) {
			if _, err := session.ExecContext(context.Background(), `VACUUM ANALYZE`); err != nil {
				b.Fatal(err)
			}
		}
	}
	storetest.BenchSize(b, backend)
}
