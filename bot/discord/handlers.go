package discord

import (
	"context"
	"fmt"
)

// DefaultMaxHandlers is how many events and interactions are handled at
// once by default. Beyond it an event is dropped with a warning: each
// interaction must be acknowledged within 3 s, so queueing it behind a full
// pool would only fail it later.
const DefaultMaxHandlers = 64

// goBounded is goHandle for a gateway event: at most cap(slots) run at
// once; beyond that the event is dropped with a warning (what is sent from
// the gateway cannot wait: it holds the gateway's reader).
func (a *Bot) goBounded(ctx context.Context, what string, fn func(ctx context.Context)) {
	select {
	case a.slots <- struct{}{}:
	default:
		a.log.Warn("discord: too many events in progress; dropping one", "event", what, "limit", cap(a.slots))
		return
	}
	if !a.goHandle(ctx, func(ctx context.Context) {
		defer func() { <-a.slots }()
		fn(ctx)
	}) {
		<-a.slots
	}
}

// goHandle runs fn in a goroutine Run waits for, with a context that survives
// the end of Run's ctx for at most handlerTimeout (so an answer in flight is
// still delivered at shutdown), and recovers panics. It reports whether fn
// was started (not once shutdown began).
func (a *Bot) goHandle(ctx context.Context, fn func(ctx context.Context)) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping {
		return false
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				a.panics.Inc()
				a.log.Error("panic in discord event handler; skipped", "err", fmt.Errorf("panic: %v", p))
			}
		}()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.handlerTimeout)
		defer cancel()
		fn(hctx)
	}()
	return true
}
