package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Load returns the tracker state, the open (or last) incident and the last
// round. Where replicas share the database its reads share one snapshot: a
// follower loading while the leader saves a round sees the round whole or
// not at all.
func (s *Store) Load(ctx context.Context) (saved bot.Saved, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	opts := s.d.readTx()
	if opts == nil {
		return load(ctx, s.q())
	}
	err = s.runTx(ctx, opts, func(tx q) error {
		saved, err = load(ctx, tx)
		return err
	})
	return saved, err
}

func load(ctx context.Context, db q) (bot.Saved, error) {
	var (
		saved                          bot.Saved
		since, pendingSince, flapSince int64
		incID                          sql.NullInt64
		status                         probe.Status
	)
	err := db.row(ctx, `SELECT state, since, pending, streak, pending_since, incident_id, flap_since, flap_changes, flap_worst, flap_change FROM state WHERE id = 1`).
		Scan(&status.State, &since, &status.Pending, &status.Streak, &pendingSince, &incID, &flapSince, &saved.Flap.Changes, &saved.Flap.Worst, &saved.Flap.ChangeID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		status.State = probe.StateUnknown
	case err != nil:
		return saved, fmt.Errorf("load state: %w", err)
	default:
		status.Since, status.PendingSince = fromNanos(since), fromNanos(pendingSince)
		saved.Flap.Since = fromNanos(flapSince)
	}
	saved.Status = status
	rs, err := db.query(ctx, `SELECT from_state, to_state, at, began FROM changes WHERE kind = '' ORDER BY id DESC LIMIT ?`, bot.RecentChanges)
	if err == nil {
		saved.Recent, err = transitions(rs)
	}
	if err != nil {
		return saved, fmt.Errorf("load recent changes: %w", err)
	}

	incQuery, args := `SELECT `+incidentColumns+` FROM incidents ORDER BY id DESC LIMIT 1`, []any(nil)
	if incID.Valid {
		incQuery, args = `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, []any{incID.Int64}
	}
	inc, err := scanIncident(db.row(ctx, incQuery, args...))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return saved, fmt.Errorf("load incident: %w", err)
	}
	saved.Incident = inc

	var (
		results []byte
		r       probe.Round
		at, dur int64
	)
	err = db.row(ctx, `SELECT at, duration_ns, verdict, results FROM rounds ORDER BY id DESC LIMIT 1`).Scan(&at, &dur, &r.Verdict, &results)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return saved, fmt.Errorf("load last round: %w", err)
	default:
		if err := decodeRound(results, &r); err != nil {
			return saved, fmt.Errorf("decode last round: %w", err)
		}
		r.Start, r.Duration = fromNanos(at), time.Duration(dur)
		saved.LastRound = &r
	}
	return saved, nil
}

// SaveRound persists one round and everything it changed in one transaction:
// the round, the tracker status, the incident, and the change with one outbox
// row per subscription. Either all of it is stored or none. It is a leader
// write: where replicas share the database, a store whose lease term is over
// stores nothing and returns an error wrapping bot.ErrDeposed.
func (s *Store) SaveRound(ctx context.Context, snap *bot.Snapshot) error {
	r := snap.Round
	results, err := encodeRound(r)
	if err != nil {
		return err
	}
	var (
		incID, changeID int64
		prune           = s.outboxRetention > 0 && s.pruning.due(r.Start)
		pruneFull       bool
		trim            = s.trimming.due(r.Start)
		trimFull        bool
		opened          bool // a span
		queued          int64
	)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = s.d.leaderTx(ctx, s, func(tx q) error {
		if _, err := tx.exec(ctx, `INSERT INTO rounds (at, verdict, duration_ns, control_ok, results) VALUES (?, ?, ?, ?, ?)`,
			nanos(r.Start), r.Verdict, int64(r.Duration), r.ControlOK(), results); err != nil {
			return fmt.Errorf("insert round: %w", err)
		}
		col := verdictColumn(r.Verdict)
		hour := r.Start.UTC().Truncate(time.Hour).Unix()
		if _, err := tx.exec(ctx, `INSERT INTO uptime_hourly (hour, `+col+`) VALUES (?, 1)
			ON CONFLICT (hour) DO UPDATE SET `+col+` = uptime_hourly.`+col+` + 1`, hour); err != nil {
			return fmt.Errorf("count round: %w", err)
		}
		var err error
		if trim {
			if trimFull, err = s.trim(ctx, tx, r.Start); err != nil {
				return err
			}
		}
		if opened, err = s.recordSpan(ctx, tx, snap.SpanState(), r.Start); err != nil {
			return err
		}
		if prune {
			if pruneFull, err = pruneOutbox(ctx, tx, r.Start.Add(-s.outboxRetention)); err != nil {
				return err
			}
		}
		if incID, err = saveIncident(ctx, tx, snap.Incident); err != nil {
			return err
		}
		if snap.Change != nil {
			var n int64
			if changeID, n, err = saveChange(ctx, tx, snap, incID); err != nil {
				return err
			}
			queued += n
		}
		n, err := saveStatus(ctx, tx, snap, incID)
		queued += n
		if err != nil || queued < analyzeAfter {
			return err
		}
		for _, stmt := range tx.d.analyzeOutbox() {
			if _, err := tx.exec(ctx, stmt); err != nil {
				return fmt.Errorf("analyze the outbox after queuing %d rows: %w", queued, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save round: %w", err)
	}
	if prune {
		s.pruning.pruned(r.Start, pruneFull)
	}
	if trim {
		s.trimming.pruned(r.Start, trimFull)
	}
	s.hist.saved(nanos(r.Start), opened, snap.Incident != nil, trim)
	snap.Queued = int(queued)
	if snap.Incident != nil {
		snap.Incident.ID = incID
	}
	if snap.Change != nil {
		snap.Change.ID = changeID
		if snap.Incident != nil {
			snap.Change.Incident = *snap.Incident
		}
	}
	return nil
}

// saveIncident inserts or updates the round's incident and returns its id
// (0 when the round has none).
func saveIncident(ctx context.Context, tx q, inc *bot.Incident) (int64, error) {
	if inc == nil {
		return 0, nil
	}
	causes, err := encodeCauses(inc.Causes)
	if err != nil {
		return 0, fmt.Errorf("encode incident causes: %w", err)
	}
	var end any
	if !inc.End.IsZero() {
		end = nanos(inc.End)
	}
	if inc.ID != 0 {
		if _, err := tx.exec(ctx, `UPDATE incidents SET end_at = ?, worst = ?, causes = ? WHERE id = ?`,
			end, inc.Worst, causes, inc.ID); err != nil {
			return 0, fmt.Errorf("update incident: %w", err)
		}
		return inc.ID, nil
	}
	var id int64
	if err := tx.row(ctx, `INSERT INTO incidents (start_at, end_at, worst, causes) VALUES (?, ?, ?, ?) RETURNING id`,
		nanos(inc.Start), end, inc.Worst, causes).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert incident: %w", err)
	}
	return id, nil
}

// analyzeAfter is how many outbox rows a round queues before the outbox's
// statistics are brought up to date in its transaction (dialect
// analyzeOutbox).
const analyzeAfter = 1000

// saveChange records the round's change and fans it out; it returns the
// change's id and how many outbox rows it queued.
func saveChange(ctx context.Context, tx q, snap *bot.Snapshot, incID int64) (changeID, queued int64, err error) {
	ch := snap.Change
	causes, err := encodeCauses(ch.Causes)
	if err != nil {
		return 0, 0, fmt.Errorf("encode change causes: %w", err)
	}
	regions, err := encodeRegions(ch.Regions)
	if err != nil {
		return 0, 0, err
	}
	chIncID := incID
	if chIncID == 0 && ch.Kind != bot.ChangeTransition {
		// An unstable or settled message belongs to the incident open now, if any.
		var open sql.NullInt64
		if err := tx.row(ctx, `SELECT incident_id FROM state WHERE id = 1`).Scan(&open); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, fmt.Errorf("read the open incident: %w", err)
		}
		chIncID = open.Int64
	}
	tr := ch.Transition
	if err := tx.row(ctx, `INSERT INTO changes (kind, from_state, to_state, at, began, incident_id, causes, regions, flaps, flap_since)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ch.Kind, tr.From, tr.To, nanos(tr.At), nanos(tr.Began), nullID(chIncID), causes, regions, ch.Flaps, nanos(ch.FlapSince)).Scan(&changeID); err != nil {
		return 0, 0, fmt.Errorf("insert change: %w", err)
	}
	if ch.Kind == bot.ChangeUnstable && snap.Flap != nil {
		snap.Flap.ChangeID = changeID
	}
	// The chats that got the unstable message also get the settled one:
	// the monitor has already cleared its flap state by then, so the
	// unstable change's id comes from the state row, not yet updated.
	var unstableID int64
	switch {
	case ch.Kind == bot.ChangeSettled:
		if err := tx.row(ctx, `SELECT flap_change FROM state WHERE id = 1`).Scan(&unstableID); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, fmt.Errorf("read the unstable change: %w", err)
		}
	case snap.Flap != nil:
		unstableID = snap.Flap.ChangeID
	}
	queued, err = fanOut(ctx, tx, changeID, chIncID, snap.Incident, ch, unstableID)
	return changeID, queued, err
}

