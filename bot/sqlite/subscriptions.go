package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// Subscribe adds a subscription; created is false if the chat was subscribed already.
func (s *Store) Subscribe(ctx context.Context, sub bot.Subscription) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO subscriptions (platform, chat_id, kind, grp, lang, created_at, subscribed_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO NOTHING`,
		sub.Chat.Platform, sub.Chat.ID, sub.Kind, sub.Group, sub.Lang, sqlstore.Nanos(sub.CreatedAt), sub.By)
	if err != nil {
		return false, fmt.Errorf("subscribe %s: %w", sub.Chat, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("subscribe %s: %w", sub.Chat, err)
	}
	return n > 0, nil
}

// Unsubscribe ends a chat's subscription; its undelivered alerts are dropped.
func (s *Store) Unsubscribe(ctx context.Context, chat bot.ChatRef) (bool, error) {
	var removed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		removed, err = endSubscription(ctx, tx, chat, "unsubscribed", time.Now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("unsubscribe %s: %w", chat, err)
	}
	return removed, nil
}

func endSubscription(ctx context.Context, tx *sql.Tx, chat bot.ChatRef, reason string, at time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?`, chat.Platform, chat.ID)
	if err != nil {
		return false, fmt.Errorf("delete subscription: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete subscription: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `UPDATE outbox SET status = ?, reason = ?, finished_at = ?
		WHERE platform = ? AND chat_id = ? AND status = 'pending'`, bot.StatusGone, reason, sqlstore.Nanos(at), chat.Platform, chat.ID); err != nil {
		return false, fmt.Errorf("drop pending alerts: %w", err)
	}
	return n > 0, nil
}

// UnsubscribeGroup ends every subscription of a group (a Discord server).
func (s *Store) UnsubscribeGroup(ctx context.Context, p bot.Platform, group string) (int, error) {
	if group == "" {
		return 0, nil
	}
	var count int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT chat_id FROM subscriptions WHERE platform = ? AND grp = ?`, p, group)
		if err != nil {
			return fmt.Errorf("list the group's chats: %w", err)
		}
		var chats []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("list the group's chats: %w", err)
			}
			chats = append(chats, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("list the group's chats: %w", err)
		}
		for _, id := range chats {
			if _, err := endSubscription(ctx, tx, bot.ChatRef{Platform: p, ID: id}, "removed from server", time.Now()); err != nil {
				return err
			}
		}
		count = len(chats)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("unsubscribe group %s:%s: %w", p, group, err)
	}
	return count, nil
}

// MigrateChat moves a subscription and its pending alerts to a new chat id.
func (s *Store) MigrateChat(ctx context.Context, from, to bot.ChatRef) error {
	now := sqlstore.Nanos(time.Now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// If the new id is subscribed already, the old subscription just ends.
		if _, err := tx.ExecContext(ctx, `UPDATE OR IGNORE subscriptions SET platform = ?, chat_id = ? WHERE platform = ? AND chat_id = ?`,
			to.Platform, to.ID, from.Platform, from.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?`, from.Platform, from.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE OR IGNORE outbox SET platform = ?, chat_id = ? WHERE platform = ? AND chat_id = ? AND status = 'pending'`,
			to.Platform, to.ID, from.Platform, from.ID); err != nil {
			return err
		}
		// Rows left behind duplicate a row the new id already has.
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, reason = 'migrated', finished_at = ? WHERE platform = ? AND chat_id = ? AND status = 'pending'`,
			bot.StatusCoalesced, now, from.Platform, from.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s to %s: %w", from, to, err)
	}
	return nil
}

// Subscriptions lists every subscription (for the console adapter, tests and tools).
func (s *Store) Subscriptions(ctx context.Context) ([]bot.Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT platform, chat_id, kind, grp, lang, created_at, subscribed_by FROM subscriptions ORDER BY platform, chat_id`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []bot.Subscription
	for rows.Next() {
		var sub bot.Subscription
		var created int64
		if err := rows.Scan(&sub.Chat.Platform, &sub.Chat.ID, &sub.Kind, &sub.Group, &sub.Lang, &created, &sub.By); err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		sub.CreatedAt = sqlstore.FromNanos(created)
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// SubscribedBy counts the chats of a platform that user subscribed.
func (s *Store) SubscribedBy(ctx context.Context, p bot.Platform, user string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE platform = ? AND subscribed_by = ?`, p, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subscriptions by %s:%s: %w", p, user, err)
	}
	return n, nil
}
