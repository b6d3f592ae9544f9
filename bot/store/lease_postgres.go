//go:build !nopostgres

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

var (
	_ bot.Store          = (*Replica)(nil)
	_ bot.VantageStore   = (*Replica)(nil)
	_ command.FixedStore = (*Replica)(nil)
	_ bot.Lease          = (*Replica)(nil)
)

// Replica is a Store on a PostgreSQL database that several replicas share,
// and this replica's leader lease (bot.Lease): leader writes are fenced by
// the term it holds.
type Replica struct {
	*Store
	pg *postgresDialect
}

// Holder is this replica's name in the lease and in claims.
func (r *Replica) Holder() string { return r.pg.holder }

// OnDeposed sets f to be told, at once, when a leader write is refused by
// the fence (bot.ErrDeposed): the replica then steps down without waiting
// for its next renewal.
func (r *Replica) OnDeposed(f func(error)) { r.pg.onDeposed.Store(&f) }

// Term is the lease term this store holds; ok is false when it holds none.
func (r *Replica) Term() (bot.Term, bool) {
	if t := r.pg.term.Load(); t != nil {
		return *t, true
	}
	return bot.Term{}, false
}

// acquireLease takes the lease row if it is free, expired or ours. The epoch
// grows when the holder changes or the lease had expired, so a replica that
// comes back after losing it never shares an epoch with its old self.
// Expiry is on the database's clock only: replicas' clocks may disagree.
const acquireLease = `INSERT INTO leases AS l (name, holder, epoch, expires_at)
	VALUES ('leader', $1, 1, now() + make_interval(secs => $2::float8))
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
		epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END
	WHERE l.holder = excluded.holder OR l.expires_at <= now()
	RETURNING epoch`

// Acquire takes the leader lease for ttl, or renews it if this replica holds
// it. held is false, with the current holder's term, when another replica
// holds it. The term held is kept for fencing; losing the lease, or failing
// to renew it, stops this store's leader writes at once.
func (r *Replica) Acquire(ctx context.Context, ttl time.Duration) (bot.Term, bool, error) {
	d := r.pg
	if ttl < time.Millisecond {
		d.term.Store(nil)
		return bot.Term{}, false, fmt.Errorf("acquire the leader lease: ttl %v too short", ttl)
	}
	ctx, cancel := context.WithTimeout(ctx, ttl/3)
	defer cancel()
	t := bot.Term{Holder: d.holder}
	err := d.lease.QueryRowContext(ctx, acquireLease, d.holder, ttl.Seconds()).Scan(&t.Epoch)
	switch {
	case err == nil:
		d.term.Store(&t)
		return t, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		d.term.Store(nil)
		return bot.Term{}, false, fmt.Errorf("acquire the leader lease: %w", err)
	}
	d.term.Store(nil)
	var other bot.Term
	if err := d.lease.QueryRowContext(ctx, `SELECT holder, epoch FROM leases WHERE name = 'leader'`).Scan(&other.Holder, &other.Epoch); err != nil {
		return bot.Term{}, false, fmt.Errorf("read the leader lease: %w", err)
	}
	return other, false, nil
}

// Release ends this replica's lease now, so another replica can take it at
// once; it keeps the holder, so the next term has a new epoch whoever takes
// it. It does nothing if another replica holds the lease. Release is called
// once the leader's work has stopped and its outcomes are written: the claims
// this replica still holds (rows it took but did not send) are handed back
// first, so the next leader need not wait for them to expire.
func (r *Replica) Release(ctx context.Context) error {
	d := r.pg
	d.term.Store(nil)
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, `UPDATE outbox SET `+unclaimed+` WHERE status = 'pending' AND claimed_by = $1`, d.holder); err != nil {
		return fmt.Errorf("release the claims: %w", err)
	}
	if _, err := d.lease.ExecContext(ctx, `UPDATE leases SET expires_at = now() WHERE name = 'leader' AND holder = $1 AND expires_at > now()`, d.holder); err != nil {
		return fmt.Errorf("release the leader lease: %w", err)
	}
	return nil
}

// idleInTx is idle_in_transaction_session_timeout: a transaction whose
// client stops talking (a frozen process) is ended after TTL/6, well within
// the fence's margin of TTL/3, so a leader write checked by the fence either
// commits or is rolled back before the lease can pass to another replica.
func (d *postgresDialect) idleInTx() time.Duration { return d.leaseTTL / 6 }

// fenceMargin is how long the lease must still run, on the database's
// clock, when a leader write commits: TTL/3, the same third of the TTL the
// leader keeps as its local safety margin (leader.Leader).
func (d *postgresDialect) fenceMargin() time.Duration { return d.leaseTTL / 3 }

