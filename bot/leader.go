package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Leader runs the leader's work (deciding X's state, the chat platforms'
// connections, delivery) only while this replica holds the lease, so that
// several replicas on one database act as one bot.
//
// It tries to take the lease every Every; the holder renews it as often. A
// holder that has not renewed for TTL−Every steps down by itself (its work is
// stopped) before the lease expires, so that by the time another replica may
// take it the deposed one has stopped starting sends. Its writes are also
// refused by the store's fence (ErrDeposed).
type Leader struct {
	Lease Lease
	Clock Clock
	// TTL is the lease's length; Every the renewal and campaign period
	// (TTL/3 when zero).
	TTL, Every time.Duration
	Log        *slog.Logger
	Metrics    *Metrics

	mu      sync.Mutex
	term    Term
	leading bool
}

// SoloLease is the lease of a bot that runs alone (SQLite): always held.
type SoloLease struct{}

func (SoloLease) Acquire(context.Context, time.Duration) (Term, bool, error) {
	return Term{Holder: "solo", Epoch: 1}, true, nil
}
func (SoloLease) Release(context.Context) error { return nil }

// Status reports the current term and whether this replica leads.
func (l *Leader) Status() (Term, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term, l.leading
}

// Epoch is Status for the monitor: the term's epoch and whether this replica leads.
func (l *Leader) Epoch() (int64, bool) {
	t, ok := l.Status()
	return t.Epoch, ok
}

func (l *Leader) set(t Term, leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term, l.leading = t, leading
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
		stop   context.CancelCauseFunc
		done   chan error
		lastOK time.Time // the last renewal, on this replica's clock
	)
	// why is nil at shutdown; otherwise it wraps ErrDeposed, which tells the
	// work (the dispatcher) to cut sends in flight short.
	stepDown := func(why error) {
		stop(why)
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			l.Log.Debug("leader work ended", "err", err)
		}
		stop, done = nil, nil
		term, _ := l.Status()
		l.set(term, false)
		l.Metrics.leadership(false)
		if why != nil {
			l.Log.Warn("not leading any more: leader work stopped", "why", why, "epoch", term.Epoch)
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
		actx, cancel := context.WithTimeout(ctx, every)
		before := l.Clock.Now()
		term, held, err := l.Lease.Acquire(actx, l.TTL)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil && held:
			lastOK = before // the lease runs from the request, not the answer
			if stop == nil {
				l.set(term, true)
				l.Metrics.leadership(true)
				l.Log.Info("leading: this replica decides X's state and delivers alerts", "epoch", term.Epoch, "holder", term.Holder)
				wctx, c := context.WithCancelCause(ctx)
				stop, done = c, make(chan error, 1)
				go func() { done <- work(wctx) }()
			} else {
				l.set(term, true) // renewed; the epoch moves if it had lapsed
			}
		case err == nil && stop != nil:
			stepDown(fmt.Errorf("another replica holds the lease: %w", ErrDeposed))
		case err != nil && stop != nil && l.Clock.Now().Sub(lastOK) >= l.TTL-every:
			stepDown(fmt.Errorf("lease not renewed (%v): %w", err, ErrDeposed))
		case err != nil:
			l.Log.Warn("leader lease", "err", err)
		}
		if done != nil {
			select {
			case werr := <-done:
				// The work ended by itself: as when the bot runs alone, that ends it.
				stop(nil)
				stop, done = nil, nil
				l.set(term, false)
				l.Metrics.leadership(false)
				if werr == nil {
					werr = errors.New("leader work ended")
				}
				return fmt.Errorf("leader: %w", werr)
			case <-ctx.Done():
				return nil
			case <-l.Clock.After(every):
			}
			continue
		}
		if !Sleep(ctx, l.Clock, every) {
			return nil
		}
	}
}
