package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// RecordRegion stores r as its region's latest round.
func (s *Store) RecordRegion(ctx context.Context, r bot.RegionRound) error {
	causes, err := sqlstore.EncodeCauses(r.Causes)
	if err != nil {
		return fmt.Errorf("encode causes of region %s: %w", r.Region, err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO region_rounds (region, at, verdict, causes) VALUES (?, ?, ?, ?)
		ON CONFLICT (region) DO UPDATE SET at = excluded.at, verdict = excluded.verdict, causes = excluded.causes`,
		r.Region, sqlstore.Nanos(r.At), r.Verdict, causes); err != nil {
		return fmt.Errorf("record the round of region %s: %w", r.Region, err)
	}
	return nil
}

// Regions returns the latest round of every region recorded within
// bot.SilentFor before now, marking Silent those older than fresh. SQLite
// serves one process: its rounds' times and now are on the same clock.
func (s *Store) Regions(ctx context.Context, now time.Time, fresh time.Duration) ([]bot.RegionRound, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT region, at, verdict, causes, at < ? FROM region_rounds WHERE at >= ? ORDER BY region`,
		sqlstore.Nanos(now.Add(-fresh)), sqlstore.Nanos(now.Add(-bot.SilentFor)))
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
