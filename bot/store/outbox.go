package store

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Due returns every pending row of up to limit chats of a platform whose
// oldest pending row is due, skipping busy chats (and, where replicas share
// the database, chats another replica's live claim holds: the rows returned
// are claimed). Chats come in the order of their oldest row, so a chat that
// waited out a rate limit gets its place in the fan-out back instead of
// going to the end of it; rows by chat then id.
func (s *Store) Due(ctx context.Context, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	out, err := s.d.due(ctx, s, p, now, limit, busy)
	if err != nil {
		return nil, fmt.Errorf("due outbox rows of %s: %w", p, err)
	}
	return out, nil
}

// dueRows reads the pending rows that rows picks (a condition on outbox o,
// with its args) with their change, incident and the message a recovery
// replies to: the chat's first sent row of the incident, found by the
// incident's changes in the outbox's unique index (change_id, platform,
// chat_id), not by sorting every row the chat ever had (0.7 ms a page of 64
// instead of 10–15 ms with 30 days of daily outages kept at 100,000
// subscribers).
func dueRows(ctx context.Context, tx q, p bot.Platform, rows string, args ...any) ([]bot.Delivery, error) {
	rs, err := tx.query(ctx, `SELECT o.id, o.chat_id, o.lang, o.attempts, o.created_at, o.next_at,
			c.id, c.kind, c.flaps, c.flap_since, c.from_state, c.to_state, c.at, c.began, c.causes, c.regions,
			COALESCE(i.id, 0), COALESCE(i.start_at, 0), COALESCE(i.end_at, 0), COALESCE(i.worst, ''), COALESCE(i.causes, '[]'),
			COALESCE((SELECT r.message_id FROM outbox r
				WHERE r.platform = o.platform AND r.chat_id = o.chat_id AND r.change_id IN (SELECT rc.id FROM changes rc WHERE rc.incident_id = c.incident_id)
				AND r.status = 'sent' AND r.message_id <> '' ORDER BY r.change_id LIMIT 1), '')
		FROM outbox o JOIN changes c ON c.id = o.change_id LEFT JOIN incidents i ON i.id = c.incident_id
		WHERE o.status = 'pending' AND `+rows+`
		ORDER BY o.chat_id, o.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("due rows: %w", err)
	}
	out, err := collect(rs, func(r row) (bot.Delivery, error) {
		var (
			d                                    bot.Delivery
			created, next, at, began, start, end int64
			flapSince                            int64
			changeCauses, incCauses              []byte
			regions                              string
		)
		d.Chat.Platform = p
		ch := &d.Change
		if err := r.Scan(&d.ID, &d.Chat.ID, &d.Lang, &d.Attempts, &created, &next,
			&ch.ID, &ch.Kind, &ch.Flaps, &flapSince, &ch.Transition.From, &ch.Transition.To, &at, &began, &changeCauses, &regions,
			&ch.Incident.ID, &start, &end, &ch.Incident.Worst, &incCauses, &d.ReplyTo); err != nil {
			return d, err
		}
		d.CreatedAt, d.NextAt, ch.Transition.At, ch.Transition.Began = fromNanos(created), fromNanos(next), fromNanos(at), fromNanos(began)
		ch.Incident.Start, ch.Incident.End = fromNanos(start), fromNanos(end)
		ch.FlapSince = fromNanos(flapSince)
		var err error
		if ch.Causes, err = decodeCauses(changeCauses); err != nil {
			return d, fmt.Errorf("decode change causes: %w", err)
		}
		if ch.Incident.Causes, err = decodeCauses(incCauses); err != nil {
			return d, fmt.Errorf("decode incident causes: %w", err)
		}
		ch.Regions, err = decodeRegions(regions)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("due rows: %w", err)
	}
	return out, nil
}

// Finish records the final status of rows and clears their claims. Gone
// also ends the chat's subscription and drops its other pending rows. Where
// rows carry claims, it is fenced by them in the same statement: only the
// replica whose claim the rows still carry (or any, for rows nobody claims)
// records their outcome, whoever leads now, since it alone knows whether it
// sent them. Rows whose claim passed to another replica are refused with
// bot.ErrDeposed: that replica sends them. Rows no longer pending are left
// as they are.
func (s *Store) Finish(ctx context.Context, ids []int64, status bot.DeliveryStatus, messageID, reason string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := s.d.claim()
	err := s.tx(ctx, func(tx q) error {
		in, idArgs := anyOf(s.d, "id", ids)
		args := append([]any{status, messageID, reason, nanos(at)}, idArgs...)
		n, err := tx.affected(ctx, `UPDATE outbox SET status = ?, message_id = ?, reason = ?, finished_at = ?`+c.unclaim+`
			WHERE status = 'pending' AND `+in+c.fence, append(args, c.fenceArgs...)...)
		if err != nil {
			return fmt.Errorf("update rows: %w", err)
		}
		if n < int64(len(ids)) {
			if err := s.d.claimLost(ctx, tx, ids); err != nil {
				return err
			}
		}
		if status != bot.StatusGone || n == 0 {
			return nil
		}
		var chat bot.ChatRef
		if err := tx.row(ctx, `SELECT platform, chat_id FROM outbox WHERE id = ?`, ids[0]).Scan(&chat.Platform, &chat.ID); err != nil {
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

// Retry reschedules a row after a failed attempt and clears its claim. It
// is fenced by the row's claim, as Finish is: a late Retry from a replica
// whose claim passed to another is refused with bot.ErrDeposed and leaves
// the new claim and attempts alone.
func (s *Store) Retry(ctx context.Context, id int64, next time.Time, attempts int, reason string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := s.d.claim()
	err := s.tx(ctx, func(tx q) error {
		n, err := tx.affected(ctx, `UPDATE outbox SET next_at = ?, attempts = ?, reason = ?`+c.unclaim+` WHERE id = ? AND status = 'pending'`+c.fence,
			append([]any{nanos(next), attempts, reason, id}, c.fenceArgs...)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.d.claimLost(ctx, tx, []int64{id})
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rs, err := s.q().query(ctx, `SELECT platform, COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending' GROUP BY platform`)
	var out map[bot.Platform]bot.Backlog
	if err == nil {
		out, err = backlog(rs)
	}
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.q().query(ctx, `SELECT id, change_id, platform, chat_id, status, message_id, attempts, reason, `+s.d.claim().column+` FROM outbox ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := collect(rows, func(r row) (Outcome, error) {
		var o Outcome
		err := r.Scan(&o.ID, &o.ChangeID, &o.Chat.Platform, &o.Chat.ID, &o.Status, &o.MessageID, &o.Attempts, &o.Reason, &o.ClaimedBy)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}
