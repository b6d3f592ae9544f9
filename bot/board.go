package bot

import (
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Span is a stretch of time X spent in one announced state, as recorded
// round after round. State probe.StateUnknown marks time the bot could not
// tell (unknown verdicts: its own network down) and Gap time it was not
// running; both are "no data" and left out of uptime percentages.
type Span struct {
	State probe.State `json:"state"`
	From  time.Time   `json:"from"`
	To    time.Time   `json:"to"`
}

// Uptime is how X fared over one window ending now.
type Uptime struct {
	Window   time.Duration `json:"-"`
	Up       time.Duration `json:"-"`
	Degraded time.Duration `json:"-"`
	Down     time.Duration `json:"-"`
	NoData   time.Duration `json:"-"`
	// Percent is Up / (Up + Degraded + Down) × 100; negative when there is
	// no data at all in the window.
	Percent float64 `json:"percent"`
}

// Day is one cell of the status page's 90-day bar.
type Day struct {
	Date time.Time `json:"date"` // midnight UTC
	// Worst is the day's worst state; probe.StateUnknown when the day has no data.
	Worst    probe.State   `json:"worst"`
	Downtime time.Duration `json:"-"` // time degraded or down
	NoData   time.Duration `json:"-"`
}

// Component is one target's last result, for the board.
type Component struct {
	Name    string        `json:"name"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"-"`
	Detail  string        `json:"detail,omitempty"`
}

// Board is the public status: what /status, the status page and its JSON
// show. It is rebuilt after each round and read without touching the
// database or the monitor's lock.
type Board struct {
	State      probe.State `json:"state"`
	Since      time.Time   `json:"since,omitzero"`
	LastCheck  time.Time   `json:"last_check,omitzero"`
	ControlOK  bool        `json:"control_ok"`
	Components []Component `json:"components"`
	// Uptime over the last 24 h, 7 days and 30 days.
	Uptime24h, Uptime7d, Uptime30d Uptime `json:"-"`
	// Days are the last 90 days, oldest first.
	Days []Day `json:"days"`
	// Incidents are the latest incidents, newest first.
	Incidents []Incident `json:"-"`
	// Built is when the board was made.
	Built time.Time `json:"built"`
}
