package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// Subscribe adds a subscription; created is false if the chat was subscribed already.
func (s *Store) Subscribe(ctx context.Context, sub bot.Subscription) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `INSERT INTO subscriptions (platform, chat_id, kind, grp, lang, created_at, subscribed_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (platform, chat_id) DO NOTHING`,
		sub.Chat.Platform, sub.Chat.ID, sub.Kind, sub.Group, sub.Lang, sqlstore.Nanos(sub.CreatedAt), sub.By)
	if err != nil {
		return false, fmt.Errorf("subscribe %s: %w", sub.Chat, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Unsubscribe ends a chat's subscription; its undelivered alerts are dropped.
func (s *Store) Unsubscribe(ctx context.Context, chat bot.ChatRef) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var removed bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		removed, err = endSubscription(ctx, tx, chat, "unsubscribed", time.Now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("unsubscribe %s: %w", chat, err)
	}
	return removed, nil
}

func endSubscription(ctx context.Context, tx pgx.Tx, chat bot.ChatRef, reason string, at time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE platform = $1 AND chat_id = $2`, chat.Platform, chat.ID)
	if err != nil {
		return false, fmt.Errorf("delete subscription: %w", err)
	}
	if _, err = tx.Exec(ctx, `UPDATE outbox SET status = $1, reason = $2, finished_at = $3, `+unclaim+`
		WHERE platform = $4 AND chat_id = $5 AND status = 'pending'`, bot.StatusGone, reason, sqlstore.Nanos(at), chat.Platform, chat.ID); err != nil {
		return false, fmt.Errorf("drop pending alerts: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// UnsubscribeGroup ends every subscription of a group (a Discord server).
func (s *Store) UnsubscribeGroup(ctx context.Context, p bot.Platform, group string) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	if group == "" {
		return 0, nil
	}
	var count int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT chat_id FROM subscriptions WHERE platform = $1 AND grp = $2`, p, group)
		if err != nil {
			return fmt.Errorf("list the group's chats: %w", err)
		}
		chats, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
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
	ctx, cancel := bound(ctx)
	defer cancel()
	now := sqlstore.Nanos(time.Now())
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// If the new id is subscribed already, the old subscription just ends.
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET platform = $1, chat_id = $2 WHERE platform = $3 AND chat_id = $4
			AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE platform = $1 AND chat_id = $2)`,
			to.Platform, to.ID, from.Platform, from.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE platform = $1 AND chat_id = $2`, from.Platform, from.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox o SET platform = $1, chat_id = $2 WHERE o.platform = $3 AND o.chat_id = $4 AND o.status = 'pending'
			AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.change_id = o.change_id AND x.platform = $1 AND x.chat_id = $2)`,
			to.Platform, to.ID, from.Platform, from.ID); err != nil {
			return err
		}
		// Rows left behind duplicate a row the new id already has.
		_, err := tx.Exec(ctx, `UPDATE outbox SET status = $1, reason = 'migrated', finished_at = $2, `+unclaim+`
			WHERE platform = $3 AND chat_id = $4 AND status = 'pending'`,
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
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT platform, chat_id, kind, grp, lang, created_at, subscribed_by FROM subscriptions ORDER BY platform, chat_id`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bot.Subscription, error) {
		var (
			sub     bot.Subscription
			created int64
		)
		err := row.Scan(&sub.Chat.Platform, &sub.Chat.ID, &sub.Kind, &sub.Group, &sub.Lang, &created, &sub.By)
		sub.CreatedAt = sqlstore.FromNanos(created)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// SubscribedBy counts the chats of a platform that user subscribed.
func (s *Store) SubscribedBy(ctx context.Context, p bot.Platform, user string) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM subscriptions WHERE platform = $1 AND subscribed_by = $2`, p, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subscriptions by %s:%s: %w", p, user, err)
	}
	return n, nil
}
