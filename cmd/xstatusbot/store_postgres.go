//go:build !nopostgres

package main

import (
	"context"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
)

// withPostgres says whether this build can use DATABASE_URL.
const withPostgres = true

// openPostgres opens the PostgreSQL store, which is also the replicas' lease.
func openPostgres(ctx context.Context, cfg Config, gap time.Duration) (storage, bot.Lease, error) {
	db, err := store.OpenPostgres(ctx, cfg.DatabaseURL, store.WithRetention(cfg.DBRoundRetention),
		store.WithOutboxRetention(cfg.DBOutboxRetention), store.WithSpanGap(gap), store.WithLeaseTTL(cfg.LeaderLeaseTTL))
	if err != nil {
		return nil, nil, err
	}
	return db, db, nil
}
