//go:build !nopostgres

package store_test

import (
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// BenchmarkFanOutSettings is storetest.BenchFanOutSettings on PostgreSQL,
// the leader's fence included:
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench FanOutSettingsPostgres -benchtime 1x ./bot/store
func BenchmarkFanOutSettingsPostgres(b *testing.B) {
	storetest.BenchFanOutSettings(b, func(b *testing.B) storetest.Store { return openPG(b, pgtest.URL(b), "bench") })
}
