package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// heard is the outbox statuses of an alert that reached (or is on its way
// to) its chat: a coalesced row was folded into a message that was sent.
const heard = `('pending', 'sent', 'coalesced')`

// heardOf is an SQL condition: chat s has heard of a change of incident ?
// (other than the change ?) whose target state is in states. The chats that
// heard are read once, off the incident's changes in the outbox's unique
// (change_id, platform, chat_id) index, and each subscriber looked up among
// them (SQLite builds a bloom filter and a temporary index; PostgreSQL
// hashes them): a recovery to 90,000 with 30 days of outages kept took
// 120 ms there instead of 155–310 ms of lookups per subscriber on an index
// of the outbox by chat (since dropped: newestHeard).
func heardOf(states string) string {
	return `(s.platform, s.chat_id) IN (SELECT r.platform, r.chat_id FROM outbox r WHERE r.status IN ` + heard + `
		AND r.change_id IN (SELECT id FROM changes WHERE incident_id = ? AND id <> ? AND to_state IN ` + states + `))`
}

// fanOut queues one outbox row of a change for each subscription whose
// settings want it, in one INSERT … SELECT:
//   - down: every chat not muted, except a chat on "outages" that has heard
//     this incident is down already (the degraded spells between are hidden
//     from it, so a new "down" would repeat itself);
//   - degraded: chats on "all" not muted;
//   - up: every chat that heard of this incident, muted or not and whatever
//     its level now; and a chat that subscribed during the incident, is not
//     muted and would have heard of its worst state.
//
// A change without an incident (up after a state restored from an old run)
// goes to every chat not muted.
//
// An unstable message goes to every chat not muted whose level covers the
// worst state of the flapping (To); the settled message to the chats that
// got the unstable one, and to those not muted whose level covers the
// settled state.
//
// Rows are written, and so sent, in the order of the chats' ids (the
// subscriptions' key): every index of the outbox then takes them in its own
// order, page after page, where the order of subscription scattered them
// (a fan-out to 90,000 chats 0.35 s instead of 1 s on SQLite).
func fanOut(ctx context.Context, tx q, changeID, incID int64, inc *bot.Incident, ch *bot.Change, unstableID int64) (int64, error) {
	tr := ch.Transition
	at := nanos(tr.At)
	where, args := `s.muted_until <= ?`, []any{at}
	switch {
	case ch.Kind == bot.ChangeUnstable:
		where += ` AND (s.level = 'all' OR ? = 'down')`
		args = append(args, tr.To)
	case ch.Kind == bot.ChangeSettled:
		where = `(EXISTS (SELECT 1 FROM outbox r WHERE r.platform = s.platform AND r.chat_id = s.chat_id AND r.change_id = ? AND r.status IN ` + heard + `)
			OR (s.muted_until <= ? AND (s.level = 'all' OR ? = 'down')))`
		args = []any{unstableID, at, tr.To}
	case incID == 0 || inc == nil:
	case tr.To == probe.StateDegraded:
		where += ` AND s.level = 'all'`
	case tr.To == probe.StateDown:
		where += ` AND NOT (s.level = 'outages' AND ` + heardOf(`('down')`) + `)`
		args = append(args, incID, changeID)
	case tr.To == probe.StateUp:
		where = `(` + heardOf(`('down', 'degraded')`) + ` OR (s.created_at > ? AND s.muted_until <= ? AND (s.level = 'all' OR ? = 'down')))`
		args = []any{incID, changeID, nanos(inc.Start), at, inc.Worst}
	}
	n, err := tx.affected(ctx, `INSERT INTO outbox (change_id, platform, chat_id, lang, next_at, created_at)
		SELECT ?, s.platform, s.chat_id, s.lang, ?, ? FROM subscriptions s WHERE `+where+`
		ORDER BY s.platform, s.chat_id`,
		append([]any{changeID, at, at}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("fan out change: %w", err)
	}
	return n, nil
}

// newestHeard is a query of the newest outbox row r that reached chat
// s.platform, s.chat_id (or the chat_id and platform given as ?, ?) among
// the changes c of the given kinds, newest change first; its caller names
// the columns it reads. It walks the changes backwards and looks each one
// up in the outbox's unique (change_id, platform, chat_id) index, so a chat
// that heard the latest change costs one lookup, however much history is
// kept: there is no index of the outbox by chat, whose every page each
// fan-out to 100,000 chats dirtied (3–4 s and 190 MB of write-ahead log
// per fan-out with 30 days of daily outages kept, instead of 1 s and 13 MB).
// CROSS JOIN keeps SQLite from reading the outbox first; a chat's rows are
// written with their change, one per change, so the newest change is the
// newest row.
func newestHeard(columns, chat, kinds string) string {
	return `SELECT ` + columns + ` FROM changes c CROSS JOIN outbox r
		WHERE r.change_id = c.id AND ` + chat + ` AND r.status IN ` + heard + ` AND c.kind IN ` + kinds + `
		ORDER BY c.id DESC LIMIT 1`
}

// toldState is the state a chat last heard of: the target of its latest
// alert or catch-up that reached it; up when it never heard of any.
func toldState(ctx context.Context, tx q, chat bot.ChatRef) (probe.State, error) {
	var st probe.State
	err := tx.row(ctx, newestHeard(`c.to_state`, `r.platform = ? AND r.chat_id = ?`, `('', 'unmuted', 'settled')`),
		chat.Platform, chat.ID).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return probe.StateUp, nil
	}
	return st, err
}

