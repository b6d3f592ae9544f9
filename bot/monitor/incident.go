// What a change means beyond the tracker: the flap rule folds bursts of
// changes into unstable/settled, and the incident collects its causes.

package monitor

import (
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// flapRule decides what a change announces. Stable, it is announced unless
// it makes more than FlapChanges changes within FlapWindow: then one
// unstable message stands for it and those to come. Unstable, it is counted
// and not announced.
func (m *Monitor) flapRule(tr probe.Transition, causes []bot.Cause, recent []probe.Transition, flap bot.Flap) (*bot.Change, bot.Flap) {
	if flap.Unstable() {
		flap.Changes++
		flap.Worst = worse(flap.Worst, worse(tr.From, tr.To))
		return nil, flap
	}
	if m.cfg.FlapChanges <= 0 || m.cfg.FlapWindow <= 0 {
		return &bot.Change{Transition: tr, Causes: causes}, flap
	}
	var window []probe.Transition
	for _, r := range recent {
		if tr.At.Sub(r.At) < m.cfg.FlapWindow {
			window = append(window, r)
		}
	}
	if len(window) <= m.cfg.FlapChanges {
		return &bot.Change{Transition: tr, Causes: causes}, flap
	}
	flap = bot.Flap{Since: window[0].At, Changes: len(window)}
	for _, r := range window {
		flap.Worst = worse(flap.Worst, worse(r.From, r.To))
	}
	return &bot.Change{Kind: bot.ChangeUnstable, Flaps: flap.Changes, FlapSince: flap.Since, Causes: causes,
		Transition: probe.Transition{From: tr.From, To: flap.Worst, At: tr.At, Began: tr.Began}}, flap
}

// worse is the more severe of two states.
func worse(a, b probe.State) probe.State {
	if b.Severity() > a.Severity() {
		return b
	}
	return a
}

// advanceIncident returns a copy of the incident this round opens, updates or
// closes, or nil if the round leaves incidents alone.
func (m *Monitor) advanceIncident(round probe.Round, tr *probe.Transition, causes []bot.Cause) *bot.Incident {
	var inc *bot.Incident
	if m.incident != nil {
		cp := *m.incident
		cp.Causes = append([]bot.Cause(nil), m.incident.Causes...)
		inc = &cp
	}
	switch {
	case tr != nil && tr.To == probe.StateUp:
		if inc == nil {
			return nil
		}
		inc.End = tr.Began
		return inc
	case tr != nil: // to degraded or down
		if inc == nil {
			inc = &bot.Incident{Start: tr.Began, Worst: tr.To}
		}
		mergeCauses(inc, tr.To, causes, round.Start)
		return inc
	case inc != nil && (round.Verdict == probe.VerdictDown || round.Verdict == probe.VerdictDegraded) && len(causes) > 0:
		mergeCauses(inc, probe.StateUp, causes, round.Start) // new causes, worst state unchanged
		return inc
	}
	return nil
}

// mergeCauses records in i the causes of a failing round seen at at: a component seen
// before keeps its first sighting and takes the latest detail and time.
func mergeCauses(i *bot.Incident, state probe.State, causes []bot.Cause, at time.Time) {
	if state.Severity() > i.Worst.Severity() {
		i.Worst = state
	}
	for _, c := range causes {
		found := false
		for k := range i.Causes {
			if i.Causes[k].Component == c.Component {
				i.Causes[k].LastSeen, found = at, true
				if c.Component != bot.CrowdComponent || c.Reports >= i.Causes[k].Reports {
					// people's reports keep the incident's peak, the probes their latest detail
					i.Causes[k].Detail, i.Causes[k].Reports, i.Causes[k].Mostly, i.Causes[k].Window = c.Detail, c.Reports, c.Mostly, c.Window
				}
				if i.Causes[k].FirstSeen.IsZero() {
					i.Causes[k].FirstSeen = at
				}
			}
		}
		if !found {
			c.FirstSeen, c.LastSeen = at, at
			i.Causes = append(i.Causes, c)
		}
	}
}
