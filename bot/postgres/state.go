package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Load returns the tracker state, the open (or last) incident and the last round.
//
// Its reads share one snapshot (REPEATABLE READ, read-only): a follower
// loading while the leader saves a round sees the round whole or not at all.
func (s *Store) Load(ctx context.Context) (saved bot.Saved, err error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		saved, err = load(ctx, tx)
		return err
	})
	return saved, err
}

func load(ctx context.Context, q pgx.Tx) (bot.Saved, error) {
	var (
		saved                          bot.Saved
		since, pendingSince, flapSince int64
		incID                          *int64
		status                         probe.Status
	)
	err := q.QueryRow(ctx, `SELECT state, since, pending, streak, pending_since, incident_id, flap_since, flap_changes, flap_worst, flap_change FROM state WHERE id = 1`).
		Scan(&status.State, &since, &status.Pending, &status.Streak, &pendingSince, &incID, &flapSince, &saved.Flap.Changes, &saved.Flap.Worst, &saved.Flap.ChangeID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		status.State = probe.StateUnknown
	case err != nil:
		return saved, fmt.Errorf("load state: %w", err)
	default:
		status.Since, status.PendingSince = sqlstore.FromNanos(since), sqlstore.FromNanos(pendingSince)
		saved.Flap.Since = sqlstore.FromNanos(flapSince)
	}
	saved.Status = status
	if saved.Recent, err = recentChanges(ctx, q); err != nil {
		return saved, err
	}

	incQuery := `SELECT id, start_at, COALESCE(end_at, 0), worst, causes FROM incidents ORDER BY id DESC LIMIT 1`
	var args []any
	if incID != nil {
		incQuery, args = `SELECT id, start_at, COALESCE(end_at, 0), worst, causes FROM incidents WHERE id = $1`, []any{*incID}
	}
	inc, err := sqlstore.ScanIncident(q.QueryRow(ctx, incQuery, args...))
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return saved, fmt.Errorf("load incident: %w", err)
	}
	saved.Incident = inc

	var (
		results string
		r       probe.Round
		at, dur int64
	)
	err = q.QueryRow(ctx, `SELECT at, duration_ns, verdict, results FROM rounds ORDER BY id DESC LIMIT 1`).Scan(&at, &dur, &r.Verdict, &results)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
