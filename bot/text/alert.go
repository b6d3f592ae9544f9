package text

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// causeFields are the failing components as fields; people's reports, if
// any, come last under their own name.
func (c *Catalog) causeFields(causes []bot.Cause) []bot.Field {
	out := make([]bot.Field, 0, len(causes))
	for _, cause := range causes {
		if cause.Component != bot.CrowdComponent {
			out = append(out, bot.Field{Name: cause.Component, Value: cause.Detail})
		}
	}
	if cause, ok := crowdOf(causes); ok {
		out = append(out, bot.Field{Name: c.CrowdField, Value: c.crowdValue(cause)})
	}
	return out
}

// probeFields are the probes' failing components as fields, and the line
// saying people report it too when they do: one message, not two.
func (c *Catalog) probeFields(m bot.Message, causes []bot.Cause) bot.Message {
	for _, cause := range causes {
		if cause.Component != bot.CrowdComponent {
			m.Fields = append(m.Fields, bot.Field{Name: cause.Component, Value: cause.Detail})
		}
	}
	if cause, ok := crowdOf(causes); ok {
		m.Lines = append(m.Lines, c.crowdAlso(cause))
	}
	return m
}

// RenderAlert writes the message for one chat's pending changes. Several
// rows are coalesced: a down alert still undelivered when the recovery is
// queued becomes one "was down, is back" message. When the vantage points
// disagreed, a line says what each saw.
func RenderAlert(lang string, rows []bot.Delivery, now time.Time) bot.Message {
	m := renderAlert(lang, rows, now)
	if regions := rows[len(rows)-1].Change.Regions; len(regions) > 0 {
		m.Lines = append(m.Lines, For(lang).regionsLine(regions))
	}
	return m
}

// RegionsLine is regionsLine in a language, for the status page; empty
// when there is no breakdown.
func RegionsLine(lang string, regions []bot.RegionVerdict) string {
	if len(regions) == 0 {
		return ""
	}
	return For(lang).regionsLine(regions)
}

// regionsLine says where X is failing: "Down from eu-west, us-east; up from
// ap-south; no verdict from sa-east; not heard from ca-central." Worst
// first, regions in the given order.
func (c *Catalog) regionsLine(regions []bot.RegionVerdict) string {
	var parts []string
	for _, st := range []probe.State{probe.StateDown, probe.StateDegraded, probe.StateUp} {
		if names := regionNames(regions, func(v probe.Verdict) bool { return v == probe.Verdict(st) }); names != "" {
			parts = append(parts, fmt.Sprintf(c.RegionsSeen, c.StateName[st], names))
		}
	}
	unknown := func(v probe.Verdict) bool {
		return v != probe.VerdictDown && v != probe.VerdictDegraded && v != probe.VerdictUp && v != bot.VerdictSilent
	}
	if names := regionNames(regions, unknown); names != "" {
		parts = append(parts, fmt.Sprintf(c.RegionsUnknown, names))
	}
	if names := regionNames(regions, func(v probe.Verdict) bool { return v == bot.VerdictSilent }); names != "" {
		parts = append(parts, fmt.Sprintf(c.RegionsSilent, names))
	}
	line := strings.Join(parts, c.ListSep) + "."
	r, size := utf8.DecodeRuneInString(line)
	return string(unicode.ToUpper(r)) + line[size:]
}

func regionNames(regions []bot.RegionVerdict, keep func(probe.Verdict) bool) string {
	var names []string
	for _, r := range regions {
		if keep(r.Verdict) {
			names = append(names, r.Region)
		}
	}
	return strings.Join(names, ", ")
}

