package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// RecordRegion stores r as its region's latest round. Every replica records
// its own region, leader or not: it is not fenced.
func (s *Store) RecordRegion(ctx context.Context, r bot.RegionRound) error {
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
	rows, err := s.pool.Query(ctx, `SELECT region, at, verdict, causes FROM region_rounds WHERE at >= $1 ORDER BY region`, sqlstore.Nanos(since))
	if err != nil {
		return nil, fmt.Errorf("read region rounds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bot.RegionRound, error) {
		var (
			r      bot.RegionRound
			at     int64
			causes string
		)
		if err := row.Scan(&r.Region, &at, &r.Verdict, &causes); err != nil {
			return r, err
		}
		r.At = sqlstore.FromNanos(at)
		var err error
		if r.Causes, err = sqlstore.DecodeCauses(causes); err != nil {
			return r, fmt.Errorf("decode causes of region %s: %w", r.Region, err)
		}
		if len(r.Causes) == 0 {
			r.Causes = nil
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read region rounds: %w", err)
	}
	return out, nil
}
