package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// Due returns every pending row of up to limit chats of a platform whose
// oldest pending row is due, skipping busy chats. Chats come in the order of
// their oldest row, so a chat that waited out a rate limit gets its place in
// the fan-out back instead of going to the end of it.
func (s *Store) Due(ctx context.Context, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.chat_id FROM outbox o
		JOIN (SELECT MIN(id) AS head FROM outbox WHERE platform = ? AND status = 'pending' GROUP BY chat_id) h ON o.id = h.head
		WHERE o.next_at <= ? ORDER BY o.id LIMIT ?`, p, sqlstore.Nanos(now), limit+len(busy))
	if err != nil {
		return nil, fmt.Errorf("due chats: %w", err)
	}
	var chats []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("due chats: %w", err)
		}
		if !busy[id] && len(chats) < limit {
			chats = append(chats, id)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("due chats: %w", err)
	}
	if len(chats) == 0 {
		return nil, nil
	}
	args := append([]any{p}, chats...)
	q := `SELECT o.id, o.chat_id, o.lang, o.attempts, o.created_at, o.next_at,
			c.id, c.kind, c.flaps, c.flap_since, c.from_state, c.to_state, c.at, c.began, c.causes, c.regions,
			COALESCE(i.id, 0), COALESCE(i.start_at, 0), COALESCE(i.end_at, 0), COALESCE(i.worst, ''), COALESCE(i.causes, '[]'),
			COALESCE((SELECT r.message_id FROM outbox r JOIN changes rc ON rc.id = r.change_id
				WHERE r.platform = o.platform AND r.chat_id = o.chat_id AND rc.incident_id = c.incident_id
				AND r.status = 'sent' AND r.message_id <> '' ORDER BY r.id LIMIT 1), '')
		FROM outbox o JOIN changes c ON c.id = o.change_id LEFT JOIN incidents i ON i.id = c.incident_id
		WHERE o.platform = ? AND o.status = 'pending' AND o.chat_id IN (?` + strings.Repeat(",?", len(chats)-1) + `)
		ORDER BY o.chat_id, o.id`
	rs, err := s.db.QueryContext(ctx, q, args...)
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
			changeCauses, incCauses              []byte
			regions                              string
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
		if ch.Incident.Causes, err = sqlstore.DecodeCauses(incCauses); err != nil {
			return nil, fmt.Errorf("decode incident causes: %w", err)
		}
		if ch.Regions, err = sqlstore.DecodeRegions(regions); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("due rows: %w", err)
	}
	return out, nil
}

// Finish records the final status of rows. Gone also ends the chat's
// subscription and drops its other pending rows.
func (s *Store) Finish(ctx context.Context, ids []int64, status bot.DeliveryStatus, messageID, reason string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{status, messageID, reason, sqlstore.Nanos(at)}
	for _, id := range ids {
		args = append(args, id)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		in := "(?" + strings.Repeat(",?", len(ids)-1) + ")"
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, message_id = ?, reason = ?, finished_at = ?
			WHERE status = 'pending' AND id IN `+in, args...); err != nil {
			return fmt.Errorf("update rows: %w", err)
		}
		if status != bot.StatusGone {
			return nil
		}
		var chat bot.ChatRef
		if err := tx.QueryRowContext(ctx, `SELECT platform, chat_id FROM outbox WHERE id = ?`, ids[0]).Scan(&chat.Platform, &chat.ID); err != nil {
			return fmt.Errorf("find the gone chat: %w", err)
		}
		_, err := endSubscription(ctx, tx, chat, reason, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish outbox rows %v as %s: %w", ids, status, err)
	}
	return nil
}

// Retry reschedules a row after a failed attempt.
func (s *Store) Retry(ctx context.Context, id int64, next time.Time, attempts int, reason string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE outbox SET next_at = ?, attempts = ?, reason = ? WHERE id = ? AND status = 'pending'`,
		sqlstore.Nanos(next), attempts, reason, id); err != nil {
		return fmt.Errorf("reschedule outbox row %d: %w", id, err)
	}
	return nil
}

// Backlog counts pending rows per platform and finds the oldest.
func (s *Store) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT platform, COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending' GROUP BY platform`)
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
}

// Outcomes lists every outbox row in id order.
func (s *Store) Outcomes(ctx context.Context) ([]Outcome, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, change_id, platform, chat_id, status, message_id, attempts, reason FROM outbox ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []Outcome
	for rows.Next() {
		var o Outcome
		if err := rows.Scan(&o.ID, &o.ChangeID, &o.Chat.Platform, &o.Chat.ID, &o.Status, &o.MessageID, &o.Attempts, &o.Reason); err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}
