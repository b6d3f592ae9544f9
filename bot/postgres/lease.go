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
	t := bot.Term{Holder: s.holder}
	err := s.pool.QueryRow(ctx, acquireLease, s.holder, ttl.Seconds()).Scan(&t.Epoch)
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
	if err := s.pool.QueryRow(ctx, `SELECT holder, epoch FROM leases WHERE name = 'leader'`).Scan(&other.Holder, &other.Epoch); err != nil {
		return bot.Term{}, false, fmt.Errorf("read the leader lease: %w", err)
	}
	return other, false, nil
}

// Release ends this replica's lease now, so another replica can take it at
// once; it keeps the holder, so the next term has a new epoch whoever takes
// it. It does nothing if another replica holds the lease.
func (s *Store) Release(ctx context.Context) error {
	s.term.Store(nil)
	if _, err := s.pool.Exec(ctx, `UPDATE leases SET expires_at = now() WHERE name = 'leader' AND holder = $1 AND expires_at > now()`, s.holder); err != nil {
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

// fence makes tx a leader write: it fails with bot.ErrDeposed unless this
// store's term is still the lease's and unexpired. The row stays locked FOR
// SHARE until tx ends, so no replica can take the lease over in between: the
// leader's write commits inside its term or not at all.
func (s *Store) fence(ctx context.Context, tx pgx.Tx) (bot.Term, error) {
	t := s.term.Load()
	if t == nil {
		return bot.Term{}, fmt.Errorf("%w (this replica holds no lease)", bot.ErrDeposed)
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM leases WHERE name = 'leader' AND holder = $1 AND epoch = $2 AND expires_at > now() FOR SHARE`,
		t.Holder, t.Epoch).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return bot.Term{}, fmt.Errorf("%w (term %d of %s is over)", bot.ErrDeposed, t.Epoch, t.Holder)
	}
	if err != nil {
		return bot.Term{}, fmt.Errorf("check the leader lease: %w", err)
	}
	return *t, nil
}
