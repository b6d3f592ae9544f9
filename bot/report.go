package bot

import (
	"context"
	"strconv"
	"time"
)

// ReportKind is what a person says fails on X.
type ReportKind string

const (
	ReportPost  ReportKind = "post"
	ReportFeed  ReportKind = "feed"
	ReportLogin ReportKind = "login"
	ReportDM    ReportKind = "dm"
	ReportMedia ReportKind = "media"
	// ReportOther is also what a /report without a kind records.
	ReportOther ReportKind = "other"
)

// ReportKinds are the kinds /report accepts, in menu order.
var ReportKinds = []ReportKind{ReportPost, ReportFeed, ReportLogin, ReportDM, ReportMedia, ReportOther}

// Report is one person's /report: what fails for them, where they said it.
type Report struct {
	ID int64
	// User is the reporter's id on Chat's platform ("chat:<id>" for a post
	// made on behalf of a chat). It is stored to count people, never shown.
	User string
	Chat ChatRef
	// Group is the chat's container (Discord guild id), "" if none: the
	// crowd rule counts a few reports per group (or chat without one).
	Group string
	Kind  ReportKind
	At    time.Time
}

// KindCount is how many counted reports named one kind.
type KindCount struct {
	Kind  ReportKind `json:"kind"`
	Count int        `json:"count"`
}

// Crowd is what people reported in the window ending at At, as the crowd
// rule counts it (bot/crowd).
type Crowd struct {
	// Reports counts the reports of the window: one per person, and at most
	// a few per chat or server.
	Reports int `json:"reports"`
	// Kinds breaks Reports down by kind, most reported first.
	Kinds  []KindCount   `json:"kinds"`
	Window time.Duration `json:"-"`
	// Usual is the usual count per window at this time of day (the median
	// over the past days); 0 when there is no history yet.
	Usual float64 `json:"usual"`
	// Signal says X is reported degraded: enough people reported, markedly
	// more than usual, at some time within the last window.
	Signal bool      `json:"signal"`
	At     time.Time `json:"-"`
}

// Mostly is the most reported kind; "" when there is none or it is
// "other" (which says nothing about what fails).
func (c Crowd) Mostly() ReportKind {
	if len(c.Kinds) == 0 || c.Kinds[0].Kind == ReportOther {
		return ""
	}
	return c.Kinds[0].Kind
}

// CrowdComponent is the component of the cause the crowd signal adds to a
// round: people's reports, beside the probes' failing targets.
const CrowdComponent = "reports"

// CrowdCause is the crowd signal as a cause: Detail says it in English
// (for the JSON and webhooks); Reports and Mostly let each language say it.
func CrowdCause(c Crowd) Cause {
	return Cause{Component: CrowdComponent, Reports: c.Reports, Mostly: string(c.Mostly()), Window: c.Window,
		Detail: crowdDetail(c)}
}

func crowdDetail(c Crowd) string {
	d := strconv.Itoa(c.Reports) + " reports in " + c.Window.String()
	if m := c.Mostly(); m != "" {
		d += ", mostly " + string(m)
	}
	return d
}

// CrowdOnly reports whether causes are people's reports alone: the probes
// passed (a crowd-only incident or change).
func CrowdOnly(causes []Cause) bool {
	if len(causes) == 0 {
		return false
	}
	for _, c := range causes {
		if c.Component != CrowdComponent {
			return false
		}
	}
	return true
}

// ReportStore keeps people's reports.
type ReportStore interface {
	// AddReport records r unless its reporter (User on r.Chat's platform)
	// already reported within window before r.At; added tells which, and
	// sets r.ID.
	AddReport(ctx context.Context, r *Report, window time.Duration) (added bool, err error)
	// ReportsSince returns the reports made at or after from, oldest first,
	// at most limit of them.
	ReportsSince(ctx context.Context, from time.Time, limit int) ([]Report, error)
	// ReportCount counts the reports made in [from, to).
	ReportCount(ctx context.Context, from, to time.Time) (int, error)
	// FirstReport is when the oldest report kept was made; zero when none.
	FirstReport(ctx context.Context) (time.Time, error)
}
