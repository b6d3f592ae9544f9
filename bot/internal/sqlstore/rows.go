package sqlstore

import (
	"fmt"
	"slices"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Rows is a result set: database/sql's *sql.Rows and pgx.Rows. The caller
// runs its own dialect's query and closes the rows; the readers below turn
// the same columns into the same values for both stores.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// collect reads every row with one.
func collect[T any](rows Rows, one func(Row) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := one(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Transitions reads rows of from_state, to_state, at, began, newest first,
// and returns them oldest first.
func Transitions(rows Rows) ([]probe.Transition, error) {
	out, err := collect(rows, func(r Row) (probe.Transition, error) {
		var (
			tr        probe.Transition
			at, began int64
		)
		err := r.Scan(&tr.From, &tr.To, &at, &began)
		tr.At, tr.Began = FromNanos(at), FromNanos(began)
		return tr, err
	})
	slices.Reverse(out)
	return out, err
}

// Backlog reads rows of platform, pending count, oldest created_at.
func Backlog(rows Rows) (map[bot.Platform]bot.Backlog, error) {
	type row struct {
		p bot.Platform
		b bot.Backlog
	}
	list, err := collect(rows, func(r Row) (row, error) {
		var (
			v      row
			oldest int64
		)
		err := r.Scan(&v.p, &v.b.Pending, &oldest)
		v.b.Oldest = FromNanos(oldest)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[bot.Platform]bot.Backlog, len(list))
	for _, v := range list {
		out[v.p] = v.b
	}
	return out, nil
}

// Spans reads rows of state, from_at, to_at.
func Spans(rows Rows) ([]bot.Span, error) {
	return collect(rows, func(r Row) (bot.Span, error) {
		var (
			sp     bot.Span
			fa, ta int64
		)
		err := r.Scan(&sp.State, &fa, &ta)
		sp.From, sp.To = FromNanos(fa), FromNanos(ta)
		return sp, err
	})
}

// Incidents reads incident rows (the columns of ScanIncident).
func Incidents(rows Rows) ([]bot.Incident, error) {
	return collect(rows, func(r Row) (bot.Incident, error) {
		inc, err := ScanIncident(r)
		if err != nil {
			return bot.Incident{}, err
		}
		return *inc, nil
	})
}

// RegionRounds reads rows of region, at, verdict, causes.
func RegionRounds(rows Rows) ([]bot.RegionRound, error) {
	return collect(rows, func(r Row) (bot.RegionRound, error) {
		var (
			rr     bot.RegionRound
			at     int64
			causes []byte
		)
		if err := r.Scan(&rr.Region, &at, &rr.Verdict, &causes, &rr.Silent); err != nil {
			return rr, err
		}
		rr.At = FromNanos(at)
		var err error
		if rr.Causes, err = DecodeCauses(causes); err != nil {
			return rr, fmt.Errorf("decode causes of region %s: %w", rr.Region, err)
		}
		if len(rr.Causes) == 0 {
			rr.Causes = nil
		}
		return rr, nil
	})
}

// ScanSettings reads a row of level, muted_until, lang, remind_every.
// A scan error (no rows included) is returned as is.
func ScanSettings(row Row) (bot.ChatSettings, error) {
	var (
		cs           bot.ChatSettings
		muted, every int64
	)
	if err := row.Scan(&cs.Level, &muted, &cs.Lang, &every); err != nil {
		return bot.ChatSettings{}, err
	}
	cs.MutedUntil, cs.RemindEvery = FromNanos(muted), time.Duration(every)
	return cs, nil
}
