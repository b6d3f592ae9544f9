package web

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/text"
	"github.com/xstatusbot/xstatusbot/probe"
)

// view is what renderPage shows, every string already in the page's
// language; renderPage only places and escapes them.
type view struct {
	Lang, Title       string
	OtherLang         string
	OtherLangCode     string
	Checked           bool
	State             string // a CSS class: up, degraded, down, unknown
	StateLine         string
	Since, LastCheck  string
	NoCheck, Network  string
	Regions           string
	ComponentsHeading string
	NoComponent       string
	Components        []componentView
	UptimeHeading     string
	Uptime            [3]uptimeView
	DaysHeading       string
	DaysLabel         string
	DaysSummary       string
	Legend            string
	Days              []dayView
	FirstDay, LastDay string
	IncidentsHeading  string
	NoIncident        string
	Incidents         []incidentView
	CausesHeading     string
	Updated           string

	// Every says how often X is checked; Refresh is how often, in seconds, a
	// page left open reloads itself (0: never); OGTitle and OGDescription are
	// the link preview (OpenGraph) chat apps show.
	Every                  string
	Refresh                int
	OGTitle, OGDescription string

	// Reports is the line on people's reports of the last window ("" when
	// none); CrowdOnly says that they alone make X degraded.
	Reports, CrowdOnly string
}

type componentView struct {
	Name, Result, Detail string
	OK                   bool
}

type uptimeView struct{ Window, Figure, Note string }

type dayView struct{ State, Text string }

type incidentView struct {
	State, Worst, When string
	// Crowd is the line of an incident people's reports alone raised, which
	// then has no Causes.
	Crowd  string
	Causes []causeView
}

// causeView is one cause of an incident: a component and what it answered,
// or people's reports in words.
type causeView struct{ Name, Detail string }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func stateClass(s probe.State) string {
	switch s {
	case probe.StateUp, probe.StateDegraded, probe.StateDown:
		return string(s)
	}
	return "unknown"
}