func renderAlert(lang string, rows []bot.Delivery, now time.Time) bot.Message {
	c := For(lang)
	last := rows[len(rows)-1]
	ch := last.Change
	tr := ch.Transition
	m := bot.Message{Time: tr.At, ReplyTo: last.ReplyTo}
	inc := ch.Incident
	m.Event = &bot.Event{State: tr.To, Previous: rows[0].Change.Transition.From, At: tr.At, Began: tr.Began, Incident: &inc}
	switch ch.Kind {
	case bot.ChangeCatchUp:
		return c.catchUp(m, tr, now)
	case bot.ChangeReminder:
		return c.reminder(m, ch, now)
	case bot.ChangeUnstable, bot.ChangeSettled:
		return c.flapping(m, ch)
	}
	switch tr.To {
	case probe.StateUp:
		m.Severity = bot.SeverityUp
		inc := ch.Incident
		from, to := inc.Start, inc.End
		if to.IsZero() {
			to = tr.Began
		}
		if to.IsZero() {
			to = tr.At
		}
		if from.IsZero() {
			from = to
		}
		dur := FormatDuration(to.Sub(from))
		if len(rows) > 1 && rows[0].ReplyTo == "" && rows[0].Change.Transition.To != probe.StateUp {
			// The chat never saw the down alert: tell the whole story at once.
			m.Title = fmt.Sprintf(c.CoalescedTitle, dur, clock(from), clock(to))
			m.Fields = c.causeFields(inc.Causes)
			m.ReplyTo = ""
			if bot.CrowdOnly(inc.Causes) {
				m.Title, m.Fields = c.CrowdOverTitle, nil
				m.Lines = []string{fmt.Sprintf(c.CrowdOverLine, dur, clock(from), clock(to))}
			}
			return m
		}
		if bot.CrowdOnly(inc.Causes) {
			m.Title = c.CrowdOverTitle
			m.Lines = []string{fmt.Sprintf(c.CrowdOverLine, dur, clock(from), clock(to))}
			return m
		}
		m.Title = c.TitleUp
		worst := inc.Worst
		if worst.Severity() == 0 {
			worst = tr.From
		}
		m.Lines = []string{fmt.Sprintf(c.OutageLine, c.StateName[worst], dur, clock(from), clock(to))}
	case probe.StateDegraded:
		m.Severity, m.Silent, m.Title = bot.SeverityDegraded, true, c.TitleDegraded
		if tr.From == probe.StateDown {
			m.Title = c.TitleDegradedFromDn
		}
		if cause, ok := crowdOf(ch.Causes); ok && bot.CrowdOnly(ch.Causes) && tr.From == probe.StateUp {
			return c.crowdAlert(m, cause, startOf(ch), now)
		}
		m.Lines = []string{fmt.Sprintf(c.SinceLine, Stamp(startOf(ch)), c.since(startOf(ch), now))}
		m = c.probeFields(m, ch.Causes)
	default:
		m.Severity, m.Title = bot.SeverityDown, c.TitleDown
		if tr.From == probe.StateDegraded {
			m.Title = c.TitleDownFromDegraded
		}
		m.Lines = []string{fmt.Sprintf(c.SinceLine, Stamp(startOf(ch)), c.since(startOf(ch), now))}
		m = c.probeFields(m, ch.Causes)
	}
	return m
}

// catchUp tells a chat whose mute ended the state it missed, whatever the
// rows before: the current state is all that matters then.
func (c *Catalog) catchUp(m bot.Message, tr probe.Transition, now time.Time) bot.Message {
	m.ReplyTo = ""
	switch tr.To {
	case probe.StateUp:
		m.Severity, m.Title = bot.SeverityUp, c.TitleUp
	case probe.StateDegraded:
		m.Severity, m.Title, m.Silent = bot.SeverityDegraded, c.TitleDegraded, true
	default:
		m.Severity, m.Title = bot.SeverityDown, c.TitleDown
	}
	m.Lines = []string{c.MuteEnded, fmt.Sprintf(c.SinceLine, Stamp(tr.Began), c.since(tr.Began, now))}
	return m
}

// reminder repeats the alert of a lasting state with its duration so far,
// answering the first alert of the incident when the chat got one.
func (c *Catalog) reminder(m bot.Message, ch bot.Change, now time.Time) bot.Message {
	tr := ch.Transition
	m.Severity, m.Title = bot.SeverityDown, c.TitleDown
	if tr.To == probe.StateDegraded {
		m.Severity, m.Title, m.Silent = bot.SeverityDegraded, c.TitleDegraded, true
	}
	start := startOf(ch)
	if bot.CrowdOnly(ch.Incident.Causes) {
		m.Title = c.CrowdTitle
	}
	m.Lines = []string{fmt.Sprintf(c.ReminderLine, c.StateName[tr.To], FormatDuration(now.Sub(start)), Stamp(start))}
	m.Fields = c.causeFields(ch.Incident.MainCauses(3))
	return m
}

// flapping renders the unstable message and the settled one.
func (c *Catalog) flapping(m bot.Message, ch bot.Change) bot.Message {
	tr := ch.Transition
	m.ReplyTo = ""
	if ch.Kind == bot.ChangeUnstable {
		m.Severity, m.Title = bot.SeverityDegraded, c.UnstableTitle
		m.Lines = []string{fmt.Sprintf(c.UnstableLine, ch.Flaps, Stamp(ch.FlapSince))}
		m.Fields = c.causeFields(ch.Causes)
		return m
	}
	m.Severity = severityOf(tr.To)
	m.Silent = tr.To == probe.StateDegraded
	state := c.StateName[tr.To]
	m.Title = fmt.Sprintf(c.SettledTitle, state)
	m.Lines = []string{fmt.Sprintf(c.SettledLine, strings.ToUpper(state[:1])+state[1:], Stamp(tr.Began),
		clock(ch.FlapSince), clock(tr.Began), FormatDuration(tr.Began.Sub(ch.FlapSince)), ch.Flaps)}
	return m
}

// startOf is when the trouble began: the incident's start, else the transition.
func startOf(ch bot.Change) time.Time {
	if !ch.Incident.Start.IsZero() {
		return ch.Incident.Start
	}
	return ch.Transition.At
}

// severityOf is how a message announcing state s is styled.
func severityOf(s probe.State) bot.Severity {
	switch s {
	case probe.StateUp:
		return bot.SeverityUp
	case probe.StateDegraded:
		return bot.SeverityDegraded
	case probe.StateDown:
		return bot.SeverityDown
	}
	return bot.SeverityInfo
}
