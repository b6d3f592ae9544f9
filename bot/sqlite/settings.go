package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/internal/sqlstore"
)

// Settings returns a chat's settings; subscribed is false when it has no subscription.
func (s *Store) Settings(ctx context.Context, chat bot.ChatRef) (bot.ChatSettings, bool, error) {
	cs, ok, err := readSettings(s.db.QueryRowContext(ctx, settingsQuery, chat.Platform, chat.ID))
	if err != nil {
		return cs, false, fmt.Errorf("settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

// UpdateSettings applies change to a subscribed chat's settings atomically.
func (s *Store) UpdateSettings(ctx context.Context, chat bot.ChatRef, change func(*bot.ChatSettings)) (bot.ChatSettings, bool, error) {
	var (
		cs bot.ChatSettings
		ok bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if cs, ok, err = readSettings(tx.QueryRowContext(ctx, settingsQuery, chat.Platform, chat.ID)); err != nil || !ok {
			return err
		}
		change(&cs)
		if cs.Level == "" {
			cs.Level = bot.AlertsAll
		}
		_, err = tx.ExecContext(ctx, `UPDATE subscriptions SET level = ?, muted_until = ?, remind_every = ?, lang = CASE WHEN ? = '' THEN lang ELSE ? END
			WHERE platform = ? AND chat_id = ?`,
			cs.Level, sqlstore.Nanos(cs.MutedUntil), int64(cs.RemindEvery), cs.Lang, cs.Lang, chat.Platform, chat.ID)
		return err
	})
	if err != nil {
		return bot.ChatSettings{}, false, fmt.Errorf("update settings of %s: %w", chat, err)
	}
	return cs, ok, nil
}

const settingsQuery = `SELECT level, muted_until, lang, remind_every FROM subscriptions WHERE platform = ? AND chat_id = ?`

func readSettings(row *sql.Row) (bot.ChatSettings, bool, error) {
	cs, err := sqlstore.ScanSettings(row)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.ChatSettings{}, false, nil
	}
	return cs, err == nil, err
}