func recentChanges(ctx context.Context, q pgx.Tx) ([]probe.Transition, error) {
	rows, err := q.Query(ctx, `SELECT from_state, to_state, at, began FROM changes WHERE kind = '' ORDER BY id DESC LIMIT $1`, bot.RecentChanges)
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
// row per subscription. Either all of it is stored or none. It is a leader
// write: a store whose lease term is over stores nothing and returns an error
// wrapping bot.ErrDeposed.
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
	ctx, cancel := bound(ctx)
	defer cancel()
	err = s.leaderTx(ctx, func(tx pgx.Tx, _ bot.Term) error {
		if _, err := tx.Exec(ctx, `INSERT INTO rounds (at, verdict, duration_ns, control_ok, results) VALUES ($1, $2, $3, $4, $5)`,
			sqlstore.Nanos(r.Start), r.Verdict, int64(r.Duration), r.ControlOK(), string(results)); err != nil {
			return fmt.Errorf("insert round: %w", err)
		}
		col := sqlstore.VerdictColumn(r.Verdict)
		hour := r.Start.UTC().Truncate(time.Hour).Unix()
		if _, err := tx.Exec(ctx, `INSERT INTO uptime_hourly (hour, `+col+`) VALUES ($1, 1)
			ON CONFLICT (hour) DO UPDATE SET `+col+` = uptime_hourly.`+col+` + 1`, hour); err != nil {
			return fmt.Errorf("count round: %w", err)
		}
		if s.retention > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM rounds WHERE at < $1`, sqlstore.Nanos(r.Start.Add(-s.retention))); err != nil {
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
			var end *int64
			if !inc.End.IsZero() {
				n := sqlstore.Nanos(inc.End)
				end = &n
			}
			if inc.ID == 0 {
				if err := tx.QueryRow(ctx, `INSERT INTO incidents (start_at, end_at, worst, causes) VALUES ($1, $2, $3, $4) RETURNING id`,
					sqlstore.Nanos(inc.Start), end, inc.Worst, string(causes)).Scan(&incID); err != nil {
					return fmt.Errorf("insert incident: %w", err)
				}
			} else {
				incID = inc.ID
				if _, err := tx.Exec(ctx, `UPDATE incidents SET end_at = $1, worst = $2, causes = $3 WHERE id = $4`,
					end, inc.Worst, string(causes), inc.ID); err != nil {
					return fmt.Errorf("update incident: %w", err)
				}
			}
		}
		if ch := snap.Change; ch != nil {
			causes, err := sqlstore.EncodeCauses(ch.Causes)
			if err != nil {
				return fmt.Errorf("encode change causes: %w", err)
			}
			regions, err := sqlstore.EncodeRegions(ch.Regions)
			if err != nil {
				return err
			}
			chIncID := incID
			if chIncID == 0 && ch.Kind != bot.ChangeTransition {
				// An unstable or settled message belongs to the incident open now, if any.
				var open *int64
				if err := tx.QueryRow(ctx, `SELECT incident_id FROM state WHERE id = 1`).Scan(&open); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("read the open incident: %w", err)
				}
				if open != nil {
					chIncID = *open
				}
			}
			tr := ch.Transition
			if err := tx.QueryRow(ctx, `INSERT INTO changes (kind, from_state, to_state, at, began, incident_id, causes, regions, flaps, flap_since)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
				ch.Kind, tr.From, tr.To, sqlstore.Nanos(tr.At), sqlstore.Nanos(tr.Began), nullID(chIncID), string(causes), regions, ch.Flaps, sqlstore.Nanos(ch.FlapSince)).Scan(&changeID); err != nil {
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
				if err := tx.QueryRow(ctx, `SELECT flap_change FROM state WHERE id = 1`).Scan(&unstableID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
		var open *int64
		if snap.Incident != nil && snap.Incident.Open() {
			open = &incID
		}
		st := snap.Status
		_, err := tx.Exec(ctx, `INSERT INTO state (id, state, since, pending, streak, pending_since, incident_id) VALUES (1, $1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, since = excluded.since, pending = excluded.pending,
				streak = excluded.streak, pending_since = excluded.pending_since,
				incident_id = CASE WHEN $7 THEN excluded.incident_id ELSE state.incident_id END`,
			st.State, sqlstore.Nanos(st.Since), st.Pending, st.Streak, sqlstore.Nanos(st.PendingSince), open, snap.Incident != nil)
		if err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		if f := snap.Flap; f != nil {
			if _, err := tx.Exec(ctx, `UPDATE state SET flap_since = $1, flap_changes = $2, flap_worst = $3, flap_change = $4 WHERE id = 1`,
				sqlstore.Nanos(f.Since), f.Changes, f.Worst, f.ChangeID); err != nil {
				return fmt.Errorf("save flapping: %w", err)
			}
		}
		var (
			openID    *int64
			flapSince int64
		)
		if err := tx.QueryRow(ctx, `SELECT incident_id, flap_since FROM state WHERE id = 1`).Scan(&openID, &flapSince); err != nil {
			return fmt.Errorf("read the open incident: %w", err)
		}
		var openNow int64
		if openID != nil {
			openNow = *openID
		}
		n, err := endMutes(ctx, tx, st, openNow, r.Start)
		if err != nil {
			return err
		}
		queued += n
		if flapSince != 0 {
			return nil // no reminders while X flaps: the unstable message stands for them
		}
		if n, err = remind(ctx, tx, st, openNow, r.Start); err != nil {
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

// nullID is an incident id as a nullable column: 0 is none.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// Uptime counts rounds by verdict between two times, from the hourly roll-up.
func (s *Store) Uptime(ctx context.Context, from, to time.Time) (map[probe.Verdict]int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var up, degraded, down, unknown int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(up),0)::bigint, COALESCE(SUM(degraded),0)::bigint, COALESCE(SUM(down),0)::bigint, COALESCE(SUM(unknown),0)::bigint
		FROM uptime_hourly WHERE hour >= $1 AND hour < $2`, from.UTC().Truncate(time.Hour).Unix(), to.Unix()).Scan(&up, &degraded, &down, &unknown)
	if err != nil {
		return nil, fmt.Errorf("uptime: %w", err)
	}
	return map[probe.Verdict]int{probe.VerdictUp: up, probe.VerdictDegraded: degraded, probe.VerdictDown: down, probe.VerdictUnknown: unknown}, nil
}