// fenceQuery holds when the term is still the lease's and the lease runs
// for at least $3 seconds more on the database's clock. clock_timestamp(),
// not now(): now() is the transaction's start, and a long transaction must
// be judged when it commits. It takes no lock: the lease's renewal never
// waits for a leader write.
const fenceQuery = `SELECT EXISTS (SELECT 1 FROM leases WHERE name = 'leader' AND holder = $1 AND epoch = $2
	AND expires_at > clock_timestamp() + make_interval(secs => $3::float8))`

// leaderTx runs fn as a leader write (Kleppmann's fencing token: the epoch,
// checked by the database, not by the writer's belief). The term is checked
// when the transaction starts, so a deposed replica does no work, and again
// as its last statement with the lease required to run fenceMargin more:
// the commit that follows at once lands inside the term, and a writer frozen
// in between has its transaction ended by idle_in_transaction_session_timeout
// (idleInTx, shorter than the margin) before the lease can pass. No lock is
// held on the lease row, so neither the renewal nor a takeover ever waits
// for a leader write. A refused fence wraps bot.ErrDeposed, drops the term
// and tells OnDeposed.
func (d *postgresDialect) leaderTx(ctx context.Context, s *Store, fn func(q) error) error {
	_, err := d.termTx(ctx, s, func(tx q, _ bot.Term) error { return fn(tx) })
	return err
}

// termTx is leaderTx for writes that need the term itself.
func (d *postgresDialect) termTx(ctx context.Context, s *Store, fn func(q, bot.Term) error) (bot.Term, error) {
	t := d.term.Load()
	if t == nil {
		return bot.Term{}, fmt.Errorf("%w (this replica holds no lease)", bot.ErrDeposed)
	}
	return *t, s.tx(ctx, func(tx q) error {
		if err := d.fence(ctx, tx, *t, 0); err != nil {
			return err
		}
		if err := fn(tx, *t); err != nil {
			return err
		}
		return d.fence(ctx, tx, *t, d.fenceMargin())
	})
}

// fence fails with bot.ErrDeposed unless term t holds the lease for at
// least margin more.
func (d *postgresDialect) fence(ctx context.Context, tx q, t bot.Term, margin time.Duration) error {
	var ok bool
	if err := tx.row(ctx, fenceQuery, t.Holder, t.Epoch, margin.Seconds()).Scan(&ok); err != nil {
		return fmt.Errorf("check the leader lease: %w", err)
	}
	if !ok {
		return d.deposed(fmt.Errorf("%w (term %d of %s is over or ends within %v)", bot.ErrDeposed, t.Epoch, t.Holder, margin))
	}
	return nil
}

// deposed drops the term and tells OnDeposed; it returns err.
func (d *postgresDialect) deposed(err error) error {
	d.term.Store(nil)
	if f := d.onDeposed.Load(); f != nil {
		(*f)(err)
	}
	return err
}

