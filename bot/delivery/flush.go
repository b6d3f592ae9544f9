package delivery

import "context"

// Flush delivers, one chat after the other, every row that is due now, until
// none is left or a platform pauses, and returns: delivery without its loops
// and goroutines, for a caller that drives time itself (the in-process
// scenarios run it after each round on a manual clock).
func (d *Dispatcher) Flush(ctx context.Context) error {
	for _, c := range d.lanes {
		d.recordHeld(ctx, c)
		for {
			if _, paused := c.pauseState(); paused {
				if !d.trial(ctx, ctx, c) {
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
