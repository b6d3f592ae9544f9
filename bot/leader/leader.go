// Package leader runs the leader's work only while this replica holds the
// lease, and fences it: the term ends a third of the lease before it lapses
// on the database's clock, so a frozen or deposed leader stops sending before
// another one starts.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
)

// Leader runs the leader's work (deciding X's state, the chat platforms'
// connections, delivery) only while this replica holds the lease, so that
// several replicas on one database act as one bot.
//
// It tries to take the lease every Every; the holder renews it as often. The
// design is Chubby's (and etcd's) lease with a local safety margin, plus
// Kleppmann's fencing token:
//
//   - the term ends locally at TTL−Every after the START of the last
//     successful renewal (the lease runs from the request, so the local end
//     always comes first, by Every, as long as clocks run at about the same
//     rate); Fence refuses every send from then on, whatever a renewal call
//     is doing, and the work is stopped;
//   - a renewal never outlives that end (its context ends there);
//   - the store refuses leader writes of an old epoch (ErrDeposed), and a
//     refusal deposes the replica at once (Depose).
type Leader struct {
	Lease bot.Lease
	Clock clock.Clock
	// TTL is the lease's length; Every the renewal and campaign period
	// (TTL/3 when zero).
	TTL, Every time.Duration
	Log        *slog.Logger
	Metrics    *metrics.Metrics

	mu      sync.Mutex
	term    bot.Term
	leading bool
	// until is the local end of the term: TTL−Every after the start of the
	// last successful renewal, on this replica's (monotonic) clock.
	until time.Time
	kick  chan error // Depose's word to Run
}

// errLapsed ends a term whose lease lapsed and was taken again by this
// same replica under a new epoch: the work restarts, the lease is kept.
var errLapsed = fmt.Errorf("%w (the lease lapsed)", bot.ErrDeposed)

// SoloLease is the lease of a bot that runs alone (SQLite): always held.
type SoloLease struct{}

func (SoloLease) Acquire(context.Context, time.Duration) (bot.Term, bool, error) {
	return bot.Term{Holder: "solo", Epoch: 1}, true, nil
}
func (SoloLease) Release(context.Context) error { return nil }

// Status reports the current term and whether this replica leads.
func (l *Leader) Status() (bot.Term, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term, l.leading
}

// Epoch is Status for the monitor: the term's epoch and whether this replica leads.
func (l *Leader) Epoch() (int64, bool) {
	t, ok := l.Status()
	return t.Epoch, ok
}

func (l *Leader) set(t bot.Term, leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term, l.leading = t, leading
	if !leading {
		l.until = time.Time{}
	}
}

// Fence says whether this replica may still act as the leader at now (a
// time of l.Clock): nil while it leads and its term has not ended locally,
// else an error wrapping ErrDeposed. The dispatcher asks it right before
// each send, so a leader that was frozen, or whose renewal hangs, sends
// nothing once its term is over, even before its work has been stopped.
func (l *Leader) Fence(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.leading:
		return fmt.Errorf("%w (this replica does not lead)", bot.ErrDeposed)
	case !now.Before(l.until):
		return fmt.Errorf("%w (term %d ended here at %s: the lease was not renewed in time)", bot.ErrDeposed, l.term.Epoch, l.until.Format(time.RFC3339Nano))
	}
	return nil
}

// Depose ends this replica's term at once: a store refused a leader write
// (its epoch is over). Fence refuses from now on and Run stops the work.
func (l *Leader) Depose(why error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leading {
		return
	}
	l.until = time.Time{}
	if l.kick != nil {
		select {
		case l.kick <- why:
		default:
		}
	}
}

// renewed records a successful renewal that started at before.
func (l *Leader) renewed(t bot.Term, before time.Time, every time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term, l.leading, l.until = t, true, before.Add(l.TTL-every)
}

// left is how long the term has left locally; ok is false when not leading.
func (l *Leader) left(now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until.Sub(now), l.leading
}

