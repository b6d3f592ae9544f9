package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// RecordRegion stores r as its region's latest round. Every replica records
// its own region, leader or not: it is not fenced.
func (s *Store) RecordRegion(ctx context.Context, r bot.RegionRound) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	causes, err := sqlstore.EncodeCauses(r.Causes)
	if err != nil {
		return fmt.Errorf("encode causes of region %s: %w", r.Region, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO region_rounds (region, at, verdict, causes) VALUES ($1, $2, $3, $4)
		ON CONFLICT (region) DO UPDATE SET at = excluded.at, verdict = excluded.verdict, causes = excluded.causes`,
		r.Region, sqlstore.Nanos(r.At), r.Verdict, string(causes)); err != nil {
		return fmt.Errorf("record the round of region %s: %w", r.Region, err)
	}
	return nil
}

// Regions returns the latest round of every region recorded at or after
// since, ordered by region name.
func (s *Store) Regions(ctx context.Context, since time.Time) ([]bot.RegionRound, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT region, at, verdict, causes FROM region_rounds WHERE at >= $1 ORDER BY region`, sqlstore.Nanos(since))
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
