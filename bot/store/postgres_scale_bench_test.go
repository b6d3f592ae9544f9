//go:build !nopostgres

package store_test

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkScalePostgres is storetest.BenchScale on PostgreSQL, the leader's
// fence and claims included: 100,000 subscribers.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench ScalePostgres -benchtime 1x -timeout 30m ./bot/store
func BenchmarkScalePostgres(b *testing.B) {
	storetest.BenchScale(b, func(b *testing.B) storetest.Store { return openPG(b, pgtest.URL(b), "bench") }, 4)
}
