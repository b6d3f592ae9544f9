package bot

import "time"

// AlertLevel is which changes a chat hears of.
type AlertLevel string

const (
	// AlertsAll: down, degraded and recoveries (degraded ones silently).
	AlertsAll AlertLevel = "all"
	// AlertsOutages: only down and its recovery.
	AlertsOutages AlertLevel = "outages"
)

// ChatSettings are one chat's preferences (issue 12). The zero value is the
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
