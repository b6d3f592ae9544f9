package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
	"github.com/xstatusbot/xstatusbot/probe"
)

// spanRetention is how long time-in-state spans are kept: the status page's
// 90-day bar and a margin.
const spanRetention = 100 * 24 * time.Hour

// WithSpanGap sets how long after the previous round a round may come and
// still continue its span (default 90 s). A longer silence is a gap: time the
// bot was not running, shown as "no data". Give it a few schedule intervals.
func WithSpanGap(d time.Duration) Option { return func(s *Store) { s.spanGap = d } }

// recordSpan extends the latest span to the round at `at`, or opens a new one
// when the state changed or the round comes after a gap. A round following
// within the gap ends the previous span at its own time, so consecutive spans
// touch and only real silences are left uncovered.
func (s *Store) recordSpan(ctx context.Context, tx *sql.Tx, state probe.State, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM spans WHERE to_at < ?`, sqlstore.Nanos(at.Add(-spanRetention))); err != nil {
		return fmt.Errorf("prune spans: %w", err)
	}
	var (
		id   int64
		last probe.State
		to   int64
	)
	err := tx.QueryRowContext(ctx, `SELECT id, state, to_at FROM spans ORDER BY to_at DESC, id DESC LIMIT 1`).Scan(&id, &last, &to)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read last span: %w", err)
	}
	now := sqlstore.Nanos(at)
	if err == nil && now >= to && time.Duration(now-to) <= s.spanGap {
		if _, err := tx.ExecContext(ctx, `UPDATE spans SET to_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("extend span: %w", err)
		}
		if last == state {
			return nil
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO spans (state, from_at, to_at) VALUES (?, ?, ?)`, state, now, now); err != nil {
		return fmt.Errorf("open span: %w", err)
	}
	return nil
}

// Spans returns the time in state overlapping [from, to), oldest first, clipped
// to the window. The latest span counts as lasting until `to` when its last
// round is within the span gap of it: the bot is running and the next round
// will extend it.
func (s *Store) Spans(ctx context.Context, from, to time.Time) ([]bot.Span, error) {
	// No upper bound: whether the last span in the window is the latest of
	// all decides if it runs on until `to`.
	rows, err := s.db.QueryContext(ctx, `SELECT state, from_at, to_at FROM spans
		WHERE to_at >= ? ORDER BY from_at, id`, sqlstore.Nanos(from.Add(-s.spanGap)))
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.Spans(rows)
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	return history.StoredSpans(out, from, to, s.spanGap), nil
}

// Incidents returns up to limit incidents, newest first.
func (s *Store) Incidents(ctx context.Context, limit int) ([]bot.Incident, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, start_at, COALESCE(end_at, 0), worst, causes FROM incidents ORDER BY start_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.Incidents(rows)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}
