package text

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// noDataWorthSaying is the least unknown time /status mentions: less is the
// instant between two rounds, not a hole in the record.
const noDataWorthSaying = time.Minute

// percent renders an uptime percentage rounded down, so any downtime keeps it
// below 100.
func (c *Catalog) percent(u bot.Uptime) string {
	if u.Percent < 0 {
		return c.UptimeNoData
	}
	s := fmt.Sprintf("%.2f %%", math.Floor(u.Percent*100)/100)
	if c.DecimalComma {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// RenderStatus answers /status from the saved state; uptime may be nil when
// the figures could not be read, regions is the last vote's breakdown (nil
// when the vantage points agreed or there is one), every how often X is
// checked (0: not said). The state is given since its first round (the
// first failing round of an outage), not since its confirmation.
//
// people are the reports of the last window: a line says how many, by kind,
// and a state that reports alone made degraded says the probes pass.
func RenderStatus(lang string, s bot.Saved, uptime *bot.Uptimes, regions []bot.RegionVerdict, people bot.Crowd, every time.Duration, now time.Time) bot.Message {
	c := For(lang)
	st := s.Status.State
	if st == "" {
		st = probe.StateUnknown
	}
	m := bot.Message{Title: fmt.Sprintf(c.StatusTitle, c.StateName[st]), Time: now}
	m.Severity = severityOf(st)
	if began := bot.StateBegan(s.Status, s.Recent); !began.IsZero() && st != probe.StateUnknown {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusSince, c.StateName[st], Stamp(began), c.since(began, now)))
	}
	if len(regions) > 0 {
		m.Lines = append(m.Lines, c.regionsLine(regions))
	}
	if inc := s.Incident; inc != nil && inc.Open() && bot.CrowdOnly(inc.Causes) {
		m.Lines = append(m.Lines, c.StatusCrowdOnly)
	}
	if line := c.statusCrowd(people); line != "" {
		m.Lines = append(m.Lines, line)
	}
	if f := s.Flap; f.Unstable() {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusUnstable, Stamp(f.Since), f.Changes))
	}
	if u := uptime; u != nil {
		m.Lines = append(m.Lines, fmt.Sprintf(c.UptimeLine, c.percent(u.H24), c.percent(u.D7), c.percent(u.D30)))
		if u.D30.NoData >= noDataWorthSaying {
			m.Lines = append(m.Lines, fmt.Sprintf(c.NoDataLine, FormatDuration(u.D30.NoData)))
		}
	}
	if every > 0 {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusEvery, FormatDuration(every)))
	}
	if r := s.LastRound; r != nil {
		m.Lines = append(m.Lines, fmt.Sprintf(c.StatusLastCheck, clock(r.Start), c.since(r.Start, now)))
		if !r.ControlOK() {
			m.Lines = append(m.Lines, c.StatusNetwork)
		}
		for _, t := range r.Targets {
			v := t.Detail
			if t.OK() {
				v = fmt.Sprintf("%d ms", t.Latency.Milliseconds())
				if t.Slow {
					v = fmt.Sprintf(c.StatusSlow, v)
				}
			}
			m.Fields = append(m.Fields, bot.Field{Name: t.Target, Value: v})
		}
	} else {
		m.Lines = append(m.Lines, c.StatusNoCheck)
	}
	if inc := s.Incident; inc != nil {
		worst := c.StateName[inc.Worst]
		if inc.Open() {
			m.Lines = append(m.Lines, fmt.Sprintf(c.StatusOpenIncident, Stamp(inc.Start), worst, FormatDuration(inc.Duration(now))))
		} else {
			m.Lines = append(m.Lines, fmt.Sprintf(c.StatusLastIncident, Stamp(inc.Start), Stamp(inc.End), worst, FormatDuration(inc.Duration(now))))
		}
	}
	return m
}

// RenderHistory answers /history: one field per incident, newest first,
// with its start, worst state, duration and main causes.
func RenderHistory(lang string, incidents []bot.Incident, now time.Time) bot.Message {
	c := For(lang)
	if len(incidents) == 0 {
		return bot.Message{Title: c.HistoryEmpty, Time: now}
	}
	m := bot.Message{Title: c.HistoryTitle, Time: now}
	for _, inc := range incidents {
		m.Fields = append(m.Fields, bot.Field{Name: Stamp(inc.Start), Value: c.incident(inc, now)})
	}
	return m
}

// incident is one line of /history: worst state and duration, or that
// people reported it while the probes passed, then its main causes.
func (c *Catalog) incident(inc bot.Incident, now time.Time) string {
	dur := FormatDuration(inc.Duration(now))
	v := fmt.Sprintf(c.HistoryEntry, c.StateName[inc.Worst], dur)
	if inc.Open() {
		v = fmt.Sprintf(c.HistoryOngoing, c.StateName[inc.Worst], dur)
	}
	if crowd, ok := crowdOf(inc.Causes); ok && bot.CrowdOnly(inc.Causes) {
		if v = fmt.Sprintf(c.HistoryCrowd, c.reports(crowd.Reports), dur); inc.Open() {
			v = fmt.Sprintf(c.HistoryCrowdOngoing, c.reports(crowd.Reports), dur)
		}
		return v
	}
	var causes []string
	for _, cause := range inc.MainCauses(3) {
		if cause.Component == bot.CrowdComponent {
			causes = append(causes, c.CrowdField+" ("+c.crowdValue(cause)+")")
			continue
		}
		causes = append(causes, cause.Component+" ("+bot.Truncate(cause.Detail, 60)+")")
	}
	if len(causes) > 0 {
		v += " — " + strings.Join(causes, ", ")
	}
	return v
}
