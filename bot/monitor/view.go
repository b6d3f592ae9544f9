// The monitor as the rest of the program reads it: /healthz, /status, the
// board and the schedule ask it, under its lock, without a store call.

package monitor

import (
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Regions is the breakdown of the last vote: what each fresh region saw,
// ordered by name; nil when they agreed or there is one region.
func (m *Monitor) Regions() []bot.RegionVerdict {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regions
}

// Undecided reports whether a change is pending: the latest rounds disagree
// with the announced state and the hysteresis has not decided yet. On a
// follower it is the leader's saved streak. The schedule runs confirming
// rounds while it holds.
func (m *Monitor) Undecided() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status.Pending != "" && m.status.Streak > 0
}

// Began is when the announced state began (see StateBegan).
func (m *Monitor) Began() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bot.StateBegan(m.status, m.recent)
}

// LastRound is the last round recorded, nil before the first.
func (m *Monitor) LastRound() *probe.Round {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Health reports the probing state; maxAge is how old the last round may be.
func (m *Monitor) Health(maxAge time.Duration) bot.Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := bot.Health{State: m.status.State, Since: m.status.Since, ControlOK: true}
	ref := m.started
	// This replica's own probing: a follower is healthy while it probes,
	// even when no leader is deciding (during a takeover).
	last := m.probed
	if last == nil {
		last = m.last
	}
	if last != nil {
		h.LastRound, h.LastVerdict, h.ControlOK = last.Start.Add(last.Duration), last.Verdict, last.ControlOK()
		if h.LastRound.After(ref) {
			ref = h.LastRound
		}
	}
	h.Stale = m.cfg.Now().Sub(ref) > maxAge
	return h
}

// Snapshot is the monitor's state as a store would load it, read from
// memory: /status answers from it without a query. Incident is the open
// incident only (memory keeps no closed one).
func (m *Monitor) Snapshot() bot.Saved {
	m.mu.Lock()
	defer m.mu.Unlock()
	sv := bot.Saved{Status: m.status, LastRound: m.last, Flap: m.flap}
	if m.incident != nil {
		inc := *m.incident // the monitor replaces incidents, never changes one in place
		sv.Incident = &inc
	}
	return sv
}
