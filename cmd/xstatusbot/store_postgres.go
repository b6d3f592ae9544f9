//go:build !nopostgres

package main

import (
	"context"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/postgres"
)

// withPostgres says whether this build can use DATABASE_URL.
const withPostgres = true

// openPostgres opens the PostgreSQL store, which is also the replicas' lease.
func openPostgres(ctx context.Context, cfg Config, gap time.Duration) (storage, bot.Lease, error) {
	store, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithRetention(cfg.DBRoundRetention),
		postgres.WithOutboxRetention(cfg.DBOutboxRetention), postgres.WithSpanGap(gap), postgres.WithLeaseTTL(cfg.LeaderLeaseTTL))
	if err != nil {
		return nil, nil, err
	}
	return store, store, nil
}
