package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// Settings returns a chat's settings; subscribed is false when it has no subscription.
func (s *Store) Settings(ctx context.Context, chat bot.ChatRef) (bot.ChatSettings, bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	cs, ok, err := readSettings(s.pool.QueryRow(ctx, settingsQuery, chat.Platform, chat.ID))
	if err != nil {
		return cs, false, fmt.Errorf("settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

// UpdateSettings applies change to a subscribed chat's settings atomically:
// the row is locked while change runs, so concurrent updates (from two
// replicas) apply one after the other.
func (s *Store) UpdateSettings(ctx context.Context, chat bot.ChatRef, change func(*bot.ChatSettings)) (bot.ChatSettings, bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var (
		cs bot.ChatSettings
		ok bool
	)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if cs, ok, err = readSettings(tx.QueryRow(ctx, settingsQuery+` FOR UPDATE`, chat.Platform, chat.ID)); err != nil || !ok {
			return err
		}
		change(&cs)
		if cs.Level == "" {
			cs.Level = bot.AlertsAll
		}
		_, err = tx.Exec(ctx, `UPDATE subscriptions SET level = $1, muted_until = $2, remind_every = $3, lang = CASE WHEN $4 = '' THEN lang ELSE $4 END
			WHERE platform = $5 AND chat_id = $6`,
			cs.Level, sqlstore.Nanos(cs.MutedUntil), int64(cs.RemindEvery), cs.Lang, chat.Platform, chat.ID)
		return err
	})
	if err != nil {
		return bot.ChatSettings{}, false, fmt.Errorf("update settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

const settingsQuery = `SELECT level, muted_until, lang, remind_every FROM subscriptions WHERE platform = $1 AND chat_id = $2`

func readSettings(row pgx.Row) (bot.ChatSettings, bool, error) {
	cs, err := sqlstore.ScanSettings(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return bot.ChatSettings{}, false, nil
	}
	return cs, err == nil, err
}
