package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Load returns the tracker state, the open (or last) incident and the last round.
func (s *Store) Load(ctx context.Context) (bot.Saved, error) {
	var (
		saved        bot.Saved
		since        int64
		pendingSince int64
		incID        sql.NullInt64
		status       probe.Status
	)
	var flapSince int64
	err := s.db.QueryRowContext(ctx, `SELECT state, since, pending, streak, pending_since, incident_id, flap_since, flap_changes, flap_worst, flap_change FROM state WHERE id = 1`).
		Scan(&status.State, &since, &status.Pending, &status.Streak, &pendingSince, &incID, &flapSince, &saved.Flap.Changes, &saved.Flap.Worst, &saved.Flap.ChangeID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		status.State = probe.StateUnknown
	case err != nil:
		return saved, fmt.Errorf("load state: %w", err)
	default:
		status.Since, status.PendingSince = sqlstore.FromNanos(since), sqlstore.FromNanos(pendingSince)
		saved.Flap.Since = sqlstore.FromNanos(flapSince)
	}
	saved.Status = status
	if saved.Recent, err = s.recentChanges(ctx); err != nil {
		return saved, err
	}

	incQuery := `SELECT id, start_at, COALESCE(end_at, 0), worst, causes FROM incidents ORDER BY id DESC LIMIT 1`
	var args []any
	if incID.Valid {
		incQuery, args = `SELECT id, start_at, COALESCE(end_at, 0), worst, causes FROM incidents WHERE id = ?`, []any{incID.Int64}
	}
	inc, err := sqlstore.ScanIncident(s.db.QueryRowContext(ctx, incQuery, args...))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return saved, fmt.Errorf("load incident: %w", err)
	}
	saved.Incident = inc

	var results []byte
	var r probe.Round
	var at, dur int64
	err = s.db.QueryRowContext(ctx, `SELECT at, duration_ns, verdict, results FROM rounds ORDER BY id DESC LIMIT 1`).Scan(&at, &dur, &r.Verdict, &results)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return saved, fmt.Errorf("load last round: %w", err)
	default:
		if err := sqlstore.DecodeRound(results, &r); err != nil {
			return saved, fmt.Errorf("decode last round: %w", err)
		}
		r.Start, r.Duration = sqlstore.FromNanos(at), time.Duration(dur)
		saved.LastRound = &r
	}
	return saved, nil
}

