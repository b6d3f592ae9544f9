package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule validates a cron spec: five fields ("*/5 * * * *") or a
// descriptor ("@every 30s", "@hourly"). Some malformed specs make the cron
// parser panic; that becomes an error here.
func ParseSchedule(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("invalid schedule %q: %v", spec, r)
		}
	}()
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		// cron silently turns anything under a second (even negative) into 1s.
		if d, err := time.ParseDuration(rest); err == nil && d < time.Second {
			return nil, fmt.Errorf("invalid schedule %q: the interval must be at least 1s", spec)
		}
	}
	s, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	if Interval(s, time.Now()) <= 0 {
		return nil, fmt.Errorf("invalid schedule %q: it never runs", spec)
	}
	return s, nil
}

// Interval is the gap between two consecutive runs after now.
func Interval(s cron.Schedule, now time.Time) time.Duration {
	a := s.Next(now)
	if a.IsZero() {
		return 0
	}
	return s.Next(a).Sub(a)
}

// RunSchedule runs job once at once, then on every tick of s, until ctx ends.
// A run still going when the next tick comes makes that tick skip, and a
// panicking run is logged and recovered. On return, the run in progress (if
// any) has finished or grace has passed.
func RunSchedule(ctx context.Context, s cron.Schedule, job func(), grace time.Duration, log *slog.Logger) {
	l := cronLogger{log}
	// SkipIfStillRunning must wrap Recover: the other way round, a panic
	// would leave the skip lock held and the job would never run again.
	wrapped := cron.NewChain(cron.SkipIfStillRunning(l), cron.Recover(l)).Then(cron.FuncJob(job))
	c := cron.New(cron.WithLogger(l))
	c.Schedule(s, wrapped)
	first := make(chan struct{})
	go func() { defer close(first); wrapped.Run() }() // cron runs nothing at Start
	c.Start()
	<-ctx.Done()
	stopped := c.Stop() // stops ticking; ends when running jobs end
	select {
	case <-stopped.Done():
	case <-time.After(grace):
		log.Warn("probe round still running at shutdown; leaving it", "grace", grace)
		return
	}
	select {
	case <-first:
	case <-time.After(grace):
	}
}

// cronLogger sends cron's logs to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	// cron logs every schedule and wake-up at info: that is debug detail for us.
	l.log.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
