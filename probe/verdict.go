package probe

import "time"

// Verdict is what one round says about X.
type Verdict string

const (
	// VerdictUp: every target answered as expected, in time.
	VerdictUp Verdict = "up"
	// VerdictDegraded: some targets fail (at most half), or answer slower than the slow threshold.
	VerdictDegraded Verdict = "degraded"
	// VerdictDown: more than half of the targets fail.
	VerdictDown Verdict = "down"
	// VerdictUnknown: targets fail and so does every control target: the bot's own network is broken.
	VerdictUnknown Verdict = "unknown"
)

// Round is the outcome of checking every target once.
type Round struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Targets  []Result      `json:"targets"`
	Controls []Result      `json:"controls,omitempty"`
	Verdict  Verdict       `json:"verdict"`
}

// ControlOK reports whether the bot's own network works: at least one control
// target answered, or no control targets are configured.
func (r Round) ControlOK() bool { return controlOK(r.Controls) }

// Failing returns the targets that failed this round.
func (r Round) Failing() []Result {
	var out []Result
	for _, t := range r.Targets {
		if !t.OK() {
			out = append(out, t)
		}
	}
	return out
}

func controlOK(controls []Result) bool {
	if len(controls) == 0 {
		return true
	}
	for _, c := range controls {
		if c.OK() {
			return true
		}
	}
	return false
}

// Reduce turns one round's results into a verdict.
//
// The rule: if any target fails while no control target answers, the round
// says nothing about X (unknown). Otherwise more than half of the targets
// failing is down, any failure or slow answer is degraded, and all healthy is up.
func Reduce(targets, controls []Result) Verdict {
	failing, slow := 0, false
	for _, t := range targets {
		if !t.OK() {
			failing++
		}
		slow = slow || t.Slow
	}
	switch {
	case failing > 0 && !controlOK(controls):
		return VerdictUnknown
	case len(targets) == 0:
		return VerdictUnknown
	case failing*2 > len(targets):
		return VerdictDown
	case failing > 0 || slow:
		return VerdictDegraded
	default:
		return VerdictUp
	}
}
