package postgres_test

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/postgres/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/storetest"
)

// BenchmarkFanOutSettings is storetest.BenchFanOutSettings on PostgreSQL,
// the leader's fence included:
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench FanOutSettings -benchtime 1x ./bot/postgres
func BenchmarkFanOutSettings(b *testing.B) {
	storetest.BenchFanOutSettings(b, func(b *testing.B) storetest.Store { return open(b, pgtest.URL(b), "bench") })
}
