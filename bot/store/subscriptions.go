package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Subscribe adds a subscription; created is false if the chat was subscribed already.
func (s *Store) Subscribe(ctx context.Context, sub bot.Subscription) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := s.q().affected(ctx, `INSERT INTO subscriptions (platform, chat_id, kind, grp, lang, created_at, subscribed_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO NOTHING`,
		sub.Chat.Platform, sub.Chat.ID, sub.Kind, sub.Group, sub.Lang, nanos(sub.CreatedAt), sub.By)
	if err != nil {
		return false, fmt.Errorf("subscribe %s: %w", sub.Chat, err)
	}
	return n > 0, nil
}

// Unsubscribe ends a chat's subscription; its undelivered alerts are dropped.
func (s *Store) Unsubscribe(ctx context.Context, chat bot.ChatRef) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var removed bool
	err := s.tx(ctx, func(tx q) error {
		var err error
		removed, err = endSubscription(ctx, tx, chat, "unsubscribed", time.Now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("unsubscribe %s: %w", chat, err)
	}
	return removed, nil
}

func endSubscription(ctx context.Context, tx q, chat bot.ChatRef, reason string, at time.Time) (bool, error) {
	n, err := tx.affected(ctx, `DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?`, chat.Platform, chat.ID)
	if err != nil {
		return false, fmt.Errorf("delete subscription: %w", err)
	}
	if _, err = tx.exec(ctx, `UPDATE outbox SET status = ?, reason = ?, finished_at = ?`+tx.d.claim().unclaim+`
		WHERE platform = ? AND chat_id = ? AND status = 'pending'`, bot.StatusGone, reason, nanos(at), chat.Platform, chat.ID); err != nil {
		return false, fmt.Errorf("drop pending alerts: %w", err)
	}
	return n > 0, nil
}

// UnsubscribeGroup ends every subscription of a group (a Discord server).
func (s *Store) UnsubscribeGroup(ctx context.Context, p bot.Platform, group string) (int, error) {
	if group == "" {
		return 0, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var count int
	err := s.tx(ctx, func(tx q) error {
		rs, err := tx.query(ctx, `SELECT chat_id FROM subscriptions WHERE platform = ? AND grp = ?`, p, group)
		var chats []string
		if err == nil {
			chats, err = collect(rs, scanOne[string])
		}
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := nanos(time.Now())
	err := s.tx(ctx, func(tx q) error {
		// If the new id is subscribed already, the old subscription just ends.
		if _, err := tx.exec(ctx, `UPDATE subscriptions SET platform = ?, chat_id = ? WHERE platform = ? AND chat_id = ?
			AND NOT EXISTS (SELECT 1 FROM subscriptions x WHERE x.platform = ? AND x.chat_id = ?)`,
			to.Platform, to.ID, from.Platform, from.ID, to.Platform, to.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?`, from.Platform, from.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE outbox SET platform = ?, chat_id = ? WHERE platform = ? AND chat_id = ? AND status = 'pending'
			AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.change_id = outbox.change_id AND x.platform = ? AND x.chat_id = ?)`,
			to.Platform, to.ID, from.Platform, from.ID, to.Platform, to.ID); err != nil {
			return err
		}
		// Rows left behind duplicate a row the new id already has.
		_, err := tx.exec(ctx, `UPDATE outbox SET status = ?, reason = 'migrated', finished_at = ?`+tx.d.claim().unclaim+`
			WHERE platform = ? AND chat_id = ? AND status = 'pending'`,
			bot.StatusCoalesced, now, from.Platform, from.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s to %s: %w", from, to, err)
	}
	return nil
}

// Subscriptions lists every subscription, or those of the platforms given
// (SyncFixed reads its own platform's alone, not every chat's).
func (s *Store) Subscriptions(ctx context.Context, platforms ...bot.Platform) ([]bot.Subscription, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where, args := ``, []any(nil)
	if len(platforms) > 0 {
		names := make([]string, len(platforms))
		for i, p := range platforms {
			names[i] = string(p)
		}
		where, args = anyOf(s.d, `platform`, names)
		where = ` WHERE ` + where
	}
	rs, err := s.q().query(ctx, `SELECT platform, chat_id, kind, grp, lang, created_at, subscribed_by FROM subscriptions`+where+`
		ORDER BY platform, chat_id`, args...)
	var out []bot.Subscription
	if err == nil {
		out, err = collect(rs, func(r row) (bot.Subscription, error) {
			var (
				sub     bot.Subscription
				created int64
			)
			err := r.Scan(&sub.Chat.Platform, &sub.Chat.ID, &sub.Kind, &sub.Group, &sub.Lang, &created, &sub.By)
			sub.CreatedAt = fromNanos(created)
			return sub, err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// SubscribedBy counts the chats of a platform that user subscribed.
func (s *Store) SubscribedBy(ctx context.Context, p bot.Platform, user string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	if err := s.q().row(ctx, `SELECT COUNT(*) FROM subscriptions WHERE platform = ? AND subscribed_by = ?`, p, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subscriptions by %s:%s: %w", p, user, err)
	}
	return n, nil
}

// Settings returns a chat's settings; subscribed is false when it has no subscription.
func (s *Store) Settings(ctx context.Context, chat bot.ChatRef) (bot.ChatSettings, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	cs, ok, err := readSettings(s.q().row(ctx, settingsQuery, chat.Platform, chat.ID))
	if err != nil {
		return cs, false, fmt.Errorf("settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

// UpdateSettings applies change to a subscribed chat's settings atomically:
// the row is locked while change runs, so concurrent updates (from two
// replicas) apply one after the other.
func (s *Store) UpdateSettings(ctx context.Context, chat bot.ChatRef, change func(*bot.ChatSettings)) (bot.ChatSettings, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		cs bot.ChatSettings
		ok bool
	)
	err := s.tx(ctx, func(tx q) error {
		var err error
		if cs, ok, err = readSettings(tx.row(ctx, settingsQuery+s.d.claim().forUpdate, chat.Platform, chat.ID)); err != nil || !ok {
			return err
		}
		change(&cs)
		if cs.Level == "" {
			cs.Level = bot.AlertsAll
		}
		_, err = tx.exec(ctx, `UPDATE subscriptions SET level = ?, muted_until = ?, remind_every = ?, lang = CASE WHEN ? = '' THEN lang ELSE ? END
			WHERE platform = ? AND chat_id = ?`,
			cs.Level, nanos(cs.MutedUntil), int64(cs.RemindEvery), cs.Lang, cs.Lang, chat.Platform, chat.ID)
		return err
	})
	if err != nil {
		return bot.ChatSettings{}, false, fmt.Errorf("update settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

const settingsQuery = `SELECT level, muted_until, lang, remind_every FROM subscriptions WHERE platform = ? AND chat_id = ?`

// readSettings reads a row of settingsQuery; ok is false when there is none.
func readSettings(r row) (bot.ChatSettings, bool, error) {
	var (
		cs           bot.ChatSettings
		muted, every int64
	)
	err := r.Scan(&cs.Level, &muted, &cs.Lang, &every)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.ChatSettings{}, false, nil
	}
	if err != nil {
		return bot.ChatSettings{}, false, err
	}
	cs.MutedUntil, cs.RemindEvery = fromNanos(muted), time.Duration(every)
	return cs, true, nil
}
