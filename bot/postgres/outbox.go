package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// claimable is an SQL condition on outbox row o: no other replica's claim
// stands in the way. A claim lapses only when it expires (claimed_until, on
// the database's clock), even when its leader has lost the lease: that
// replica may be frozen in the middle of a send the platform already took,
// and when it wakes it records that send, which its claim lets it do. This
// replica's own claims never stop it, as in the SQLite store, where the
// dispatcher's busy chats alone keep it from taking a chat twice. $1 is the
// holder, $2 the epoch.
const claimable = `(o.claimed_by = '' OR o.claimed_until < now() OR (o.claimed_by = $1 AND o.claim_epoch <= $2))`

// Due claims and returns every pending row of up to limit chats of a
// platform whose oldest pending row is due, skipping busy chats and chats
// another replica's live claim holds. Chats come in the order of their oldest
// row, rows by chat then id. Claiming is a leader write: a store whose lease
// term is over claims nothing and returns an error wrapping bot.ErrDeposed.
// Each chat is taken whole: its oldest row, locked FOR UPDATE SKIP LOCKED,
// stands for it, so two Dues running at once never return the same row.
func (s *Store) Due(ctx context.Context, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	skip := make([]string, 0, len(busy))
	for id, b := range busy {
		if b {
			skip = append(skip, id)
		}
	}
	var out []bot.Delivery
	ctx, cancel := bound(ctx)
	defer cancel()
	err := s.leaderTx(ctx, func(tx pgx.Tx, t bot.Term) error {
		// Heads are found first, then locked: a chat whose head another
		// transaction holds is skipped, not waited for.
		rows, err := tx.Query(ctx, `WITH heads AS (
				SELECT o.chat_id, MIN(o.id) AS head FROM outbox o
				WHERE o.platform = $3 AND o.status = 'pending'
				GROUP BY o.chat_id HAVING bool_and`+claimable+`)
			SELECT o.id FROM heads h JOIN outbox o ON o.id = h.head
			WHERE o.next_at <= $4 AND o.chat_id <> ALL($5::text[])
			ORDER BY o.id LIMIT $6`, t.Holder, t.Epoch, p, sqlstore.Nanos(now), skip, limit)
		if err != nil {
			return fmt.Errorf("due chats: %w", err)
		}
		heads, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("due chats: %w", err)
		}
		if len(heads) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `SELECT o.chat_id FROM outbox o
			WHERE o.id = ANY($3) AND o.status = 'pending' AND `+claimable+`
			ORDER BY o.id FOR UPDATE SKIP LOCKED`, t.Holder, t.Epoch, heads)
		if err != nil {
			return fmt.Errorf("lock due chats: %w", err)
		}
		chats, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("lock due chats: %w", err)
		}
		if len(chats) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET claimed_by = $1, claim_epoch = $2, claimed_until = now() + make_interval(secs => $5::float8)
			WHERE platform = $3 AND status = 'pending' AND chat_id = ANY($4)`, t.Holder, t.Epoch, p, chats, s.claimTTL.Seconds()); err != nil {
			return fmt.Errorf("claim due rows: %w", err)
		}
		out, err = dueRows(ctx, tx, p, chats)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("due outbox rows of %s: %w", p, err)
	}
	return out, nil
}

// dueRows reads the pending rows of chats with their change, incident and
// the message a recovery replies to.
func dueRows(ctx context.Context, tx pgx.Tx, p bot.Platform, chats []string) ([]bot.Delivery, error) {
	rs, err := tx.Query(ctx, `SELECT o.id, o.chat_id, o.lang, o.attempts, o.created_at, o.next_at,
			c.id, c.kind, c.flaps, c.flap_since, c.from_state, c.to_state, c.at, c.began, c.causes, c.regions,
			COALESCE(i.id, 0), COALESCE(i.start_at, 0), COALESCE(i.end_at, 0), COALESCE(i.worst, ''), COALESCE(i.causes, '[]'),
			COALESCE((SELECT r.message_id FROM outbox r JOIN changes rc ON rc.id = r.change_id
				WHERE r.platform = o.platform AND r.chat_id = o.chat_id AND rc.incident_id = c.incident_id
				AND r.status = 'sent' AND r.message_id <> '' ORDER BY r.id LIMIT 1), '')
		FROM outbox o JOIN changes c ON c.id = o.change_id LEFT JOIN incidents i ON i.id = c.incident_id
		WHERE o.platform = $1 AND o.status = 'pending' AND o.chat_id = ANY($2)
		ORDER BY o.chat_id, o.id`, p, chats)
	if err != nil {
		return nil, fmt.Errorf("due rows: %w", err)
	}
	defer rs.Close()
	var out []bot.Delivery
	for rs.Next() {
		var (
			d                                    bot.Delivery
			created, next, at, began, start, end int64
			flapSince                            int64
			changeCauses, regions, incCauses     string
		)
		d.Chat.Platform = p
		ch := &d.Change
		if err := rs.Scan(&d.ID, &d.Chat.ID, &d.Lang, &d.Attempts, &created, &next,
			&ch.ID, &ch.Kind, &ch.Flaps, &flapSince, &ch.Transition.From, &ch.Transition.To, &at, &began, &changeCauses, &regions,
			&ch.Incident.ID, &start, &end, &ch.Incident.Worst, &incCauses, &d.ReplyTo); err != nil {
			return nil, fmt.Errorf("due rows: %w", err)
		}
		d.CreatedAt, d.NextAt, ch.Transition.At, ch.Transition.Began = sqlstore.FromNanos(created), sqlstore.FromNanos(next), sqlstore.FromNanos(at), sqlstore.FromNanos(began)
		ch.Incident.Start, ch.Incident.End = sqlstore.FromNanos(start), sqlstore.FromNanos(end)
		ch.FlapSince = sqlstore.FromNanos(flapSince)
		if ch.Causes, err = sqlstore.DecodeCauses(changeCauses); err != nil {
			return nil, fmt.Errorf("decode change causes: %w", err)
		}
		if ch.Regions, err = sqlstore.DecodeRegions(regions); err != nil {
			return nil, err
		}
		if ch.Incident.Causes, err = sqlstore.DecodeCauses(incCauses); err != nil {
			return nil, fmt.Errorf("decode incident causes: %w", err)
		}
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("due rows: %w", err)
	}
	return out, nil
}

// unclaim is the SET clause that hands a row back: finished, or to be
// retried by whichever replica leads when it is due again.
const unclaim = `claimed_by = '', claim_epoch = 0, claimed_until = NULL`

// Finish records the final status of rows and clears their claims. Gone
// also ends the chat's subscription and drops its other pending rows. It is
// fenced by the rows' claim, in the same statement: only the replica whose
// claim the rows still carry (claimed_by, a holder name unique to this
// process) records their outcome, whoever leads now, since it alone knows
// whether it sent them (or, for rows nobody claims, any replica). Rows whose claim passed to another replica (it
// expired and the new leader took them) are refused with bot.ErrDeposed:
// that replica sends them. Rows no longer pending are left as they are.
func (s *Store) Finish(ctx context.Context, ids []int64, status bot.DeliveryStatus, messageID, reason string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox SET status = $1, message_id = $2, reason = $3, finished_at = $4, `+unclaim+`
			WHERE status = 'pending' AND id = ANY($5) AND claimed_by IN ('', $6)`, status, messageID, reason, sqlstore.Nanos(at), ids, s.holder)
		if err != nil {
			return fmt.Errorf("update rows: %w", err)
		}
		if tag.RowsAffected() < int64(len(ids)) {
			if err := s.claimLost(ctx, tx, ids); err != nil {
				return err
			}
		}
		if status != bot.StatusGone || tag.RowsAffected() == 0 {
			return nil
		}
		var chat bot.ChatRef
		if err := tx.QueryRow(ctx, `SELECT platform, chat_id FROM outbox WHERE id = $1`, ids[0]).Scan(&chat.Platform, &chat.ID); err != nil {
			return fmt.Errorf("find the gone chat: %w", err)
		}
		_, err = endSubscription(ctx, tx, chat, reason, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish outbox rows %v as %s: %w", ids, status, err)
	}
	return nil
}

