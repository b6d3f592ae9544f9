package history

import (
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Uptime windows of the board and /status.
const (
	Window24h = 24 * time.Hour
	Window7d  = 7 * 24 * time.Hour
	Window30d = 30 * 24 * time.Hour
)

// ComputeUptime weighs the spans by the time they overlap [from, to). Time
// covered by no span (the bot was not running) or by an unknown span (it
// could not tell) is NoData and left out of Percent, which is negative when
// no time in the window is known.
func ComputeUptime(spans []bot.Span, from, to time.Time) bot.Uptime {
	u := bot.Uptime{Window: to.Sub(from), Percent: -1}
	if u.Window <= 0 {
		u.Window = 0
		return u
	}
	for _, sp := range spans {
		d := overlap(sp, from, to)
		switch sp.State {
		case probe.StateUp:
			u.Up += d
		case probe.StateDegraded:
			u.Degraded += d
		case probe.StateDown:
			u.Down += d
		}
	}
	known := u.Up + u.Degraded + u.Down
	u.NoData = max(u.Window-known, 0)
	if known > 0 {
		u.Percent = float64(u.Up) / float64(known) * 100
	}
	return u
}

// uptimesOf is the uptime over the last 24 h, 7 days and 30 days to now.
func UptimesOf(spans []bot.Span, now time.Time) bot.Uptimes {
	return bot.Uptimes{
		H24: ComputeUptime(spans, now.Add(-Window24h), now),
		D7:  ComputeUptime(spans, now.Add(-Window7d), now),
		D30: ComputeUptime(spans, now.Add(-Window30d), now),
	}
}

// firstDay is the midnight (UTC) that starts the n days ending with the one
// holding end. AddDate, not 24 h steps: UTC has no DST, but this stays right
// if the zone ever changes.
func firstDay(end time.Time, n int) time.Time {
	end = end.UTC()
	last := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	return last.AddDate(0, 0, 1-n)
}

// Days cuts the spans into the n UTC days ending with the one holding end,
// oldest first. A day's Worst is the worst state it spent any time in
// (StateUnknown when it has no known time); the day holding end counts only
// up to end.
func Days(spans []bot.Span, end time.Time, n int) []bot.Day {
	if n <= 0 {
		return nil
	}
	end = end.UTC()
	first := firstDay(end, n)
	out := make([]bot.Day, n)
	for k := range out {
		date := first.AddDate(0, 0, k)
		dayEnd := date.AddDate(0, 0, 1)
		if dayEnd.After(end) {
			dayEnd = end
		}
		u := ComputeUptime(spans, date, dayEnd)
		d := bot.Day{Date: date, Worst: probe.StateUnknown, Downtime: u.Degraded + u.Down, NoData: u.NoData}
		switch {
		case u.Down > 0:
			d.Worst = probe.StateDown
		case u.Degraded > 0:
			d.Worst = probe.StateDegraded
		case u.Up > 0:
			d.Worst = probe.StateUp
		}
		out[k] = d
	}
	return out
}

// overlap is how long sp lies within [from, to).
func overlap(sp bot.Span, from, to time.Time) time.Duration {
	a, b := later(sp.From, from), earlier(sp.To, to)
	if !b.After(a) {
		return 0
	}
	return b.Sub(a)
}

// StoredSpans turns the spans a store read into the time in state over
// [from, to): spans holds, oldest first, every stored span that may overlap
// the window, the latest of all included. That latest one counts as lasting
// until to when its last round is within gap of it: the bot is running and
// the next round will extend it. Each span is clipped to the window; those
// left empty are dropped.
func StoredSpans(spans []bot.Span, from, to time.Time, gap time.Duration) []bot.Span {
	if n := len(spans); n > 0 && !spans[n-1].To.After(to) && to.Sub(spans[n-1].To) <= gap {
		spans[n-1].To = to
	}
	var clipped []bot.Span
	for _, sp := range spans {
		sp.From, sp.To = later(sp.From, from), earlier(sp.To, to)
		if sp.To.After(sp.From) {
			clipped = append(clipped, sp)
		}
	}
	return clipped
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
