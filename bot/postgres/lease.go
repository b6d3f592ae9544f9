package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot"
)

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
func (s *Store) Acquire(ctx context.Context, ttl time.Duration) (bot.Term, bool, error) {
	if ttl < time.Millisecond {
		s.term.Store(nil)
		return bot.Term{}, false, fmt.Errorf("acquire the leader lease: ttl %v too short", ttl)
	}
	ctx, cancel := context.WithTimeout(ctx, ttl/3)
	defer cancel()
	t := bot.Term{Holder: s.holder}
	err := s.leasePool.QueryRow(ctx, acquireLease, s.holder, ttl.Seconds()).Scan(&t.Epoch)
	switch {
	case err == nil:
		s.term.Store(&t)
		return t, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		s.term.Store(nil)
		return bot.Term{}, false, fmt.Errorf("acquire the leader lease: %w", err)
	}
	s.term.Store(nil)
	var other bot.Term
	if err := s.leasePool.QueryRow(ctx, `SELECT holder, epoch FROM leases WHERE name = 'leader'`).Scan(&other.Holder, &other.Epoch); err != nil {
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
func (s *Store) Release(ctx context.Context) error {
	s.term.Store(nil)
	ctx, cancel := bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `UPDATE outbox SET `+unclaim+` WHERE status = 'pending' AND claimed_by = $1`, s.holder); err != nil {
		return fmt.Errorf("release the claims: %w", err)
	}
	if _, err := s.leasePool.Exec(ctx, `UPDATE leases SET expires_at = now() WHERE name = 'leader' AND holder = $1 AND expires_at > now()`, s.holder); err != nil {
		return fmt.Errorf("release the leader lease: %w", err)
	}
	return nil
}

// Term is the lease term this store holds; ok is false when it holds none.
func (s *Store) Term() (bot.Term, bool) {
	if t := s.term.Load(); t != nil {
		return *t, true
	}
	return bot.Term{}, false
}

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
func (s *Store) leaderTx(ctx context.Context, fn func(pgx.Tx, bot.Term) error) error {
	t := s.term.Load()
	if t == nil {
		return fmt.Errorf("%w (this replica holds no lease)", bot.ErrDeposed)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.fence(ctx, tx, *t, 0); err != nil {
			return err
		}
		if err := fn(tx, *t); err != nil {
			return err
		}
		return s.fence(ctx, tx, *t, s.fenceMargin())
	})
}

// fence fails with bot.ErrDeposed unless term t holds the lease for at
// least margin more.
func (s *Store) fence(ctx context.Context, tx pgx.Tx, t bot.Term, margin time.Duration) error {
	var ok bool
	if err := tx.QueryRow(ctx, fenceQuery, t.Holder, t.Epoch, margin.Seconds()).Scan(&ok); err != nil {
		return fmt.Errorf("check the leader lease: %w", err)
	}
	if !ok {
		return s.deposed(fmt.Errorf("%w (term %d of %s is over or ends within %v)", bot.ErrDeposed, t.Epoch, t.Holder, margin))
	}
	return nil
}

// deposed drops the term and tells OnDeposed; it returns err.
func (s *Store) deposed(err error) error {
	s.term.Store(nil)
	if f := s.onDeposed.Load(); f != nil {
		(*f)(err)
	}
	return err
}