// saveStatus writes the tracker status and flapping, then ends the mutes
// that are over and queues the reminders due; it returns how many outbox
// rows those queued.
func saveStatus(ctx context.Context, tx q, snap *bot.Snapshot, incID int64) (int64, error) {
	var open any
	if snap.Incident != nil && snap.Incident.Open() {
		open = incID
	}
	st := snap.Status
	// The status and flapping written, and the open incident and flapping
	// read back, in one statement.
	cols, vals, set := ``, ``, ``
	args := []any{st.State, nanos(st.Since), st.Pending, st.Streak, nanos(st.PendingSince), open}
	if f := snap.Flap; f != nil {
		cols, vals = `, flap_since, flap_changes, flap_worst, flap_change`, `, ?, ?, ?, ?`
		set = `, flap_since = excluded.flap_since, flap_changes = excluded.flap_changes,
			flap_worst = excluded.flap_worst, flap_change = excluded.flap_change`
		args = append(args, nanos(f.Since), f.Changes, f.Worst, f.ChangeID)
	}
	args = append(args, snap.Incident != nil)
	var (
		openID    sql.NullInt64
		flapSince int64
	)
	if err := tx.row(ctx, `INSERT INTO state (id, state, since, pending, streak, pending_since, incident_id`+cols+`)
		VALUES (1, ?, ?, ?, ?, ?, ?`+vals+`)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, since = excluded.since, pending = excluded.pending,
			streak = excluded.streak, pending_since = excluded.pending_since,
			incident_id = CASE WHEN ? THEN excluded.incident_id ELSE state.incident_id END`+set+`
		RETURNING incident_id, flap_since`, args...).Scan(&openID, &flapSince); err != nil {
		return 0, fmt.Errorf("save state: %w", err)
	}
	now := snap.Round.Start
	var queued int64
	err := newestFirst(ctx, tx, func() error {
		var err error
		if queued, err = endMutes(ctx, tx, st, openID.Int64, now); err != nil || flapSince != 0 {
			return err // no reminders while X flaps: the unstable message stands for them
		}
		n, err := remind(ctx, tx, st, openID.Int64, now)
		queued += n
		return err
	})
	return queued, err
}

