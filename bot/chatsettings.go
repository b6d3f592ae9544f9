package bot

import (
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// AlertLevel is which changes a chat hears of.
type AlertLevel string

const (
	// AlertsAll: down, degraded and recoveries (degraded ones silently).
	AlertsAll AlertLevel = "all"
	// AlertsOutages: only down and its recovery.
	AlertsOutages AlertLevel = "outages"
)

// AsHeard is the state a chat on level l would be told of: a chat on
// "outages" is never told of degraded, so for it degraded reads as up.
func (l AlertLevel) AsHeard(st probe.State) probe.State {
	if l == AlertsOutages && st == probe.StateDegraded {
		return probe.StateUp
	}
	return st
}

// ChatSettings are one chat's preferences. The zero value is the
// default: every alert, not muted, the subscription's language, no reminders.
type ChatSettings struct {
	Level AlertLevel
	// MutedUntil: no alert before then (zero: not muted).
	MutedUntil time.Time
	// Lang overrides the subscription's language ("" keeps it).
	Lang string
	// RemindEvery repeats the alert while X is not up (0: off; at least 15 min).
	RemindEvery time.Duration
}
