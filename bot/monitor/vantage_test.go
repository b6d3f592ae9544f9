package monitor

import (
	"slices"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

func TestVote(t *testing.T) {
	tests := []struct {
		name    string
		rounds  []bot.RegionRound
		verdict probe.Verdict
		regions []bot.RegionVerdict
	}{
		{"no region", nil, unknown, nil},
		{"one region down", []bot.RegionRound{region("eu", down)}, down, nil},
		{"one region degraded", []bot.RegionRound{region("eu", degraded)}, degraded, nil},
		{"one region up", []bot.RegionRound{region("eu", up)}, up, nil},
		{"one region unknown", []bot.RegionRound{region("eu", unknown)}, unknown, nil},
		{"all agree", []bot.RegionRound{region("us", down), region("eu", down), region("ap", down)}, down, nil},
		{"2 down 1 up", []bot.RegionRound{region("us-east", down), region("ap-south", up), region("eu-west", down)}, down,
			[]bot.RegionVerdict{rv("ap-south", up), rv("eu-west", down), rv("us-east", down)}},
		{"1 down 2 up", []bot.RegionRound{region("us", up), region("eu", down), region("ap", up)}, up,
			[]bot.RegionVerdict{rv("ap", up), rv("eu", down), rv("us", up)}},
		{"1 down 1 up: a split is degraded, not down", []bot.RegionRound{region("eu", down), region("us", up)}, degraded,
			[]bot.RegionVerdict{rv("eu", down), rv("us", up)}},
		{"2 down 2 up: a split", []bot.RegionRound{region("a", down), region("b", down), region("c", up), region("d", up)}, degraded,
			[]bot.RegionVerdict{rv("a", down), rv("b", down), rv("c", up), rv("d", up)}},
		{"2 down 1 silent: the silent one neither votes nor dilutes", []bot.RegionRound{region("a", down), region("b", down), silent("c", up)}, down,
			[]bot.RegionVerdict{rv("a", down), rv("b", down), rv("c", bot.VerdictSilent)}},
		{"1 down 1 up 1 silent down: a split of the regions heard", []bot.RegionRound{region("a", down), region("b", up), silent("c", down)}, degraded,
			[]bot.RegionVerdict{rv("a", down), rv("b", up), rv("c", bot.VerdictSilent)}},
		{"agreeing regions and a silent one: named", []bot.RegionRound{region("a", up), silent("b", up)}, up,
			[]bot.RegionVerdict{rv("a", up), rv("b", bot.VerdictSilent)}},
		{"only silent regions", []bot.RegionRound{silent("a", down), silent("b", down)}, unknown,
			[]bot.RegionVerdict{rv("a", bot.VerdictSilent), rv("b", bot.VerdictSilent)}},
		{"1 down 1 degraded 2 up", []bot.RegionRound{region("a", down), region("b", degraded), region("c", up), region("d", up)}, degraded,
			[]bot.RegionVerdict{rv("a", down), rv("b", degraded), rv("c", up), rv("d", up)}},
		{"1 degraded 2 up", []bot.RegionRound{region("a", degraded), region("b", up), region("c", up)}, up,
			[]bot.RegionVerdict{rv("a", degraded), rv("b", up), rv("c", up)}},
		{"unknown never counts as down", []bot.RegionRound{region("a", unknown), region("b", unknown), region("c", up)}, up,
			[]bot.RegionVerdict{rv("a", unknown), rv("b", unknown), rv("c", up)}},
		{"unknown does not dilute the voters", []bot.RegionRound{region("a", unknown), region("b", unknown), region("c", down)}, down,
			[]bot.RegionVerdict{rv("a", unknown), rv("b", unknown), rv("c", down)}},
		{"all unknown", []bot.RegionRound{region("a", unknown), region("b", unknown)}, unknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.rounds)
			b := vote(tt.rounds)
			verdict, regions := b.verdict, b.regions
			if verdict != tt.verdict || !slices.Equal(regions, tt.regions) {
				t.Fatalf("Vote = %s %v, want %s %v", verdict, regions, tt.verdict, tt.regions)
			}
			if !slices.EqualFunc(in, tt.rounds, func(a, b bot.RegionRound) bool { return a.Region == b.Region }) {
				t.Fatal("Vote reordered its argument")
			}
		})
	}
}

func region(name string, v probe.Verdict, failing ...string) bot.RegionRound {
	r := bot.RegionRound{Region: name, Verdict: v}
	for _, c := range failing {
		r.Causes = append(r.Causes, bot.Cause{Component: c, Detail: "from " + name})
	}
	return r
}

// silent is a region whose latest round is older than the freshness window.
func silent(name string, v probe.Verdict) bot.RegionRound {
	r := region(name, v)
	r.Silent = true
	return r
}

func rv(name string, v probe.Verdict) bot.RegionVerdict {
	return bot.RegionVerdict{Region: name, Verdict: v}
}

const (
	up       = probe.VerdictUp
	down     = probe.VerdictDown
	degraded = probe.VerdictDegraded
	unknown  = probe.VerdictUnknown
)
