package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// RecordRegion stores r as its region's latest round, heard now on the
// database's clock. Every replica records its own region, leader or not: it
// is not fenced.
func (s *Store) RecordRegion(ctx context.Context, r bot.RegionRound) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	causes, err := sqlstore.EncodeCauses(r.Causes)
	if err != nil {
		return fmt.Errorf("encode causes of region %s: %w", r.Region, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO region_rounds (region, at, verdict, causes, heard_at) VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (region) DO UPDATE SET at = excluded.at, verdict = excluded.verdict, causes = excluded.causes, heard_at = now()`,
		r.Region, sqlstore.Nanos(r.At), r.Verdict, string(causes)); err != nil {
		return fmt.Errorf("record the round of region %s: %w", r.Region, err)
	}
	return nil
}

// Regions returns the latest round of every region heard from within
// bot.SilentFor, marking Silent those not heard from within fresh. Both are
// judged on the database's clock (heard_at, now()), so replicas whose clocks
// disagree still agree on who was heard; now is not used.
func (s *Store) Regions(ctx context.Context, _ time.Time, fresh time.Duration) ([]bot.RegionRound, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT region, at, verdict, causes, heard_at < now() - make_interval(secs => $1::float8)
		FROM region_rounds WHERE heard_at >= now() - make_interval(secs => $2::float8) ORDER BY region`, fresh.Seconds(), bot.SilentFor.Seconds())
	if err != nil {
		return nil, fmt.Errorf("read the regions' rounds: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.RegionRounds(rows)
	if err != nil {
		return nil, fmt.Errorf("read the regions' rounds: %w", err)
	}
	return out, nil
}
