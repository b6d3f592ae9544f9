//go:build !nopostgres

package main

import (
	"context"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
)

// BenchmarkScalePostgres is BenchmarkScale on PostgreSQL: one replica of the
// real binary, which leads, on a database of its own.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench ScalePostgres -benchtime 1x -timeout 30m ./cmd/xstatusbot
func BenchmarkScalePostgres(b *testing.B) {
	bin := buildBinary(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		url := pgtest.URL(b)
		s, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		r := runScale(b, bin, s, scaleDB{
			env:      func(env map[string]string) { env["DATABASE_URL"] = url },
			changeAt: func() time.Time { return changeAt(b, url) },
			seeders:  4,
		})
		if i == b.N-1 {
			r.report(b)
		}
	}
}