// addChange records a message built on the state (a catch-up, a reminder)
// and returns its id.
func addChange(ctx context.Context, tx q, kind bot.ChangeKind, from probe.State, status probe.Status, incID int64, now time.Time) (int64, error) {
	var id int64
	err := tx.row(ctx, `INSERT INTO changes (kind, from_state, to_state, at, began, incident_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		kind, from, status.State, nanos(now), nanos(status.Since), nullID(incID)).Scan(&id)
	return id, err
}

// endMutes ends the mutes that are over at now. A chat whose mute hid a
// change (the state now differs from the one it last heard of, as its level
// sees them) gets one catch-up row with the current state; the others get
// nothing. Only muted chats are read (subscriptions_muted).
func endMutes(ctx context.Context, tx q, status probe.Status, incID int64, now time.Time) (int64, error) {
	type muted struct {
		chat  bot.ChatRef
		lang  string
		level bot.AlertLevel
	}
	rs, err := tx.query(ctx, `SELECT platform, chat_id, lang, level FROM subscriptions
		WHERE muted_until <> 0 AND muted_until <= ?`, nanos(now))
	var ended []muted
	if err == nil {
		ended, err = collect(rs, func(r row) (muted, error) {
			var m muted
			err := r.Scan(&m.chat.Platform, &m.chat.ID, &m.lang, &m.level)
			return m, err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("find ended mutes: %w", err)
	}
	var queued int64
	for _, m := range ended {
		if _, err := tx.exec(ctx, `UPDATE subscriptions SET muted_until = 0 WHERE platform = ? AND chat_id = ?`, m.chat.Platform, m.chat.ID); err != nil {
			return 0, fmt.Errorf("end mute of %s: %w", m.chat, err)
		}
		if status.State == probe.StateUnknown || status.State == "" {
			continue // nothing to tell yet
		}
		told, err := toldState(ctx, tx, m.chat)
		if err != nil {
			return 0, fmt.Errorf("what %s last heard: %w", m.chat, err)
		}
		if m.level.AsHeard(told) == m.level.AsHeard(status.State) {
			continue
		}
		id, err := addChange(ctx, tx, bot.ChangeCatchUp, told, status, incID, now)
		if err != nil {
			return 0, fmt.Errorf("catch up %s: %w", m.chat, err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO outbox (change_id, platform, chat_id, lang, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, m.chat.Platform, m.chat.ID, m.lang, nanos(now), nanos(now)); err != nil {
			return 0, fmt.Errorf("catch up %s: %w", m.chat, err)
		}
		queued++
	}
	return queued, nil
}

// remind queues a reminder for each chat with reminders on, not muted, whose
// latest alert (change, catch-up or reminder) told it of the current state
// and is at least its interval old. X being up, or a chat that still has a
// row pending, gets none: reminders stop at recovery and never pile up, even
// after a restart, since they are derived from the outbox, not a timer.
func remind(ctx context.Context, tx q, status probe.Status, incID int64, now time.Time) (int64, error) {
	if status.State != probe.StateDown && status.State != probe.StateDegraded {
		return 0, nil
	}
	// A chat's latest alert that told it of the current state (the change,
	// a catch-up on unmuting, a reminder) is no older than the state, so
	// none is due before the state is as old as the shortest interval: the
	// rounds of an outage's first hour end here, its fan-out's among them
	// (each round's check took 70–100 ms of SQLite's one connection at
	// 100,000 subscribers, a tenth of a fan-out's pace at a round a second).
	var shortest sql.NullInt64
	if err := tx.row(ctx, `SELECT MIN(remind_every) FROM subscriptions WHERE remind_every <> 0`).Scan(&shortest); err != nil {
		return 0, fmt.Errorf("look for reminders: %w", err)
	}
	if !shortest.Valid || now.Sub(status.Since) < time.Duration(shortest.Int64) {
		return 0, nil
	}
	// Most rounds of an outage have no chat with reminders on and unmuted:
	// then there is no change row to write and delete again.
	var wanted bool
	if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE remind_every <> 0 AND muted_until <= ?)`,
		nanos(now)).Scan(&wanted); err != nil {
		return 0, fmt.Errorf("look for reminders: %w", err)
	}
	if !wanted {
		return 0, nil
	}
	id, err := addChange(ctx, tx, bot.ChangeReminder, status.State, status, incID, now)
	if err != nil {
		return 0, fmt.Errorf("record reminder: %w", err)
	}
	// The latest alert's time when it told the current state, else NULL,
	// which no comparison holds for: one lookup of that alert per chat.
	told := `(` + newestHeard(`CASE WHEN c.to_state = ? THEN r.created_at END`, `r.platform = s.platform AND r.chat_id = s.chat_id`,
		`('', 'unmuted', 'settled', 'reminder')`) + `)`
	n, err := tx.affected(ctx, `INSERT INTO outbox (change_id, platform, chat_id, lang, next_at, created_at)
		SELECT ?, s.platform, s.chat_id, s.lang, ?, ? FROM subscriptions s
		WHERE s.remind_every <> 0 AND s.muted_until <= ?
			AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.platform = s.platform AND p.chat_id = s.chat_id AND p.status = 'pending')
			AND `+told+` + s.remind_every <= ?
		ORDER BY s.platform, s.chat_id`,
		id, nanos(now), nanos(now), nanos(now), status.State, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("queue reminders: %w", err)
	}
	if n == 0 {
		if _, err := tx.exec(ctx, `DELETE FROM changes WHERE id = ?`, id); err != nil {
			return 0, fmt.Errorf("drop unused reminder: %w", err)
		}
	}
	return n, nil
}
