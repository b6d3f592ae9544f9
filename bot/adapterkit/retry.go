package adapterkit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
)

// finalError marks an error that retrying cannot fix.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }
func (e finalError) Unwrap() error { return e.err }

// Final wraps err so that Retry returns it at once instead of trying again
// (a token the platform refuses, a session it will never accept).
func Final(err error) error { return finalError{err} }

// Retry is the connect-with-retry loop of every adapter: it calls try until
// try succeeds, returns a Final error (then unwrapped and returned), or ctx
// ends (then ctx's error). After each failure it logs msg at warn level
// with the error, the attempt and the wait, and waits on clk: the wait try
// returned when positive (a platform's retry_after), else b.Delay(attempt).
func Retry(ctx context.Context, clk clock.Clock, b bot.Backoff, log *slog.Logger, msg string,
	try func(ctx context.Context) (retryAfter time.Duration, err error)) error {
	for attempt := 1; ; attempt++ {
		after, err := try(ctx)
		if err == nil {
			return nil
		}
		if f := (finalError{}); errors.As(err, &f) {
			return f.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := after
		if wait <= 0 {
			wait = b.Delay(attempt)
		}
		log.Warn(msg, "err", err, "attempt", attempt, "retry_in", wait.String())
		if !clock.Sleep(ctx, clk, wait) {
			return ctx.Err()
		}
	}
}
