// Package bot is the leaf every other part depends on: the words of the
// domain (a subscription, a change, an incident, a delivery, a message, a
// chat's settings, the board) and the small interfaces between the parts
// (Notifier, the store and its pieces, Lease). It holds no behaviour beyond
// methods on those types, so the parts depend on words, not on each other.
package bot

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names a chat service. Each adapter owns its name; bot names none.
type Platform string

// ChatRef identifies one chat (Telegram chat, Discord channel, console stream).
type ChatRef struct {
	Platform Platform
	// ID is the platform's chat id as text (Telegram int64, Discord snowflake).
	ID string
}

func (c ChatRef) String() string { return fmt.Sprintf("%s:%s", c.Platform, c.ID) }

// ChatKind is an adapter's word for a kind of chat (private, group,
// server…), stored with the subscription. Who may manage a chat is the
// adapter's rule, told to the service through Command.
type ChatKind string

// Subscription is one chat that wants alerts.
type Subscription struct {
	Chat ChatRef
	Kind ChatKind
	// Group is the container the chat belongs to (Discord guild id), so all of
	// its chats can be ended at once when the bot leaves it.
	Group     string
	Lang      string
	CreatedAt time.Time
	// By is who subscribed the chat (the platform's user id, or "chat:<id>"
	// for a post made on behalf of a chat), so subscriptions per person can
	// be capped; "" for chats subscribed before it was recorded or by the
	// configuration.
	By string
}

