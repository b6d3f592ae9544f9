package monitor

import (
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
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
		{"one region down", []bot.RegionRound{bottest.Region("eu", down, time.Time{})}, down, nil},
		{"one region degraded", []bot.RegionRound{bottest.Region("eu", degraded, time.Time{})}, degraded, nil},
		{"one region up", []bot.RegionRound{bottest.Region("eu", up, time.Time{})}, up, nil},
		{"one region unknown", []bot.RegionRound{bottest.Region("eu", unknown, time.Time{})}, unknown, nil},
		{"all agree", []bot.RegionRound{bottest.Region("us", down, time.Time{}), bottest.Region("eu", down, time.Time{}), bottest.Region("ap", down, time.Time{})}, down, nil},
		{"2 down 1 up", []bot.RegionRound{bottest.Region("us-east", down, time.Time{}), bottest.Region("ap-south", up, time.Time{}), bottest.Region("eu-west", down, time.Time{})}, down,
			[]bot.RegionVerdict{bottest.Verdict("ap-south", up), bottest.Verdict("eu-west", down), bottest.Verdict("us-east", down)}},
		{"1 down 2 up", []bot.RegionRound{bottest.Region("us", up, time.Time{}), bottest.Region("eu", down, time.Time{}), bottest.Region("ap", up, time.Time{})}, up,
			[]bot.RegionVerdict{bottest.Verdict("ap", up), bottest.Verdict("eu", down), bottest.Verdict("us", up)}},
		{"1 down 1 up: a split is degraded, not down", []bot.RegionRound{bottest.Region("eu", down, time.Time{}), bottest.Region("us", up, time.Time{})}, degraded,
			[]bot.RegionVerdict{bottest.Verdict("eu", down), bottest.Verdict("us", up)}},
		{"2 down 2 up: a split", []bot.RegionRound{bottest.Region("a", down, time.Time{}), bottest.Region("b", down, time.Time{}), bottest.Region("c", up, time.Time{}), bottest.Region("d", up, time.Time{})}, degraded,
			[]bot.RegionVerdict{bottest.Verdict("a", down), bottest.Verdict("b", down), bottest.Verdict("c", up), bottest.Verdict("d", up)}},
		{"2 down 1 silent: the silent one neither votes nor dilutes", []bot.RegionRound{bottest.Region("a", down, time.Time{}), bottest.Region("b", down, time.Time{}), bottest.Silent("c", up, time.Time{})}, down,
			[]bot.RegionVerdict{bottest.Verdict("a", down), bottest.Verdict("b", down), bottest.Verdict("c", bot.VerdictSilent)}},
		{"1 down 1 up 1 silent down: a split of the regions heard", []bot.RegionRound{bottest.Region("a", down, time.Time{}), bottest.Region("b", up, time.Time{}), bottest.Silent("c", down, time.Time{})}, degraded,
			[]bot.RegionVerdict{bottest.Verdict("a", down), bottest.Verdict("b", up), bottest.Verdict("c", bot.VerdictSilent)}},
		{"agreeing regions and a silent one: named", []bot.RegionRound{bottest.Region("a", up, time.Time{}), bottest.Silent("b", up, time.Time{})}, up,
			[]bot.RegionVerdict{bottest.Verdict("a", up), bottest.Verdict("b", bot.VerdictSilent)}},
		{"only silent regions", []bot.RegionRound{bottest.Silent("a", down, time.Time{}), bottest.Silent("b", down, time.Time{})}, unknown,
			[]bot.RegionVerdict{bottest.Verdict("a", bot.VerdictSilent), bottest.Verdict("b", bot.VerdictSilent)}},
		{"1 down 1 degraded 2 up", []bot.RegionRound{bottest.Region("a", down, time.Time{}), bottest.Region("b", degraded, time.Time{}), bottest.Region("c", up, time.Time{}), bottest.Region("d", up, time.Time{})}, degraded,
			[]bot.RegionVerdict{bottest.Verdict("a", down), bottest.Verdict("b", degraded), bottest.Verdict("c", up), bottest.Verdict("d", up)}},
		{"1 degraded 2 up", []bot.RegionRound{bottest.Region("a", degraded, time.Time{}), bottest.Region("b", up, time.Time{}), bottest.Region("c", up, time.Time{})}, up,
			[]bot.RegionVerdict{bottest.Verdict("a", degraded), bottest.Verdict("b", up), bottest.Verdict("c", up)}},
		{"unknown never counts as down", []bot.RegionRound{bottest.Region("a", unknown, time.Time{}), bottest.Region("b", unknown, time.Time{}), bottest.Region("c", up, time.Time{})}, up,
			[]bot.RegionVerdict{bottest.Verdict("a", unknown), bottest.Verdict("b", unknown), bottest.Verdict("c", up)}},
		{"unknown does not dilute the voters", []bot.RegionRound{bottest.Region("a", unknown, time.Time{}), bottest.Region("b", unknown, time.Time{}), bottest.Region("c", down, time.Time{})}, down,
			[]bot.RegionVerdict{bottest.Verdict("a", unknown), bottest.Verdict("b", unknown), bottest.Verdict("c", down)}},
		{"all unknown", []bot.RegionRound{bottest.Region("a", unknown, time.Time{}), bottest.Region("b", unknown, time.Time{})}, unknown, nil},
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

const (
	up       = probe.VerdictUp
	down     = probe.VerdictDown
	degraded = probe.VerdictDegraded
	unknown  = probe.VerdictUnknown
)