func newView(b *bot.Board, t *texts) view {
	v := view{
		Lang: t.lang, Title: t.title, OtherLang: t.otherLang, OtherLangCode: t.otherCode,
		State: "unknown", StateLine: t.stateLine[probe.StateUnknown], NoCheck: t.noCheck,
		ComponentsHeading: t.components, NoComponent: t.noComponent, UptimeHeading: t.uptime,
		DaysHeading: t.days, DaysLabel: t.daysLabel, Legend: t.legend,
		IncidentsHeading: t.incidents, NoIncident: t.noIncident, CausesHeading: t.causes,
	}
	v.OGTitle, v.OGDescription = v.StateLine, t.noCheck
	if b != nil && b.Every > 0 {
		v.Refresh = refreshSeconds(b.Every)
	}
	if b == nil || b.LastCheck.IsZero() {
		return v
	}
	now := asOf(b)
	v.Checked = true
	v.State, v.StateLine = stateClass(b.State), t.stateLine[b.State]
	if v.StateLine == "" {
		v.StateLine = t.stateLine[probe.StateUnknown]
	}
	if !b.Since.IsZero() {
		v.Since = fmt.Sprintf(t.since, stamp(b.Since), text.FormatDuration(now.Sub(b.Since)))
	}
	v.LastCheck = fmt.Sprintf(t.lastCheck, stamp(b.LastCheck))
	if b.Every > 0 {
		v.Every = fmt.Sprintf(t.every, text.FormatDuration(b.Every))
	}
	v.OGTitle = v.StateLine
	if !b.Since.IsZero() && b.State != probe.StateUp && b.State != probe.StateUnknown {
		// During trouble the preview's title alone answers "since when?".
		v.OGTitle = fmt.Sprintf(t.ogDownSince, v.StateLine, stamp(b.Since))
	}
	v.OGDescription = strings.TrimSpace(strings.Join([]string{v.Since, v.Every, v.LastCheck}, " "))
	if !b.ControlOK {
		v.Network = t.network
	}
	v.Regions = text.RegionsLine(t.lang, b.Regions)
	v.Reports = text.CrowdLine(t.lang, b.Crowd)
	if reportedAlone(b) {
		v.CrowdOnly = text.For(t.lang).StatusCrowdOnly
		v.OGDescription = v.CrowdOnly + " " + v.OGDescription
	}
	for _, c := range b.Components {
		cv := componentView{Name: c.Name, OK: c.OK, Result: t.failing, Detail: c.Detail}
		if c.OK {
			cv.Result = t.ok
		}
		if c.Latency > 0 {
			if cv.Detail != "" {
				cv.Detail += ", "
			}
			cv.Detail += fmt.Sprintf("%d ms", c.Latency.Milliseconds())
		}
		v.Components = append(v.Components, cv)
	}
	for i, u := range [3]bot.Uptime{b.Uptime24h, b.Uptime7d, b.Uptime30d} {
		uv := uptimeView{Window: t.windows[i], Figure: t.noData}
		if u.Percent >= 0 {
			uv.Figure = t.percent(u.Percent)
			if u.NoData >= time.Minute {
				uv.Note = fmt.Sprintf(t.noDataFor, text.FormatDuration(u.NoData))
			}
		}
		v.Uptime[i] = uv
	}
	var withDowntime, withoutData int
	for _, d := range b.Days {
		date := d.Date.UTC().Format(time.DateOnly)
		dv := dayView{State: stateClass(d.Worst), Text: fmt.Sprintf(t.dayNoData, date)}
		if dv.State != "unknown" {
			dv.Text = fmt.Sprintf(t.dayCell, date, t.stateWord[d.Worst], text.FormatDuration(d.Downtime))
		} else {
			withoutData++
		}
		if d.Downtime > 0 {
			withDowntime++
		}
		v.Days = append(v.Days, dv)
	}
	if n := len(b.Days); n > 0 {
		v.FirstDay, v.LastDay = b.Days[0].Date.UTC().Format(time.DateOnly), b.Days[n-1].Date.UTC().Format(time.DateOnly)
		v.DaysSummary = fmt.Sprintf(t.daysSummary, withDowntime, withoutData)
	}
	for _, in := range b.Incidents[:min(len(b.Incidents), history.ShownIncidents)] {
		iv := incidentView{State: stateClass(in.Worst), Worst: t.stateWord[in.Worst]}
		if bot.CrowdOnly(in.Causes) {
			// The probes passed: no worst state of theirs, no failing component.
			iv.State, iv.Worst = "reported", t.reportedTag
			top := slices.MaxFunc(in.Causes, func(a, b bot.Cause) int { return cmp.Compare(a.Reports, b.Reports) })
			iv.Crowd = fmt.Sprintf(t.crowdIncident, text.CrowdValue(t.lang, top))
		} else {
			for _, c := range in.Causes {
				cv := causeView{Name: c.Component, Detail: c.Detail}
				if c.Component == bot.CrowdComponent {
					cv = causeView{Name: text.For(t.lang).CrowdField, Detail: text.CrowdValue(t.lang, c)}
				}
				iv.Causes = append(iv.Causes, cv)
			}
		}
		if in.Open() {
			iv.When = fmt.Sprintf(t.ongoing, stamp(in.Start), text.FormatDuration(in.Duration(now)))
		} else {
			iv.When = fmt.Sprintf(t.closed, stamp(in.Start), stamp(in.End), text.FormatDuration(in.Duration(now)))
		}
		v.Incidents = append(v.Incidents, iv)
	}
	v.Updated = fmt.Sprintf(t.updated, stamp(b.LastCheck))
	return v
}

// reportedAlone says X is degraded by people's reports alone: the open
// incident is theirs only, or, before the board holds it, the crowd signals
// while every probe passes and the regions agree.
func reportedAlone(b *bot.Board) bool {
	if b.State != probe.StateDegraded {
		return false
	}
	if len(b.Incidents) > 0 && b.Incidents[0].Open() {
		return bot.CrowdOnly(b.Incidents[0].Causes)
	}
	if !b.Crowd.Signal || len(b.Regions) > 0 {
		return false
	}
	for _, c := range b.Components {
		if !c.OK || c.Slow {
			return false
		}
	}
	return true
}

// minRefresh is the shortest self-refresh of the page: answers may be
// cached for 10 s (maxAge), so reloading sooner shows nothing new.
const minRefresh = 10 * time.Second

// refreshSeconds is how often a page left open reloads: at the check
// interval, never more often than minRefresh.
func refreshSeconds(every time.Duration) int {
	return int(max(every, minRefresh).Round(time.Second) / time.Second)
}
