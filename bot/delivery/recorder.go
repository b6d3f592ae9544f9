package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
)

// The recorder's bounds.
const (
	// recordBatch bounds the outcomes one transaction writes.
	recordBatch = 256
	// recordTimeout bounds one transaction of outcomes.
	recordTimeout = 10 * time.Second
	// recordWait bounds how long a worker waits for its outcomes to be
	// written, queueing included; past it they are held in memory, as when
	// the store refuses them.
	recordWait = 2*recordTimeout + 5*time.Second
)

// errRecorderLate is a worker's answer when the recorder did not write its
// outcomes within recordWait.
var errRecorderLate = errors.New("the outcome recorder did not answer in time")

// recorder writes the outcomes of every platform's sends in batches (group
// commit): a worker hands its chat's outcomes over and waits until they are
// written, so its chat stays busy and no send's outcome is ever further from
// the database than a send in flight; one goroutine writes, in one
// transaction, everything handed over while the previous transaction ran.
// Under a fan-out the batches grow with the rate and the write's latency; a
// lone send is written at once, with no timer on the way. Its queue holds
// one write per worker at most (each waits for its own), and is bounded.
type recorder struct {
	store   bot.Outbox
	log     *slog.Logger
	metrics *metrics.Metrics
	queue   chan *write
	stop    chan struct{}
	done    chan struct{}
}

// write is one worker's outcomes and where their fate is told.
type write struct {
	outs []bot.Outcome
	done chan error // buffered: the recorder never waits for the worker
}

func newRecorder(store bot.Outbox, log *slog.Logger, m *metrics.Metrics, capacity int) *recorder {
	return &recorder{store: store, log: log, metrics: m, queue: make(chan *write, max(capacity, 1)),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// run writes batches until close; what is queued at close is written first.
func (r *recorder) run() {
	defer close(r.done)
	for {
		var first *write
		select {
		case first = <-r.queue:
		case <-r.stop:
			for {
				select {
				case w := <-r.queue:
					r.flush(r.gather(w))
				default:
					return
				}
			}
		}
		r.flush(r.gather(first))
	}
}

// gather takes, after first, the writes already queued, up to recordBatch
// outcomes.
func (r *recorder) gather(first *write) []*write {
	batch, n := []*write{first}, len(first.outs)
	for n < recordBatch {
		select {
		case w := <-r.queue:
			batch, n = append(batch, w), n+len(w.outs)
		default:
			return batch
		}
	}
	return batch
}

// flush writes a batch in one transaction and tells each worker its fate:
// written, refused in part (each worker gets the indexes of its own), or
// failed.
func (r *recorder) flush(batch []*write) {
	var outs []bot.Outcome
	for _, w := range batch {
		outs = append(outs, w.outs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	err := writeOutcomes(ctx, r.store, outs, r.log, r.metrics)
	cancel()
	var refused *bot.RefusedError
	if !errors.As(err, &refused) {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	from := 0
	for _, w := range batch {
		var mine []int
		for _, i := range refused.Refused {
			if i >= from && i < from+len(w.outs) {
				mine = append(mine, i-from)
			}
		}
		from += len(w.outs)
		if mine == nil {
			w.done <- nil
		} else {
			w.done <- &bot.RefusedError{Refused: mine, Err: refused.Err}
		}
	}
}

// submit hands outs to the recorder and waits, at most recordWait, until
// they are written.
func (r *recorder) submit(outs []bot.Outcome) error {
	w := &write{outs: outs, done: make(chan error, 1)}
	deadline := time.NewTimer(recordWait) // the real clock: it bounds I/O, as the store's own deadlines do
	defer deadline.Stop()
	select {
	case r.queue <- w:
	case <-deadline.C:
		return errRecorderLate
	}
	select {
	case err := <-w.done:
		return err
	case <-deadline.C:
		return errRecorderLate
	}
}

// close writes what is queued and stops the recorder.
func (r *recorder) close() {
	close(r.stop)
	<-r.done
}

// writeOutcomes writes outs in one transaction. A panic in the store is
// recovered, logged with its stack and counted, and reported as an error:
// the outcomes are then held in memory as when the store refuses them.
func writeOutcomes(ctx context.Context, store bot.Outbox, outs []bot.Outcome, log *slog.Logger, m *metrics.Metrics) (err error) {
	defer func() {
		if p := recover(); p != nil {
			m.RecoveredPanic("recorder")
			log.Error("panic while recording delivery outcomes", "err", fmt.Sprint(p), "count", len(outs), "stack", string(debug.Stack()))
			err = fmt.Errorf("record %d delivery outcomes: panic: %v", len(outs), p)
		}
	}()
	return store.Record(ctx, outs)
}
