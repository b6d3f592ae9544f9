package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// dueRowsQuery is dueRows' query, for the pending rows that match rows.
func dueRowsQuery(rows string) string {
	return `SELECT o.id, o.chat_id, o.lang, o.attempts, o.created_at, o.next_at,
			c.id, c.kind, c.flaps, c.flap_since, c.from_state, c.to_state, c.at, c.began, c.causes, c.regions,
			COALESCE(i.id, 0), COALESCE(i.start_at, 0), COALESCE(i.end_at, 0), COALESCE(i.worst, ''), COALESCE(i.causes, '[]'),
			COALESCE((SELECT r.message_id FROM outbox r
				WHERE r.platform = o.platform AND r.chat_id = o.chat_id AND r.change_id IN (SELECT rc.id FROM changes rc WHERE rc.incident_id = c.incident_id)
				AND r.status = 'sent' AND r.message_id <> '' ORDER BY r.change_id LIMIT 1), '')
		FROM outbox o JOIN changes c ON c.id = o.change_id LEFT JOIN incidents i ON i.id = c.incident_id
		WHERE o.status = 'pending' AND ` + rows + `
		ORDER BY o.chat_id, o.id`
}

// dueRows reads the pending rows that rows picks (a condition on outbox o,
// with its args) with their change, incident and the message a recovery
// replies to: the chat's first sent row of the incident, found by the
// incident's changes in the outbox's unique index (change_id, platform,
// chat_id), not by sorting every row the chat ever had (0.7 ms a page of 64
// instead of 10–15 ms with 30 days of daily outages kept at 100,000
// subscribers).
func dueRows(ctx context.Context, tx q, p bot.Platform, rows string, args ...any) ([]bot.Delivery, error) {
	rs, err := tx.query(ctx, dueRowsQuery(rows), args...)
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

// Finish records the final status of rows and clears their claims: Record
// with one outcome. Gone also ends the chat's subscription and drops its
// other pending rows. Rows whose claim passed to another replica are refused
// with bot.ErrDeposed: that replica sends them. Rows no longer pending are
// left as they are.
func (s *Store) Finish(ctx context.Context, ids []int64, status bot.DeliveryStatus, messageID, reason string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.Record(ctx, []bot.Outcome{{IDs: ids, Status: status, MessageID: messageID, Reason: reason, At: at}}); err != nil {
		return fmt.Errorf("finish outbox rows %v as %s: %w", ids, status, err)
	}
	return nil
}

// Retry reschedules a row after a failed attempt and clears its claim:
// Record with one outcome. A late Retry from a replica whose claim passed to
// another is refused with bot.ErrDeposed and leaves the new claim and
// attempts alone.
func (s *Store) Retry(ctx context.Context, id int64, next time.Time, attempts int, reason string) error {
	if err := s.Record(ctx, []bot.Outcome{{IDs: []int64{id}, Next: next, Attempts: attempts, Reason: reason}}); err != nil {
		return fmt.Errorf("reschedule outbox row %d: %w", id, err)
	}
	return nil
}

// Record writes the outcomes of many sends in one transaction, every finish
// in one statement and every reschedule in another (of at most recordChunk
// rows each), so that a fan-out costs one commit and a few statements per
// batch of sends, not a transaction per send. A batch that is one statement
// (the finishes of a fan-out, with no gone chat) runs as that statement
// alone, atomic by itself, without BEGIN and COMMIT: a third of the round
// trips, which count when the database is busy. Each update is fenced by the
// row's claim, as the dispatcher's outcomes always were: only the replica
// whose claim a row still carries (or any, for a row nobody claims) records
// its outcome, whoever leads now, since it alone knows whether it sent it.
// Outcomes whose rows another replica has claimed since are refused (a
// *bot.RefusedError wrapping bot.ErrDeposed, the others committed); rows no
// longer pending are left as they are, so a row's first outcome stands, as
// if the outcomes were written one by one. Gone ends the chat's
// subscription and drops its other pending rows.
func (s *Store) Record(ctx context.Context, outs []bot.Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var refused []int
	var refusal error
	write := func(tx q) error {
		var err error
		refused, refusal, err = record(ctx, tx, outs)
		return err
	}
	var err error
	if oneStatement(outs) {
		err = write(s.q())
	} else {
		err = s.tx(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("record %d outbox outcomes: %w", len(outs), err)
	}
	if len(refused) > 0 {
		return &bot.RefusedError{Refused: refused, Err: refusal}
	}
	return nil
}

// oneStatement reports whether Record writes outs with one statement and
// nothing else: all finishes or all reschedules, at most recordChunk rows,
// no chat gone. (Whether some rows were claimed by another replica is then
// read after that statement committed; a claim taken in between counts the
// row as finished before, which leaves it to that replica all the same.)
func oneStatement(outs []bot.Outcome) bool {
	rows, finishes := 0, 0
	for _, o := range outs {
		if o.Status == bot.StatusGone {
			return false
		}
		if o.Status != "" {
			finishes++
			rows += len(o.IDs)
		} else {
			rows++
		}
	}
	return (finishes == 0 || finishes == len(outs)) && rows <= recordChunk
}

// recordChunk bounds the rows of one of Record's statements. Their rows are
// padded to a power of two (with id 0, which no row has), so that only a few
// statement texts are ever prepared.
const recordChunk = 128

// The statements of Record: rows (the VALUES of padValues) joined to the
// outbox by primary key. The pending test compares status with a value of
// the row, not a literal, so that the partial index of pending rows cannot
// serve the join: its statistics lag behind a fan-out (autovacuum analyzes
// a minute later at best), and a plan that believed a few pending rows
// scanned all ten thousand for each outcome. By primary key, or by one scan
// of the table when the planner finds that cheaper (it knows the table's
// size whatever its statistics), a batch costs well under a millisecond.
const (
	rescheduleRow  = `(CAST(? AS BIGINT), 'pending', CAST(? AS BIGINT), CAST(? AS INTEGER), ?)`
	rescheduleRows = `WITH v (vid, vpending, vnext, vattempts, vreason) AS (VALUES %s)
		UPDATE outbox SET next_at = v.vnext, attempts = v.vattempts, reason = v.vreason%s
		FROM v WHERE outbox.id = v.vid AND outbox.status = v.vpending%s RETURNING id`
	finishRow  = `(CAST(? AS BIGINT), 'pending', ?, ?, ?, CAST(? AS BIGINT))`
	finishRows = `WITH v (vid, vpending, vstatus, vmessage, vreason, vat) AS (VALUES %s)
		UPDATE outbox SET status = v.vstatus, message_id = v.vmessage, reason = v.vreason, finished_at = v.vat%s
		FROM v WHERE outbox.id = v.vid AND outbox.status = v.vpending%s RETURNING id`
)

// record runs Record's statements in tx and returns the indexes of the
// outcomes refused for another replica's claim, with the refusal.
func record(ctx context.Context, tx q, outs []bot.Outcome) (refused []int, refusal error, err error) {
	// One statement cannot update a row twice: a row's first finish stands,
	// and its last reschedule, written before the finishes, which win.
	var finishes, reschedules [][]any
	finished, rescheduled := map[int64]bool{}, map[int64]int{}
	for _, o := range outs {
		if o.Status == "" {
			if len(o.IDs) == 0 {
				continue
			}
			row := []any{o.IDs[0], nanos(o.Next), o.Attempts, o.Reason}
			if i, ok := rescheduled[o.IDs[0]]; ok {
				reschedules[i] = row
				continue
			}
			rescheduled[o.IDs[0]] = len(reschedules)
			reschedules = append(reschedules, row)
			continue
		}
		for _, id := range o.IDs {
			if !finished[id] {
				finished[id] = true
				finishes = append(finishes, []any{id, o.Status, o.MessageID, o.Reason, nanos(o.At)})
			}
		}
	}
	c := tx.d.claim()
	updated := map[int64]bool{}
	for _, st := range []struct {
		query, row string
		rows       [][]any
		pad        []any
	}{
		{rescheduleRows, rescheduleRow, reschedules, []any{0, 0, 0, ""}},
		{finishRows, finishRow, finishes, []any{0, "", "", "", 0}},
	} {
		for chunk := range slices.Chunk(st.rows, recordChunk) {
			values, args := padValues(st.row, chunk, st.pad)
			rs, err := tx.query(ctx, fmt.Sprintf(st.query, values, c.unclaim, c.fence), append(args, c.fenceArgs...)...)
			var ids []int64
			if err == nil {
				ids, err = collect(rs, scanOne[int64])
			}
			if err != nil {
				return nil, nil, fmt.Errorf("update %d rows: %w", len(chunk), err)
			}
			for _, id := range ids {
				updated[id] = true
			}
		}
	}
	// Rows left alone: finished already (their first outcome stands), or
	// claimed by another replica since (refused).
	var missed []int64
	for _, o := range outs {
		for _, id := range o.IDs {
			if !updated[id] {
				missed = append(missed, id)
			}
		}
	}
	var lost map[int64]string
	if len(missed) > 0 {
		if lost, err = tx.d.claimsLost(ctx, tx, missed); err != nil {
			return nil, nil, err
		}
	}
	for i, o := range outs {
		if slices.ContainsFunc(o.IDs, func(id int64) bool { _, ok := lost[id]; return ok }) {
			refused = append(refused, i)
			continue
		}
		if o.Status != bot.StatusGone {
			continue
		}
		at := slices.IndexFunc(o.IDs, func(id int64) bool { return updated[id] })
		if at < 0 {
			continue // finished before: the chat's subscription was dealt with then
		}
		var chat bot.ChatRef
		if err := tx.row(ctx, `SELECT platform, chat_id FROM outbox WHERE id = ?`, o.IDs[at]).Scan(&chat.Platform, &chat.ID); err != nil {
			return nil, nil, fmt.Errorf("find the gone chat: %w", err)
		}
		if _, err := endSubscription(ctx, tx, chat, o.Reason, o.At); err != nil {
			return nil, nil, err
		}
	}
	if len(refused) > 0 {
		refusal = tx.d.refuse(lost)
	}
	return refused, refusal, nil
}

// padValues is the VALUES list of rows, each written as row (? placeholders),
// padded with pad to a power of two, and its args.
func padValues(row string, rows [][]any, pad []any) (string, []any) {
	size := 1
	for size < len(rows) {
		size *= 2
	}
	args := make([]any, 0, size*len(pad))
	for _, r := range rows {
		args = append(args, r...)
	}
	for range size - len(rows) {
		args = append(args, pad...)
	}
	return row + strings.Repeat(", "+row, size-1), args
}

// Backlog counts pending rows per platform and finds the oldest: the first
// queued, by id (rows are queued with their time, so the first is the
// oldest). The count reads the index of pending rows alone, and the oldest
// is one entry of outbox_due; MIN(created_at) looked every pending row up
// in the table, 20 ms with 50,000 pending on SQLite, read every 5 s by
// /healthz and by the dispatcher's metrics: more than all the rest of a
// bot's CPU during an outage.
func (s *Store) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rs, err := s.q().query(ctx, `SELECT b.platform, b.n, COALESCE((SELECT o.created_at FROM outbox o
			WHERE o.platform = b.platform AND o.status = 'pending' AND o.next_at IS NOT NULL ORDER BY o.id LIMIT 1), 0)
		FROM (SELECT platform, COUNT(*) AS n FROM outbox WHERE status = 'pending' GROUP BY platform) b`)
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
