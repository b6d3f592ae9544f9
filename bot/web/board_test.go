package web_test

import (
	"sync/atomic"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// boards is the board source the page reads; tests publish by hand.
type boards struct{ p atomic.Pointer[bot.Board] }

func (b *boards) Board() *bot.Board { return b.p.Load() }

const xssName = "<script>alert(1)</script>"

var boardTime = time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)

// outageBoard is the board after X was down across midnight and came back:
// 90 days of which the first 20 have no data (the bot was not running yet),
// one degraded day, two days with downtime, and three incidents.
func outageBoard() *bot.Board {
	now := boardTime
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	b := &bot.Board{
		State:     probe.StateUp,
		Since:     time.Date(2026, 12, 2, 1, 10, 0, 0, time.UTC),
		LastCheck: now.Add(-20 * time.Second),
		ControlOK: true,
		Components: []bot.Component{
			{Name: "api.x.com", OK: true, Latency: 120 * time.Millisecond},
			{Name: xssName, OK: false, Detail: "HTTP 503 <b>bold</b>"},
			{Name: "x.com", OK: true, Latency: 340 * time.Millisecond},
		},
		Uptime24h: bot.Uptime{Window: 24 * time.Hour, Up: 22*time.Hour + 50*time.Minute, Down: 70 * time.Minute, Percent: 95.1388},
		Uptime7d:  bot.Uptime{Window: 7 * 24 * time.Hour, Up: 165 * time.Hour, Down: 100 * time.Minute, NoData: 80 * time.Minute, Percent: 98.99},
		Uptime30d: bot.Uptime{Window: 30 * 24 * time.Hour, Up: 700 * time.Hour, Down: 100 * time.Minute, Degraded: 20 * time.Minute, NoData: 18 * time.Hour, Percent: 99.7151},
		Built:     now,
	}
	for i := range 90 {
		d := bot.Day{Date: today.AddDate(0, 0, i-89), Worst: probe.StateUp}
		switch {
		case i < 20:
			d.Worst, d.NoData = probe.StateUnknown, 24*time.Hour
		case i == 60:
			d.Worst, d.Downtime = probe.StateDegraded, 20*time.Minute
		case i == 88:
			d.Worst, d.Downtime = probe.StateDown, 30*time.Minute
		case i == 89:
			d.Worst, d.Downtime = probe.StateDown, 70*time.Minute
		}
		b.Days = append(b.Days, d)
	}
	b.Incidents = []bot.Incident{
		{ID: 3, Start: time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), End: b.Since, Worst: probe.StateDown,
			Causes: []bot.Cause{{Component: "api.x.com", Detail: "connection refused"}, {Component: xssName, Detail: "HTTP 503"}}},
		{ID: 2, Start: time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 2, 9, 20, 0, 0, time.UTC), Worst: probe.StateDegraded,
			Causes: []bot.Cause{{Component: "x.com", Detail: "slow: 4.2s"}}},
		{ID: 1, Start: time.Date(2026, 9, 20, 4, 0, 0, 0, time.UTC), End: time.Date(2026, 9, 20, 4, 5, 0, 0, time.UTC), Worst: probe.StateDown},
	}
	return b
}

// downBoard is a board while X is down: one incident still open.
func downBoard() *bot.Board {
	b := outageBoard()
	b.State, b.Since = probe.StateDown, boardTime.Add(-45*time.Minute)
	b.Uptime24h = bot.Uptime{Window: 24 * time.Hour, NoData: 24 * time.Hour, Percent: -1}
	b.Incidents = append([]bot.Incident{{ID: 4, Start: b.Since, Worst: probe.StateDown,
		Causes: []bot.Cause{{Component: "api.x.com", Detail: "HTTP 502"}}}}, b.Incidents...)
	return b
}

// people is what seven people reported in the last ten minutes: enough for
// the crowd rule's signal.
func people() bot.Crowd {
	return bot.Crowd{Reports: 7, Window: 10 * time.Minute, Usual: 0.5, Signal: true, At: boardTime.Add(-20 * time.Second),
		Kinds: []bot.KindCount{{Kind: bot.ReportPost, Count: 4}, {Kind: bot.ReportFeed, Count: 2}, {Kind: bot.ReportOther, Count: 1}}}
}

// crowdCause is people's reports as an incident's cause.
func crowdCause(c bot.Crowd, first time.Time) bot.Cause {
	cause := bot.CrowdCause(c)
	cause.FirstSeen, cause.LastSeen = first, c.At
	return cause
}

// reportedBoard is a board while people's reports alone make X degraded:
// every probe passes, and the open incident is the reports' only.
func reportedBoard() *bot.Board {
	b := outageBoard()
	b.State, b.Since = probe.StateDegraded, boardTime.Add(-12*time.Minute)
	b.Components = []bot.Component{
		{Name: "api.x.com", OK: true, Latency: 120 * time.Millisecond},
		{Name: "x.com", OK: true, Latency: 340 * time.Millisecond},
	}
	b.Crowd = people()
	b.Incidents = append([]bot.Incident{{ID: 5, Start: b.Since, Worst: probe.StateDegraded,
		Causes: []bot.Cause{crowdCause(b.Crowd, b.Since)}}}, b.Incidents...)
	return b
}

// mixedBoard is a board while X is down and people report it too: the open
// incident has a failing component and people's reports among its causes.
func mixedBoard() *bot.Board {
	b := downBoard()
	b.Crowd = people()
	b.Incidents[0].Causes = append(b.Incidents[0].Causes, crowdCause(b.Crowd, b.Since.Add(2*time.Minute)))
	return b
}
