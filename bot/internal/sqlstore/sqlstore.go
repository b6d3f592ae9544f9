// Package sqlstore is the Go logic the SQL stores (bot/sqlite and
// bot/postgres) share: how Go values are kept in columns, the migration
// list, and the pace of outbox pruning. The SQL itself differs by dialect
// and stays in each store.
package sqlstore

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Nanos is t as a time column: Unix nanoseconds, 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos reads a Nanos column, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// VerdictColumn is the uptime_hourly column that counts rounds of verdict v.
func VerdictColumn(v probe.Verdict) string {
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

// EncodeRound is the rounds.results column: the round's target and control
// results as JSON.
func EncodeRound(r probe.Round) ([]byte, error) {
	b, err := json.Marshal(struct {
		Targets  []probe.Result `json:"targets"`
		Controls []probe.Result `json:"controls,omitempty"`
	}{r.Targets, r.Controls})
	if err != nil {
		return nil, fmt.Errorf("encode round: %w", err)
	}
	return b, nil
}

// DecodeRound reads an EncodeRound column into r's results. Callers wrap
// its error with which round it is.
func DecodeRound[T ~string | ~[]byte](col T, r *probe.Round) error {
	return json.Unmarshal([]byte(col), r)
}

// EncodeCauses is a causes column: a JSON array, [] for none (never null).
// Callers wrap its error with whose causes they are.
func EncodeCauses(c []bot.Cause) ([]byte, error) {
	if c == nil {
		c = []bot.Cause{}
	}
	return json.Marshal(c)
}

// DecodeCauses reads an EncodeCauses column; "[]" is an empty, non-nil
// slice. Callers wrap its error with whose causes they are.
func DecodeCauses[T ~string | ~[]byte](col T) ([]bot.Cause, error) {
	var c []bot.Cause
	if err := json.Unmarshal([]byte(col), &c); err != nil {
		return nil, err
	}
	return c, nil
}

// EncodeRegions is the changes.regions column: what each region saw as JSON,
// empty when they agreed (none).
func EncodeRegions(r []bot.RegionVerdict) (string, error) {
	if len(r) == 0 {
		return "", nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode change regions: %w", err)
	}
	return string(b), nil
}

// DecodeRegions reads an EncodeRegions column: empty or "[]" is nil.
func DecodeRegions(col string) ([]bot.RegionVerdict, error) {
	if col == "" || col == "[]" {
		return nil, nil
	}
	var out []bot.RegionVerdict
	if err := json.Unmarshal([]byte(col), &out); err != nil {
		return nil, fmt.Errorf("decode change regions: %w", err)
	}
	return out, nil
}

// Migration is one embedded schema migration.
type Migration struct {
	Name    string // its path in the file system
	Version int    // the number its file name starts with
	Body    string
}

// Migrations reads migrations/*.sql from fsys, in order of their names.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Name: name, Version: version, Body: string(body)})
	}
	return out, nil
}

// Row is a row to scan: *sql.Row and *sql.Rows, pgx.Row and pgx.Rows.
type Row interface{ Scan(dest ...any) error }

// ScanIncident reads an incident row whose columns are id, start_at,
// end_at (0 while open), worst and causes. A scan error is returned as is,
// so that callers can tell no rows.
func ScanIncident(row Row) (*bot.Incident, error) {
	var (
		inc        bot.Incident
		start, end int64
		causes     []byte
	)
	if err := row.Scan(&inc.ID, &start, &end, &inc.Worst, &causes); err != nil {
		return nil, err
	}
	inc.Start, inc.End = FromNanos(start), FromNanos(end)
	var err error
	if inc.Causes, err = DecodeCauses(causes); err != nil {
		return nil, fmt.Errorf("decode incident causes: %w", err)
	}
	return &inc, nil
}