// recentChanges are the latest announced state changes, oldest first.
func (s *Store) recentChanges(ctx context.Context) ([]probe.Transition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT from_state, to_state, at, began FROM changes WHERE kind = '' ORDER BY id DESC LIMIT ?`, bot.RecentChanges)
	if err != nil {
		return nil, fmt.Errorf("load recent changes: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.Transitions(rows)
	if err != nil {
		return nil, fmt.Errorf("load recent changes: %w", err)
	}
	return out, nil
}

// SaveRound persists one round and everything it changed in one transaction:
// the round, the tracker status, the incident, and the change with one outbox
// row per subscription. Either all of it is stored or none.
func (s *Store) SaveRound(ctx context.Context, snap *bot.Snapshot) error {
	r := snap.Round
	results, err := sqlstore.EncodeRound(r)
	if err != nil {
		return err
	}
	var (
		incID, changeID int64
		prune           = s.outboxRetention > 0 && s.pruning.Due(r.Start)
		pruneFull       bool
		queued          int64
	)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rounds (at, verdict, duration_ns, control_ok, results) VALUES (?, ?, ?, ?, ?)`,
			sqlstore.Nanos(r.Start), r.Verdict, int64(r.Duration), r.ControlOK(), results); err != nil {
			return fmt.Errorf("insert round: %w", err)
		}
		col := sqlstore.VerdictColumn(r.Verdict)
		hour := r.Start.UTC().Truncate(time.Hour).Unix()
		if _, err := tx.ExecContext(ctx, `INSERT INTO uptime_hourly (hour, `+col+`) VALUES (?, 1)
			ON CONFLICT (hour) DO UPDATE SET `+col+` = `+col+` + 1`, hour); err != nil {
			return fmt.Errorf("count round: %w", err)
		}
		if s.retention > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM rounds WHERE at < ?`, sqlstore.Nanos(r.Start.Add(-s.retention))); err != nil {
				return fmt.Errorf("prune rounds: %w", err)
			}
		}
		if err := s.recordSpan(ctx, tx, snap.SpanState(), r.Start); err != nil {
			return err
		}
		if prune {
			var err error
			if pruneFull, err = pruneOutbox(ctx, tx, r.Start.Add(-s.outboxRetention)); err != nil {
				return err
			}
		}
		if inc := snap.Incident; inc != nil {
			causes, err := sqlstore.EncodeCauses(inc.Causes)
			if err != nil {
				return fmt.Errorf("encode incident causes: %w", err)
			}
			var end any
			if !inc.End.IsZero() {
				end = sqlstore.Nanos(inc.End)
			}
			if inc.ID == 0 {
				res, err := tx.ExecContext(ctx, `INSERT INTO incidents (start_at, end_at, worst, causes) VALUES (?, ?, ?, ?)`,
					sqlstore.Nanos(inc.Start), end, inc.Worst, causes)
				if err != nil {
					return fmt.Errorf("insert incident: %w", err)
				}
				if incID, err = res.LastInsertId(); err != nil {
					return fmt.Errorf("insert incident: %w", err)
				}
			} else {
				incID = inc.ID
				if _, err := tx.ExecContext(ctx, `UPDATE incidents SET end_at = ?, worst = ?, causes = ? WHERE id = ?`,
					end, inc.Worst, causes, inc.ID); err != nil {
					return fmt.Errorf("update incident: %w", err)
				}
			}
		}
		if ch := snap.Change; ch != nil {
			causes, err := sqlstore.EncodeCauses(ch.Causes)
			if err != nil {
				return fmt.Errorf("encode change causes: %w", err)
			}
			chIncID := incID
			if chIncID == 0 && ch.Kind != bot.ChangeTransition {
				// An unstable or settled message belongs to the incident open now, if any.
				var open sql.NullInt64
				if err := tx.QueryRowContext(ctx, `SELECT incident_id FROM state WHERE id = 1`).Scan(&open); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("read the open incident: %w", err)
				}
				chIncID = open.Int64
			}
			var chInc any
			if chIncID != 0 {
				chInc = chIncID
			}
			regions, err := sqlstore.EncodeRegions(ch.Regions)
			if err != nil {
				return err
			}
			tr := ch.Transition
			res, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, from_state, to_state, at, began, incident_id, causes, flaps, flap_since, regions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				ch.Kind, tr.From, tr.To, sqlstore.Nanos(tr.At), sqlstore.Nanos(tr.Began), chInc, causes, ch.Flaps, sqlstore.Nanos(ch.FlapSince), regions)
			if err != nil {
				return fmt.Errorf("insert change: %w", err)
			}
			if changeID, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("insert change: %w", err)
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
				if err := tx.QueryRowContext(ctx, `SELECT flap_change FROM state WHERE id = 1`).Scan(&unstableID); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("read the unstable change: %w", err)
				}
			case snap.Flap != nil:
				unstableID = snap.Flap.ChangeID
			}
			n, err := fanOut(ctx, tx, changeID, chIncID, snap.Incident, ch, unstableID)
			if err != nil {
				return err
			}
			queued += n
		}
		var open any
		if snap.Incident != nil && snap.Incident.Open() {
			open = incID
		}
		st := snap.Status
		_, err := tx.ExecContext(ctx, `INSERT INTO state (id, state, since, pending, streak, pending_since, incident_id) VALUES (1, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, since = excluded.since, pending = excluded.pending,
				streak = excluded.streak, pending_since = excluded.pending_since, incident_id = CASE WHEN ? THEN excluded.incident_id ELSE incident_id END`,
			st.State, sqlstore.Nanos(st.Since), st.Pending, st.Streak, sqlstore.Nanos(st.PendingSince), open, snap.Incident != nil)
		if err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		if f := snap.Flap; f != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE state SET flap_since = ?, flap_changes = ?, flap_worst = ?, flap_change = ? WHERE id = 1`,
				sqlstore.Nanos(f.Since), f.Changes, f.Worst, f.ChangeID); err != nil {
				return fmt.Errorf("save flapping: %w", err)
			}
		}
		var (
			openID    sql.NullInt64
			flapSince int64
		)
		if err := tx.QueryRowContext(ctx, `SELECT incident_id, flap_since FROM state WHERE id = 1`).Scan(&openID, &flapSince); err != nil {
			return fmt.Errorf("read the open incident: %w", err)
		}
		n, err := endMutes(ctx, tx, st, openID.Int64, r.Start)
		if err != nil {
			return err
		}
		queued += n
		if flapSince != 0 {
			return nil // no reminders while X flaps: the unstable message stands for them
		}
		if n, err = remind(ctx, tx, st, openID.Int64, r.Start); err != nil {
			return err
		}
		queued += n
		return nil
	})
	if err != nil {
		return fmt.Errorf("save round: %w", err)
	}
	if prune {
		s.pruning.Pruned(r.Start, pruneFull)
	}
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

// Uptime counts rounds by verdict between two times, from the hourly roll-up.
func (s *Store) Uptime(ctx context.Context, from, to time.Time) (map[probe.Verdict]int, error) {
	var up, degraded, down, unknown int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(up),0), COALESCE(SUM(degraded),0), COALESCE(SUM(down),0), COALESCE(SUM(unknown),0)
		FROM uptime_hourly WHERE hour >= ? AND hour < ?`, from.UTC().Truncate(time.Hour).Unix(), to.Unix()).Scan(&up, &degraded, &down, &unknown)
	if err != nil {
		return nil, fmt.Errorf("uptime: %w", err)
	}
	return map[probe.Verdict]int{probe.VerdictUp: up, probe.VerdictDegraded: degraded, probe.VerdictDown: down, probe.VerdictUnknown: unknown}, nil
}
