package probe

import "time"

// State is X's announced condition.
type State string

const (
	// StateUnknown is the state before the first conclusive round.
	StateUnknown  State = "unknown"
	StateUp       State = "up"
	StateDegraded State = "degraded"
	StateDown     State = "down"
)

// Severity orders states from healthy to worst, for "worst state of an incident".
func (s State) Severity() int {
	switch s {
	case StateDegraded:
		return 1
	case StateDown:
		return 2
	default:
		return 0
	}
}

// Status is everything the tracker needs to remember between rounds.
type Status struct {
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// Pending is the state the recent verdicts point to, and Streak how many
	// consecutive rounds have pointed away from State towards it.
	Pending State `json:"pending,omitempty"`
	Streak  int   `json:"streak,omitempty"`
	// PendingSince is when the current streak began.
	PendingSince time.Time `json:"pending_since,omitempty"`
}

// Transition is a change of announced state.
type Transition struct {
	From State     `json:"from"`
	To   State     `json:"to"`
	At   time.Time `json:"at"`
	// Began is when the rounds that caused the change began: the first
	// failing round of an outage, the first healthy round of a recovery.
	Began time.Time `json:"began"`
	// Initial marks the silent first establishment of the state on a fresh install.
	Initial bool `json:"initial,omitempty"`
}

// Tracker applies hysteresis to verdicts.
type Tracker struct {
	// DownAfter is how many consecutive failing rounds declare down or degraded.
	DownAfter int
	// UpAfter is how many consecutive healthy rounds declare up again.
	UpAfter int
}

func stateOf(v Verdict) State {
	switch v {
	case VerdictUp:
		return StateUp
	case VerdictDegraded:
		return StateDegraded
	case VerdictDown:
		return StateDown
	default:
		return StateUnknown
	}
}

// sameDirection says whether two candidate states continue one streak: from
// up, degraded and down rounds both count towards leaving up.
func sameDirection(a, b State) bool {
	return a == b || (a != StateUp && b != StateUp)
}

// Step is a pure function of the previous status, this round's verdict and the
// time. It returns the next status and the transition, if any.
//
// Unknown verdicts change nothing. The very first conclusive verdict sets the
// state at once, marked Initial so it is not announced. After that a state
// changes only after DownAfter (towards degraded/down) or UpAfter (towards up)
// consecutive rounds pointing away from it; a round that agrees with the
// current state resets the streak, so alternating verdicts never transition.
func (t Tracker) Step(prev Status, v Verdict, now time.Time) (Status, *Transition) {
	cand := stateOf(v)
	if cand == StateUnknown {
		return prev, nil
	}
	if prev.State == StateUnknown || prev.State == "" {
		next := Status{State: cand, Since: now}
		return next, &Transition{From: StateUnknown, To: cand, At: now, Began: now, Initial: true}
	}
	next := prev
	if cand == prev.State {
		next.Pending, next.Streak, next.PendingSince = "", 0, time.Time{}
		return next, nil
	}
	if prev.Pending != "" && sameDirection(prev.Pending, cand) {
		next.Streak++
	} else {
		next.Streak, next.PendingSince = 1, now
	}
	// The latest verdict decides between degraded and down when leaving up.
	next.Pending = cand
	need := t.DownAfter
	if cand == StateUp {
		need = t.UpAfter
	}
	if next.Streak < max(need, 1) {
		return next, nil
	}
	tr := &Transition{From: prev.State, To: cand, At: now, Began: next.PendingSince}
	return Status{State: cand, Since: now}, tr
}
