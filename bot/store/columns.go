package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// How Go values are kept in columns, and the readers that turn result rows
// back into them.

// nanos is t as a time column: Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos reads a nanos column, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nullID is an id as a nullable column: 0 is none (NULL).
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// verdictColumn is the uptime_hourly column that counts rounds of verdict v.
func verdictColumn(v probe.Verdict) string {
	switch v {
	case probe.VerdictUp:
		return "up"
	case probe.VerdictDegraded:
		return "degraded"
	case probe.VerdictDown:
		return "down"
	default:
		return "unknown"
	}
}

// encodeRound is the rounds.results column: the round's target and control
// results as JSON.
func encodeRound(r probe.Round) (string, error) {
	b, err := json.Marshal(struct {
		Targets  []probe.Result `json:"targets"`
		Controls []probe.Result `json:"controls,omitempty"`
	}{r.Targets, r.Controls})
	if err != nil {
		return "", fmt.Errorf("encode round: %w", err)
	}
	return string(b), nil
}

// decodeRound reads an encodeRound column into r's results. Callers wrap
// its error with which round it is.
func decodeRound(col []byte, r *probe.Round) error {
	return json.Unmarshal(col, r)
}

// encodeCauses is a causes column: a JSON array, [] for none (never null).
// Callers wrap its error with whose causes they are.
func encodeCauses(c []bot.Cause) (string, error) {
	if c == nil {
		c = []bot.Cause{}
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// decodeCauses reads an encodeCauses column; "[]" is an empty, non-nil
// slice. Callers wrap its error with whose causes they are.
func decodeCauses(col []byte) ([]bot.Cause, error) {
	var c []bot.Cause
	if err := json.Unmarshal(col, &c); err != nil {
		return nil, err
	}
	return c, nil
}

// encodeRegions is the changes.regions column: what each region saw as JSON,
// empty when they agreed (none).
func encodeRegions(r []bot.RegionVerdict) (string, error) {
	if len(r) == 0 {
		return "", nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode change regions: %w", err)
	}
	return string(b), nil
}

// decodeRegions reads an encodeRegions column: empty or "[]" is nil.
func decodeRegions(col string) ([]bot.RegionVerdict, error) {
	if col == "" || col == "[]" {
		return nil, nil
	}
	var out []bot.RegionVerdict
	if err := json.Unmarshal([]byte(col), &out); err != nil {
		return nil, fmt.Errorf("decode change regions: %w", err)
	}
	return out, nil
}

// row is a row to scan: *sql.Row and *sql.Rows.
type row interface{ Scan(dest ...any) error }

// rows is a result set to read and close.
type rows interface {
	row
	Next() bool
	Err() error
	Close() error
}

// collect reads every row with one, and closes rs.
func collect[T any](rs rows, one func(row) (T, error)) ([]T, error) {
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := one(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, rs.Close()
}

// scanOne reads a single column.
func scanOne[T any](r row) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// transitions reads rows of from_state, to_state, at, began, newest first,
// and returns them oldest first.
func transitions(rs rows) ([]probe.Transition, error) {
	out, err := collect(rs, func(r row) (probe.Transition, error) {
		var (
			tr        probe.Transition
			at, began int64
		)
		err := r.Scan(&tr.From, &tr.To, &at, &began)
		tr.At, tr.Began = fromNanos(at), fromNanos(began)
		return tr, err
	})
	slices.Reverse(out)
	return out, err
}

// backlog reads rows of platform, pending count, oldest created_at.
func backlog(rs rows) (map[bot.Platform]bot.Backlog, error) {
	out := map[bot.Platform]bot.Backlog{}
	_, err := collect(rs, func(r row) (struct{}, error) {
		var (
			p      bot.Platform
			b      bot.Backlog
			oldest int64
		)
		err := r.Scan(&p, &b.Pending, &oldest)
		b.Oldest = fromNanos(oldest)
		out[p] = b
		return struct{}{}, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// spans reads rows of state, from_at, to_at.
func spans(rs rows) ([]bot.Span, error) {
	return collect(rs, func(r row) (bot.Span, error) {
		var (
			sp     bot.Span
			fa, ta int64
		)
		err := r.Scan(&sp.State, &fa, &ta)
		sp.From, sp.To = fromNanos(fa), fromNanos(ta)
		return sp, err
	})
}

// incidentColumns are the columns scanIncident reads.
const incidentColumns = `id, start_at, COALESCE(end_at, 0), worst, causes`

// scanIncident reads an incident row (incidentColumns). A scan error is
// returned as is, so that callers can tell no rows.
func scanIncident(r row) (*bot.Incident, error) {
	var (
		inc        bot.Incident
		start, end int64
		causes     []byte
	)
	if err := r.Scan(&inc.ID, &start, &end, &inc.Worst, &causes); err != nil {
		return nil, err
	}
	inc.Start, inc.End = fromNanos(start), fromNanos(end)
	var err error
	if inc.Causes, err = decodeCauses(causes); err != nil {
		return nil, fmt.Errorf("decode incident causes: %w", err)
	}
	return &inc, nil
}

// regionRounds reads rows of region, at, verdict, causes, silent.
func regionRounds(rs rows) ([]bot.RegionRound, error) {
	return collect(rs, func(r row) (bot.RegionRound, error) {
		var (
			rr     bot.RegionRound
			at     int64
			causes []byte
		)
		if err := r.Scan(&rr.Region, &at, &rr.Verdict, &causes, &rr.Silent); err != nil {
			return rr, err
		}
		rr.At = fromNanos(at)
		var err error
		if rr.Causes, err = decodeCauses(causes); err != nil {
			return rr, fmt.Errorf("decode causes of region %s: %w", rr.Region, err)
		}
		if len(rr.Causes) == 0 {
			rr.Causes = nil
		}
		return rr, nil
	})
}

// scanReport reads a row of id, platform, user_id, chat_id, grp, kind, at.
func scanReport(r row) (bot.Report, error) {
	var (
		rep bot.Report
		at  int64
	)
	err := r.Scan(&rep.ID, &rep.Chat.Platform, &rep.User, &rep.Chat.ID, &rep.Group, &rep.Kind, &at)
	rep.At = fromNanos(at)
	return rep, err
}