// claimLost fails with bot.ErrDeposed when any of ids is still pending
// under a claim that is not this replica's: the fenced update left it.
func (s *Store) claimLost(ctx context.Context, tx pgx.Tx, ids []int64) error {
	var holder string
	err := tx.QueryRow(ctx, `SELECT claimed_by FROM outbox WHERE id = ANY($1) AND status = 'pending' AND claimed_by NOT IN ('', $2) ORDER BY id LIMIT 1`,
		ids, s.holder).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the claims: %w", err)
	}
	return s.deposed(fmt.Errorf("%w (the rows' claim is %s's, not %s's)", bot.ErrDeposed, holder, s.holder))
}

// Retry reschedules a row after a failed attempt and clears its claim. It
// is fenced by the row's claim, as Finish is: a late Retry from a replica
// whose claim passed to another is refused with bot.ErrDeposed and leaves
// the new claim and attempts alone.
func (s *Store) Retry(ctx context.Context, id int64, next time.Time, attempts int, reason string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox SET next_at = $1, attempts = $2, reason = $3, `+unclaim+` WHERE id = $4 AND status = 'pending' AND claimed_by IN ('', $5)`,
			sqlstore.Nanos(next), attempts, reason, id, s.holder)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return s.claimLost(ctx, tx, []int64{id})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reschedule outbox row %d: %w", id, err)
	}
	return nil
}

// Backlog counts pending rows per platform and finds the oldest.
func (s *Store) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT platform, COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending' GROUP BY platform`)
	if err != nil {
		return nil, fmt.Errorf("outbox backlog: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.Backlog(rows)
	if err != nil {
		return nil, fmt.Errorf("outbox backlog: %w", err)
	}
	return out, nil
}

// Outcome is one outbox row as finished, for tests and tools.
type Outcome struct {
	ID        int64
	ChangeID  int64
	Chat      bot.ChatRef
	Status    bot.DeliveryStatus
	MessageID string
	Attempts  int
	Reason    string
	// ClaimedBy is the replica whose claim holds the row, '' when none.
	ClaimedBy string
}

// Outcomes lists every outbox row in id order.
func (s *Store) Outcomes(ctx context.Context) ([]Outcome, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT id, change_id, platform, chat_id, status, message_id, attempts, reason, claimed_by FROM outbox ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Outcome, error) {
		var o Outcome
		err := row.Scan(&o.ID, &o.ChangeID, &o.Chat.Platform, &o.Chat.ID, &o.Status, &o.MessageID, &o.Attempts, &o.Reason, &o.ClaimedBy)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}