// Cause is one failing component and why it fails. In an incident,
// FirstSeen and LastSeen bound the rounds that saw the component fail; rows
// stored before they existed decode with both zero.
type Cause struct {
	Component string    `json:"component"`
	Detail    string    `json:"detail"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Reports, Mostly and Window are set on the crowd's cause
	// (CrowdComponent): how many reports within which window, and the kind
	// most named.
	Reports int           `json:"reports,omitempty"`
	Mostly  string        `json:"mostly,omitempty"`
	Window  time.Duration `json:"window,omitempty"`
}

// CausesOf lists the failing targets of a round.
func CausesOf(r probe.Round) []Cause {
	var out []Cause
	for _, f := range r.Failing() {
		out = append(out, Cause{Component: f.Target, Detail: f.Detail})
	}
	return out
}

// Incident is one period during which X was not up.
type Incident struct {
	ID    int64
	Start time.Time
	// End is zero while the incident is open.
	End   time.Time
	Worst probe.State
	// Causes are the components that failed during the incident, each with
	// its latest detail and when it was first and last seen failing.
	Causes []Cause
}

// Open reports whether the incident is still going on.
func (i Incident) Open() bool { return i.End.IsZero() }

// Duration is how long the incident lasted, or has lasted by now.
func (i Incident) Duration(now time.Time) time.Duration {
	if i.Open() {
		return now.Sub(i.Start)
	}
	return i.End.Sub(i.Start)
}

// MainCauses are the n components that failed longest in the incident,
// longest first; ties keep the order they were first seen in.
func (i Incident) MainCauses(n int) []Cause {
	out := slices.Clone(i.Causes)
	slices.SortStableFunc(out, func(a, b Cause) int {
		return cmp.Compare(b.LastSeen.Sub(b.FirstSeen), a.LastSeen.Sub(a.FirstSeen))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// ChangeKind tells what an outbox row announces.
type ChangeKind string

const (
	// ChangeTransition is a state change (the zero value).
	ChangeTransition ChangeKind = ""
	// ChangeCatchUp tells a chat whose mute ended the state it missed:
	// Transition.From is the last state it heard of, To the current one.
	ChangeCatchUp ChangeKind = "unmuted"
	// ChangeReminder repeats the alert of a state that lasts (From = To).
	ChangeReminder ChangeKind = "reminder"
	// ChangeUnstable announces that X flaps: Flaps changes since FlapSince,
	// the worst state among them in To. Per-change alerts stop until it settles.
	ChangeUnstable ChangeKind = "unstable"
	// ChangeSettled ends the unstable period begun at FlapSince: X has held
	// To since Began; Flaps counts the period's changes.
	ChangeSettled ChangeKind = "settled"
)

// Change is one announced transition, as stored and delivered.
type Change struct {
	ID         int64
	Kind       ChangeKind
	Transition probe.Transition
	// Flaps is the number of changes an unstable or settled message
	// counts, FlapSince when the unstable period began.
	Flaps     int
	FlapSince time.Time
	// Causes are the failing components at the time of the transition.
	Causes []Cause
	// Regions is what each vantage point saw when they disagreed;
	// nil when they agreed or there is one region.
	Regions  []RegionVerdict
	Incident Incident
}

// DeliveryStatus is where an outbox row stands.
type DeliveryStatus string

const (
	StatusPending   DeliveryStatus = "pending"
	StatusSent      DeliveryStatus = "sent"
	StatusGone      DeliveryStatus = "gone"      // the chat no longer exists or refuses the bot
	StatusExpired   DeliveryStatus = "expired"   // undeliverable for too long, or too many attempts
	StatusCoalesced DeliveryStatus = "coalesced" // folded into a later message to the same chat
)

// Delivery is one outbox row: one change to one chat.
type Delivery struct {
	ID        int64
	Chat      ChatRef
	Lang      string
	Change    Change
	Attempts  int
	CreatedAt time.Time
	NextAt    time.Time
	// ReplyTo is the platform message id of the alert this chat got when the
	// incident opened, so a recovery can answer it.
	ReplyTo string
}

// Saved is the persisted state the monitor resumes from.
type Saved struct {
	Status probe.Status
	// Incident is the open incident, or the last closed one, if any.
	Incident  *Incident
	LastRound *probe.Round
	// Flap is the unstable period going on, if any.
	Flap Flap
	// Recent are the latest announced changes (at most RecentChanges), oldest
	// first, so that flapping is still seen across a restart.
	Recent []probe.Transition
}

// RecentChanges is how many announced changes Saved.Recent holds: the
// flap rule cannot count more than this within its window.
const RecentChanges = 64

// Flap is X's flapping state; the zero value is stable.
type Flap struct {
	// Since is when the first change of the unstable period happened.
	Since time.Time
	// Changes counts the period's changes; Worst is the worst state among them.
	Changes int
	Worst   probe.State
	// ChangeID is the change that announced the period (set by the store).
	ChangeID int64
}

// Unstable reports whether an unstable period is going on.
func (f Flap) Unstable() bool { return !f.Since.IsZero() }

// Snapshot is what one round changes, saved in one transaction.
type Snapshot struct {
	Round  probe.Round
	Status probe.Status
	// Incident is the incident this round opened, updated or closed; nil if none.
	Incident *Incident
	// Change is the announced transition, if any; the store fans it out to
	// one outbox row per subscription whose settings want it, in the same
	// transaction.
	Change *Change
	// Flap is the flapping state after the round; nil leaves it as saved.
	// When Change is an unstable one, the store sets Flap.ChangeID.
	Flap *Flap
	// Queued is set by the store: how many outbox rows the round queued
	// (the change's and any unmuted or reminder rows).
	Queued int
}

// SpanState is the state the round leaves X in, for time in state: the
// announced state, except that a round that could not tell is no data.
func (s *Snapshot) SpanState() probe.State {
	if s.Round.Verdict == probe.VerdictUnknown || s.Status.State == "" {
		return probe.StateUnknown
	}
	return s.Status.State
}

// RegionRound is the latest round of one vantage point: every
// replica probes X and records its verdict under its PROBE_REGION name; the
// leader votes over the fresh ones.
type RegionRound struct {
	Region  string
	At      time.Time // when the round started, on the recording replica's clock
	Verdict probe.Verdict
	// Causes are the targets failing from that region.
	Causes []Cause
	// Silent: the region has not been heard from within the freshness
	// window, on the store's clock. Its round is not counted; it is named.
	Silent bool
}

// RegionVerdict is what one region saw, as an alert and /status tell it
// when regions disagree.
type RegionVerdict struct {
	Region  string        `json:"region"`
	Verdict probe.Verdict `json:"verdict"`
}

// StateBegan is when the announced state began: the first round of the
// streak that led to it (for an outage, its first failing round; for a
// recovery, the first healthy one), taken from the latest announced change
// when that change set the current state; else st.Since, when it was set.
func StateBegan(st probe.Status, recent []probe.Transition) time.Time {
	if n := len(recent); n > 0 {
		if tr := recent[n-1]; tr.To == st.State && tr.At.Equal(st.Since) && !tr.Began.IsZero() {
			return tr.Began
		}
	}
	return st.Since
}

// VerdictSilent is the breakdown's word for a region not heard from
// within the freshness window (RegionRound.Silent): it is named, not counted.
const VerdictSilent probe.Verdict = "silent"
