package bot

import (
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Span is a stretch of time X spent in one announced state, as recorded
// round after round. State probe.StateUnknown marks time the bot could not
// tell (unknown verdicts: its own network down); time between spans is time
// it was not running. Both are "no data", left out of uptime percentages.
type Span struct {
	State probe.State
	From  time.Time
	To    time.Time
}

// Uptime is how X fared over one window ending now.
type Uptime struct {
	Window   time.Duration
	Up       time.Duration
	Degraded time.Duration
	Down     time.Duration
	NoData   time.Duration
	// Percent is Up / (Up + Degraded + Down) × 100; negative when there is
	// no data at all in the window.
	Percent float64
}

// Day is one cell of the status page's 90-day bar.
type Day struct {
	Date time.Time // midnight UTC
	// Worst is the day's worst state; probe.StateUnknown when the day has no data.
	Worst    probe.State
	Downtime time.Duration // time degraded or down
	NoData   time.Duration
}

// Component is one target's last result, for the board.
type Component struct {
	Name    string
	OK      bool
	Latency time.Duration
	// Slow marks a success slower than the probe's slow threshold.
	Slow   bool
	Detail string
}

// Board is the public status: what /status, the status page and its JSON
// show (bot/web renders its own JSON document from it). It is rebuilt after
// each round and read without touching the database or the monitor's lock.
//
// Since is when the state began: the first round of the streak that led
// to it (an outage's first failing round), not its confirmation.
type Board struct {
	State      probe.State
	Since      time.Time
	LastCheck  time.Time
	ControlOK  bool
	Components []Component
	// Uptime over the last 24 h, 7 days and 30 days.
	Uptime24h, Uptime7d, Uptime30d Uptime
	// Days are the last 90 days, oldest first.
	Days []Day
	// Incidents are the latest incidents, newest first.
	Incidents []Incident
	// Regions is what each vantage point saw in the last vote when they
	// disagreed; nil when they agreed or there is one.
	Regions []RegionVerdict
	// Crowd is what people reported in the last window, as of the last round.
	Crowd Crowd
	// Built is when the board was made.
	Built time.Time
	// Every is how often X is checked (the schedule's interval); 0 when not known.
	Every time.Duration
}

// Uptimes are the figures /status shows.
type Uptimes struct{ H24, D7, D30 Uptime }
