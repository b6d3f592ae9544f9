package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/probe"
)

// spanRetention is how long time-in-state spans are kept: the status page's
// 90-day bar and a margin.
const spanRetention = 100 * 24 * time.Hour

// recordSpan extends the latest span to the round at `at`, or opens a new one
// when the state changed or the round comes after a gap. A round following
// within the gap ends the previous span at its own time, so consecutive spans
// touch and only real silences are left uncovered.
//
// It reports whether it opened a span.
func (s *Store) recordSpan(ctx context.Context, tx q, state probe.State, at time.Time) (opened bool, err error) {
	// The latest span is extended in place, and read back, in one statement:
	// most rounds need no other.
	now := nanos(at)
	var last probe.State
	err = tx.row(ctx, `UPDATE spans SET to_at = ?
		WHERE id = (SELECT id FROM spans ORDER BY to_at DESC, id DESC LIMIT 1) AND to_at <= ? AND to_at >= ?
		RETURNING state`, now, now, now-int64(s.spanGap)).Scan(&last)
	switch {
	case err == nil && last == state:
		return false, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("extend span: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO spans (state, from_at, to_at) VALUES (?, ?, ?)`, state, now, now); err != nil {
		return false, fmt.Errorf("open span: %w", err)
	}
	return true, nil
}

// Spans returns the time in state overlapping [from, to), oldest first, clipped
// to the window. The latest span counts as lasting until `to` when its last
// round is within the span gap of it: the bot is running and the next round
// will extend it.
func (s *Store) Spans(ctx context.Context, from, to time.Time) ([]bot.Span, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// No upper bound: whether the last span in the window is the latest of
	// all decides if it runs on until `to`.
	lo := nanos(from.Add(-s.spanGap))
	read := func() ([]storedSpan, error) {
		rs, err := s.q().query(ctx, `SELECT id, state, from_at, to_at FROM spans WHERE to_at >= ? ORDER BY from_at, id`, lo)
		if err != nil {
			return nil, err
		}
		return collect(rs, func(r row) (storedSpan, error) {
			var (
				sp     storedSpan
				fa, ta int64
			)
			err := r.Scan(&sp.id, &sp.State, &fa, &ta)
			sp.From, sp.To = fromNanos(fa), fromNanos(ta)
			return sp, err
		})
	}
	var (
		out []bot.Span
		err error
	)
	if s.hist != nil {
		out, err = s.hist.spansSince(ctx, s.q(), lo, read)
	} else {
		var rows []storedSpan
		rows, err = read()
		for _, r := range rows {
			out = append(out, r.Span)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	return history.StoredSpans(out, from, to, s.spanGap), nil
}

// Incidents returns up to limit incidents, newest first.
func (s *Store) Incidents(ctx context.Context, limit int) ([]bot.Incident, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	read := func() ([]bot.Incident, error) {
		rs, err := s.q().query(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY start_at DESC, id DESC LIMIT ?`, limit)
		if err != nil {
			return nil, err
		}
		return collect(rs, func(r row) (bot.Incident, error) {
			inc, err := scanIncident(r)
			if err != nil {
				return bot.Incident{}, err
			}
			return *inc, nil
		})
	}
	var (
		out []bot.Incident
		err error
	)
	if s.hist != nil && limit > 0 {
		out, err = s.hist.latestIncidents(ctx, s.q(), limit, read)
	} else {
		out, err = read()
	}
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// RecordRegion stores r as its region's latest round. Every replica records
// its own region, leader or not: it is not fenced.
func (s *Store) RecordRegion(ctx context.Context, r bot.RegionRound) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	causes, err := encodeCauses(r.Causes)
	if err != nil {
		return fmt.Errorf("encode causes of region %s: %w", r.Region, err)
	}
	if _, err := s.q().exec(ctx, s.d.recordRegion(), r.Region, nanos(r.At), r.Verdict, causes); err != nil {
		return fmt.Errorf("record the round of region %s: %w", r.Region, err)
	}
	return nil
}

// Regions returns the latest round of every region heard from within
// bot.SilentFor, marking Silent those not heard from within fresh, on the
// clock the dialect trusts (see its regions).
func (s *Store) Regions(ctx context.Context, now time.Time, fresh time.Duration) ([]bot.RegionRound, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query, args := s.d.regions(now, fresh)
	rs, err := s.q().query(ctx, query, args...)
	var out []bot.RegionRound
	if err == nil {
		out, err = regionRounds(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("read the regions' rounds: %w", err)
	}
	return out, nil
}
