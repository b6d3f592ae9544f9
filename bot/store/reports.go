package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// People's /report. Any replica records one (the command runs where the
// chat is served): these writes are not the leader's and take no fence.
// The leader prunes them with the rounds (SaveRound, pruneReports).

// AddReport records r unless its reporter (r.User on r.Chat's platform)
// already has a report made after r.At-window; added tells which, and sets
// r.ID when added. The check and the insert are one statement: on SQLite
// writes are serialised, so it is exact; on PostgreSQL two reports of one
// person committed at the same instant may both be kept, which the crowd
// tally absorbs (it counts a person once per window).
func (s *Store) AddReport(ctx context.Context, r *bot.Report, window time.Duration) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var id int64
	err := s.q().row(ctx, `INSERT INTO reports (platform, user_id, chat_id, grp, kind, at)
		SELECT ?, ?, ?, ?, ?, ?
		WHERE NOT EXISTS (SELECT 1 FROM reports WHERE platform = ? AND user_id = ? AND at > ?)
		RETURNING id`,
		r.Chat.Platform, r.User, r.Chat.ID, r.Group, r.Kind, nanos(r.At),
		r.Chat.Platform, r.User, nanos(r.At.Add(-window))).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		// The user id is not named: it is kept to count people, never shown.
		return false, fmt.Errorf("add a report from %s: %w", r.Chat, err)
	}
	r.ID = id
	return true, nil
}

// ReportsSince returns the reports made at or after from, oldest first (by
// time, then id), at most limit of them; none when limit is not positive.
func (s *Store) ReportsSince(ctx context.Context, from time.Time, limit int) ([]bot.Report, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rs, err := s.q().query(ctx, `SELECT id, platform, user_id, chat_id, grp, kind, at FROM reports
		WHERE at >= ? ORDER BY at, id LIMIT ?`, nanos(from), limit)
	var out []bot.Report
	if err == nil {
		out, err = collect(rs, scanReport)
	}
	if err != nil {
		return nil, fmt.Errorf("read reports since %s: %w", from.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// ReportCount counts the reports made in [from, to).
func (s *Store) ReportCount(ctx context.Context, from, to time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	if err := s.q().row(ctx, `SELECT COUNT(*) FROM reports WHERE at >= ? AND at < ?`, nanos(from), nanos(to)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count reports from %s to %s: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// FirstReport is when the oldest report kept was made; zero when none is.
func (s *Store) FirstReport(ctx context.Context) (time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var at sql.NullInt64
	if err := s.q().row(ctx, `SELECT MIN(at) FROM reports`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("first report: %w", err)
	}
	return fromNanos(at.Int64), nil
}
