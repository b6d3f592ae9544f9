package bottest

import (
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Region is the latest round of one vantage point seeing v at at, with one
// cause for each failing component.
func Region(name string, v probe.Verdict, at time.Time, failing ...string) bot.RegionRound {
	r := bot.RegionRound{Region: name, At: at, Verdict: v}
	for _, c := range failing {
		r.Causes = append(r.Causes, bot.Cause{Component: c, Detail: "from " + name})
	}
	return r
}

// Silent is a region whose latest round is older than the freshness window.
func Silent(name string, v probe.Verdict, at time.Time) bot.RegionRound {
	r := Region(name, v, at)
	r.Silent = true
	return r
}

// Verdict is one region's line of a vote's breakdown.
func Verdict(name string, v probe.Verdict) bot.RegionVerdict {
	return bot.RegionVerdict{Region: name, Verdict: v}
}