// Run campaigns until ctx ends, running work for each term this replica
// leads, with a context that ends when the term does. work returning before
// its context ends (a platform refused the token, a port is taken) ends Run
// with that error, as it would end a bot that runs alone. At the end the
// lease is released so that another replica takes over at once.
func (l *Leader) Run(ctx context.Context, work func(ctx context.Context) error) error {
	every := l.Every
	if every <= 0 {
		every = l.TTL / 3
	}
	var (
		stop context.CancelCauseFunc
		done chan error
	)
	// why is nil at shutdown; otherwise it wraps ErrDeposed, which tells the
	// work (the dispatcher) to cut sends in flight short.
	kick := make(chan error, 1)
	l.mu.Lock()
	l.kick = kick
	l.mu.Unlock()
	stepDown := func(why error) {
		stop(why)
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			l.Log.Debug("leader work ended", "err", err)
		}
		stop, done = nil, nil
		term, _ := l.Status()
		l.set(term, false)
		select {
		case <-kick: // a Depose of the term just ended: acted on
		default:
		}
		l.Metrics.Leadership(false)
		if why != nil {
			l.Log.Warn("not leading any more: leader work stopped", "why", why, "epoch", term.Epoch)
		}
		if why != nil && !errors.Is(why, errLapsed) {
			// Hand back what this term still holds (claims of rows it did not
			// send), so the next leader need not wait for them to expire. Not
			// after a lapse: this replica has just taken the lease again.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			defer cancel()
			if err := l.Lease.Release(rctx); err != nil {
				l.Log.Debug("release after stepping down", "err", err)
			}
		}
	}
	defer func() {
		if stop != nil {
			stepDown(nil)
			// Released only once the work has stopped (sends in flight recorded),
			// on a context of its own: ctx has ended.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			defer cancel()
			if err := l.Lease.Release(rctx); err != nil {
				l.Log.Warn("could not release the leader lease; another replica takes over when it expires", "err", err)
			}
		}
	}()
	for {
		// The term's local end bounds the renewal: a hanging call never keeps
		// a replica leading past it.
		wait := every
		if left, leading := l.left(l.Clock.Now()); leading && stop != nil {
			if left <= 0 {
				stepDown(fmt.Errorf("lease not renewed within %v of the last renewal's start: %w", l.TTL-every, bot.ErrDeposed))
			} else {
				wait = min(wait, left)
			}
		}
		actx, cancel := context.WithTimeout(ctx, wait)
		before := l.Clock.Now()
		term, held, err := l.Lease.Acquire(actx, l.TTL)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		current, _ := l.Status()
		switch {
		case err == nil && held && stop != nil && term.Epoch != current.Epoch:
			// The lease lapsed and was taken again: the old term's work (its
			// claims, its decisions) belongs to a term that is over.
			stepDown(fmt.Errorf("the lease lapsed (epoch %d, now %d): %w", current.Epoch, term.Epoch, errLapsed))
			fallthrough
		case err == nil && held:
			l.renewed(term, before, every) // the lease runs from the request, not the answer
			if stop == nil {
				l.Metrics.Leadership(true)
				l.Log.Info("leading: this replica decides X's state and delivers alerts", "epoch", term.Epoch, "holder", term.Holder)
				wctx, c := context.WithCancelCause(ctx)
				stop, done = c, make(chan error, 1)
				go func() { done <- work(wctx) }()
			}
		case err == nil && stop != nil:
			stepDown(fmt.Errorf("another replica holds the lease: %w", bot.ErrDeposed))
		case err != nil && stop != nil:
			if left, _ := l.left(l.Clock.Now()); left <= 0 {
				stepDown(fmt.Errorf("lease not renewed (%v): %w", err, bot.ErrDeposed))
			} else {
				l.Log.Warn("leader lease not renewed; still leading", "err", err, "left", left)
			}
		case err != nil:
			l.Log.Warn("leader lease", "err", err)
		}
		// Until the next try, or the term's local end if that comes first.
		wait = every
		if left, leading := l.left(l.Clock.Now()); leading && stop != nil {
			wait = max(min(wait, left), 0)
		}
		select {
		case werr := <-done:
			// The work ended by itself: as when the bot runs alone, that ends it.
			stop(nil)
			stop, done = nil, nil
			l.set(term, false)
			l.Metrics.Leadership(false)
			if werr == nil {
				werr = errors.New("leader work ended")
			}
			return fmt.Errorf("leader: %w", werr)
		case why := <-kick:
			if stop != nil {
				stepDown(fmt.Errorf("a leader write was refused: %w", why))
			}
		case <-ctx.Done():
			return nil
		case <-l.Clock.After(wait):
		}
	}
}