// claimsLost finds which of ids are still pending under a claim that is
// not this replica's: the fenced update left them.
func (d *postgresDialect) claimsLost(ctx context.Context, tx q, ids []int64) (map[int64]string, error) {
	rs, err := tx.query(ctx, `SELECT id, claimed_by FROM outbox WHERE id = ANY($1) AND status = 'pending' AND claimed_by NOT IN ('', $2)`,
		ids, d.holder)
	if err != nil {
		return nil, fmt.Errorf("check the claims: %w", err)
	}
	type claim struct {
		id     int64
		holder string
	}
	claims, err := collect(rs, func(r row) (claim, error) {
		var c claim
		err := r.Scan(&c.id, &c.holder)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("check the claims: %w", err)
	}
	var lost map[int64]string
	for _, c := range claims {
		if lost == nil {
			lost = map[int64]string{}
		}
		lost[c.id] = c.holder
	}
	return lost, nil
}

// refuse is bot.ErrDeposed for outcomes whose rows another replica claimed:
// that replica leads (or led after this one's claims expired), so this one
// steps down.
func (d *postgresDialect) refuse(lost map[int64]string) error {
	holders := map[string]bool{}
	for _, h := range lost {
		holders[h] = true
	}
	names := slices.Sorted(maps.Keys(holders))
	return d.deposed(fmt.Errorf("%w (the rows' claim is %s's, not %s's)", bot.ErrDeposed, strings.Join(names, ", "), d.holder))
}

// claimable is an SQL condition on outbox row r (its alias in the query):
// no other replica's claim stands in the way. A claim lapses only when it
// expires (claimed_until, on the database's clock), even when its leader has
// lost the lease: that replica may be frozen in the middle of a send the
// platform already took, and when it wakes it records that send, which its
// claim lets it do. This replica's own claims never stop it, as in the
// SQLite store, where the dispatcher's busy chats alone keep it from taking
// a chat twice. $1 is the holder, $2 the epoch.
func claimable(r string) string {
	return `(` + r + `.claimed_by = '' OR ` + r + `.claimed_until < now() OR (` + r + `.claimed_by = $1 AND ` + r + `.claim_epoch <= $2))`
}

// due claims the rows it returns: claiming is a leader write, so a store
// whose lease term is over claims nothing and fails with bot.ErrDeposed.
// Each chat is taken whole: its oldest row, locked FOR UPDATE SKIP LOCKED,
// stands for it, so two Dues running at once never return the same row.
func (d *postgresDialect) due(ctx context.Context, s *Store, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []bot.Delivery
	_, err := d.termTx(ctx, s, func(tx q, t bot.Term) error {
		// Heads are found first, then locked: a chat whose head another
		// transaction holds is skipped, not waited for. A head is a row
		// with no older pending row of its chat and none another replica's
		// claim holds; walking outbox_due in id order, a page reads about
		// as many rows as it returns, however many are pending. The check
		// is a count, not NOT EXISTS, which PostgreSQL may plan as an
		// anti-join scanning every pending row once per head when its
		// statistics predate a fan-out; counted, each head is looked up
		// in outbox_pending (outbox_due's predicate keeps it out of such
		// lookups: migration 0007). Busy chats are left out here, not in
		// the statement: a list compared with every row read costs its
		// length per row (a thousand chats being sent made Due 16 times
		// slower, TestDueLeavesOutManyBusyChats); they are the oldest
		// heads, so the page reads as many more rows.
		rs, err := tx.query(ctx, `SELECT o.id, o.chat_id FROM outbox o
			WHERE o.platform = $3 AND o.status = 'pending' AND o.next_at <= $4
			AND (SELECT count(*) FROM outbox h WHERE h.platform = o.platform AND h.chat_id = o.chat_id AND h.status = 'pending'
				AND (h.id < o.id OR NOT `+claimable("h")+`)) = 0
			ORDER BY o.id LIMIT $5`, t.Holder, t.Epoch, p, nanos(now), limit+len(busy))
		type head struct {
			id   int64
			chat string
		}
		var found []head
		if err == nil {
			found, err = collect(rs, func(r row) (head, error) {
				var h head
				err := r.Scan(&h.id, &h.chat)
				return h, err
			})
		}
		if err != nil {
			return wrapIf("due chats", err)
		}
		var heads []int64
		for _, h := range found {
			if !busy[h.chat] && len(heads) < limit {
				heads = append(heads, h.id)
			}
		}
		if len(heads) == 0 {
			return nil
		}
		rs, err = tx.query(ctx, `SELECT o.chat_id FROM outbox o
			WHERE o.id = ANY($3) AND o.status = 'pending' AND `+claimable("o")+`
			ORDER BY o.id FOR UPDATE SKIP LOCKED`, t.Holder, t.Epoch, heads)
		var chats []string
		if err == nil {
			chats, err = collect(rs, scanOne[string])
		}
		if err != nil || len(chats) == 0 {
			return wrapIf("lock due chats", err)
		}
		// Every pending row of those chats is claimed, each chat looked up
		// on its own (ARRAY(…) is a subplan PostgreSQL runs per chat, in
		// outbox_pending): with chat_id = ANY($4) it read every pending row
		// once VACUUM had found the partial indexes empty (1.4–1.8 s for
		// 1,000 chats of 90,000 pending); the rows are then read by id.
		rs, err = tx.query(ctx, `UPDATE outbox SET claimed_by = $1, claim_epoch = $2, claimed_until = now() + make_interval(secs => $5::float8)
			WHERE status = 'pending' AND id IN (SELECT unnest(ARRAY(SELECT h.id FROM outbox h WHERE h.platform = $3 AND h.chat_id = u.chat AND h.status = 'pending'))
				FROM unnest($4::text[]) AS u(chat))
			RETURNING id`, t.Holder, t.Epoch, p, chats, d.claimTTL.Seconds())
		var ids []int64
		if err == nil {
			ids, err = collect(rs, scanOne[int64])
		}
		if err != nil {
			return fmt.Errorf("claim due rows: %w", err)
		}
		out, err = dueRows(ctx, tx, p, `o.id = ANY(?)`, ids)
		return err
	})
	return out, err
}

// wrapIf wraps err with what failed; nil stays nil.
func wrapIf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
