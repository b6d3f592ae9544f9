// People's reports beside the probes: each round reads back the reports
// every replica stored (a process alone, only its first round), and the
// leader lets the crowd rule's signal count as a degraded verdict when the
// probes pass.

package monitor

import (
	"context"
	"slices"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/probe"
)

const (
	// reportSkew is how far back past the last read each round reads
	// reports again: a replica's clock may run behind, or its insert commit
	// late. The tally counts a report once, by id and by person.
	reportSkew = time.Minute
	// reportsRead bounds the reports one round reads: one per person per
	// window, so this is people in two windows.
	reportsRead = 200_000
	// usualEvery spaces out the usual rate's queries.
	usualEvery = 10 * time.Minute
	// usualDays is how many past days the usual rate looks at.
	usualDays = 7
)

// readCrowd brings the tally up to date with the reports stored since the
// last read (alone: since before the first round only) and returns the crowd
// at now. A store error keeps what the tally
// has: the signal is decided on the reports it could read.
func (m *Monitor) readCrowd(ctx context.Context, now time.Time) bot.Crowd {
	t := m.cfg.Crowd
	if t == nil {
		return bot.Crowd{}
	}
	m.crowdMu.Lock()
	defer m.crowdMu.Unlock()
	if m.cfg.Reports != nil {
		window := t.Rule().Window
		if !m.cfg.Alone || m.reportsRead.IsZero() {
			from := now.Add(-2 * window) // two windows: whether the signal holds is decided over the last one
			if !m.reportsRead.IsZero() && m.reportsRead.Add(-reportSkew).After(from) {
				from = m.reportsRead.Add(-reportSkew)
			}
			rs, err := m.cfg.Reports.ReportsSince(ctx, from, reportsRead)
			if err != nil {
				m.cfg.Log.Warn("read people's reports; counting those already read", "err", err)
			} else {
				t.AddAll(rs)
				m.reportsRead = now
			}
		}
		if m.usualAt.IsZero() || now.Sub(m.usualAt) >= usualEvery || now.Before(m.usualAt) {
			if u, err := m.usual(ctx, now, window); err != nil {
				m.cfg.Log.Warn("read the usual rate of reports; keeping the last", "err", err)
			} else {
				t.SetUsual(u)
				m.usualAt = now
			}
		}
	}
	return t.Read(now)
}

// usual is the usual count of reports per window at this time of day: the
// median over the past days that have history of the reports made within
// half an hour of now's time of day.
func (m *Monitor) usual(ctx context.Context, now time.Time, window time.Duration) (float64, error) {
	first, err := m.cfg.Reports.FirstReport(ctx)
	if err != nil || first.IsZero() {
		return 0, err
	}
	var perDay []int
	for d := 1; d <= usualDays; d++ {
		from := now.Add(-time.Duration(d)*24*time.Hour - 30*time.Minute)
		if from.Before(first) {
			break // no history that far back: not a quiet day, an unknown one
		}
		n, err := m.cfg.Reports.ReportCount(ctx, from, from.Add(time.Hour))
		if err != nil {
			return 0, err
		}
		perDay = append(perDay, n)
	}
	return crowd.Usual(perDay, window), nil
}

// withCrowd is the verdict and causes of a voted round once people's reports
// are counted: a signal makes a passing round degraded, and adds its cause
// to a failing one so the alert mentions it. A round that says nothing
// about X (the bot's own network down) stays unknown.
func withCrowd(v probe.Verdict, causes []bot.Cause, c bot.Crowd) (probe.Verdict, []bot.Cause) {
	if !c.Signal || v == probe.VerdictUnknown {
		return v, causes
	}
	if v == probe.VerdictUp {
		v = probe.VerdictDegraded
	}
	return v, append(slices.Clone(causes), bot.CrowdCause(c))
}

// Crowd is what people reported in the last window, as of the last round.
func (m *Monitor) Crowd() bot.Crowd {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crowd
}
