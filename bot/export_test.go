package bot

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SetPollEvery sets how long an idle loop sleeps at most, for tests.
func (d *Dispatcher) SetPollEvery(poll time.Duration) { d.pollEvery = poll }

// Flush delivers, one chat after the other, every row that is due now, until
// none is left or the platform pauses: tests drive delivery without goroutines.
func (d *Dispatcher) Flush(ctx context.Context) error {
	for _, c := range d.channels {
		d.recordHeld(ctx, c)
		for {
			if _, paused := c.pauseState(); paused {
				if !d.probe(ctx, ctx, c) {
					break
				}
				if _, still := c.pauseState(); still {
					break
				}
				continue
			}
			rows, err := d.store.Due(ctx, c.Platform, d.now(), 64, c.busySet(nil))
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			for _, chat := range groupByChat(rows) {
				d.deliver(ctx, ctx, c, chat)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// Panics is the counter of panics recovered at where.
func (m *Metrics) Panics(where string) prometheus.Counter { return m.panics.WithLabelValues(where) }