// newestFirst runs fn, whose queries walk the changes newest first, between
// the dialect's statements for that.
func newestFirst(ctx context.Context, tx q, fn func() error) error {
	before, after := tx.d.newestFirst()
	if before != "" {
		if _, err := tx.exec(ctx, before); err != nil {
			return fmt.Errorf("walk the changes newest first: %w", err)
		}
	}
	if err := fn(); err != nil {
		return err
	}
	if after != "" {
		if _, err := tx.exec(ctx, after); err != nil {
			return fmt.Errorf("walk the changes newest first: %w", err)
		}
	}
	return nil
}

// Uptime counts rounds by verdict between two times, from the hourly roll-up.
func (s *Store) Uptime(ctx context.Context, from, to time.Time) (map[probe.Verdict]int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var up, degraded, down, unknown int
	err := s.q().row(ctx, `SELECT CAST(COALESCE(SUM(up),0) AS BIGINT), CAST(COALESCE(SUM(degraded),0) AS BIGINT),
		CAST(COALESCE(SUM(down),0) AS BIGINT), CAST(COALESCE(SUM(unknown),0) AS BIGINT)
		FROM uptime_hourly WHERE hour >= ? AND hour < ?`, from.UTC().Truncate(time.Hour).Unix(), to.Unix()).Scan(&up, &degraded, &down, &unknown)
	if err != nil {
		return nil, fmt.Errorf("uptime: %w", err)
	}
	return map[probe.Verdict]int{probe.VerdictUp: up, probe.VerdictDegraded: degraded, probe.VerdictDown: down, probe.VerdictUnknown: unknown}, nil
}
