package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/xstatusbot/xstatusbot/bot/clock"
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

// Pace is when probe rounds run: on the schedule's ticks, except while a
// change is pending. A round that leaves a change pending (it disagreed
// with the announced state and the hysteresis has not decided yet) is
// followed by a confirming round ConfirmDelay after its start instead of
// at the next tick, until the hysteresis decides either way (or MaxConfirm
// confirming rounds in a row have run); then the schedule resumes.
type Pace struct {
	Schedule cron.Schedule
	// ConfirmDelay is the gap between the starts of a round that left a
	// change pending and its confirming round; zero turns fast confirmation off.
	ConfirmDelay time.Duration
	// MaxConfirm bounds the confirming rounds in a row, so rounds that say
	// nothing (the bot's own network down) cannot keep the fast pace forever.
	MaxConfirm int
	Clock      clock.Clock
	Log        *slog.Logger
}

// RunSchedule runs round at once, then at the pace p sets, until ctx ends.
// round reports whether a change is pending after it.
//
// Rounds never overlap and no tick is dropped: a tick that passes while a
// round runs starts the next round as soon as that one ends (one round for
// however many ticks passed), so a slow round delays the next one instead of
// costing a whole interval. A panicking round is logged and recovered. On
// return, the round in progress (if any) has finished or grace has passed.
//
// The rounds are run by this loop rather than by a cron.Cron: cron cannot
// bring one run forward for a confirmation, and its SkipIfStillRunning drops
// the tick that comes during a long round.
func RunSchedule(ctx context.Context, p Pace, round func() (pending bool), grace time.Duration) {
	clk := p.Clock
	var (
		tick       time.Time // the schedule's latest tick, run or replaced by a confirming round
		confirming int       // confirming rounds in a row
	)
	for {
		start := clk.Now()
		if tick.IsZero() {
			tick = start
		}
		done := make(chan bool, 1)
		go func() {
			pending := false
			defer func() {
				if r := recover(); r != nil {
					p.Log.Error("probe round panicked", "panic", r, "stack", string(debug.Stack()))
				}
				done <- pending
			}()
			pending = round()
		}()
		var pending bool
		select {
		case pending = <-done:
		case <-ctx.Done():
			select {
			case <-done:
			case <-clk.After(grace):
				p.Log.Warn("probe round still running at shutdown; leaving it", "grace", grace)
			}
			return
		}
		for !tick.After(start) {
			if tick = p.Schedule.Next(tick); tick.IsZero() {
				p.Log.Error("the schedule has no next run; probing stops")
				return
			}
		}
		due := tick
		if pending && p.ConfirmDelay > 0 && confirming < p.MaxConfirm {
			confirming++
			if c := start.Add(p.ConfirmDelay); c.Before(due) {
				due = c
			}
			p.Log.Debug("a change is pending: confirming round", "at", due, "confirming", confirming)
		} else {
			confirming = 0
		}
		if !clock.Sleep(ctx, clk, due.Sub(clk.Now())) {
			return
		}
	}
}
