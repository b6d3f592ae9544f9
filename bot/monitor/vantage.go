package monitor

import (
	"cmp"
	"slices"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// ballot is a vote's outcome: the verdict, the breakdown and the causes.
type ballot struct {
	verdict probe.Verdict
	regions []bot.RegionVerdict
	// all is every region's verdict, ordered by name, even when they agree.
	all []bot.RegionVerdict
	// causes are the failing components seen from the regions that see X
	// down or degraded, each once (the first region by name gives its detail).
	causes []bot.Cause
}

// vote is the verdict of several vantage points over their latest rounds,
// at most one per region, freshness judged by the store's clock (Silent).
// The rule:
//
//   - a silent region is listed in the breakdown but never votes;
//   - a region whose verdict is unknown (its own network check failed) is
//     listed but never votes either;
//   - the voters are the other regions; with none the verdict is unknown;
//   - down takes a strict majority of the voters (2·down > voters);
//   - else degraded when at least half see X degraded or down — a split
//     (1–1, 2–2) is degraded, not down, and the breakdown says which
//     regions see X failing;
//   - else up.
//
// One region is the special case: its own verdict. The breakdown (every
// region, ordered by name) is returned only when the regions do not all say
// the same; it is nil when they agree or there is one region.
func vote(rounds []bot.RegionRound) ballot {
	sorted := slices.SortedFunc(slices.Values(rounds), func(a, b bot.RegionRound) int { return cmp.Compare(a.Region, b.Region) })
	var (
		b                     ballot
		voters, down, failing int
		agree                 = true
	)
	for _, r := range sorted {
		// A silent region is always named: the regions do not all agree.
		agree = agree && !r.Silent && r.Verdict == sorted[0].Verdict
		if r.Silent {
			r.Verdict = bot.VerdictSilent
		}
		b.regions = append(b.regions, bot.RegionVerdict{Region: r.Region, Verdict: r.Verdict})
		switch r.Verdict {
		case probe.VerdictDown:
			down++
			failing++
		case probe.VerdictDegraded:
			failing++
		case probe.VerdictUp:
		default: // silent, unknown, or a verdict this version does not know: no say
			continue
		}
		voters++
		if r.Verdict == probe.VerdictUp {
			continue
		}
		for _, c := range r.Causes {
			if !slices.ContainsFunc(b.causes, func(o bot.Cause) bool { return o.Component == c.Component }) {
				b.causes = append(b.causes, c)
			}
		}
	}
	b.all = b.regions
	if agree {
		b.regions = nil
	}
	switch {
	case voters == 0:
		b.verdict = probe.VerdictUnknown
	case 2*down > voters:
		b.verdict = probe.VerdictDown
	case 2*failing >= voters:
		b.verdict = probe.VerdictDegraded
	default:
		b.verdict = probe.VerdictUp
	}
	return b
}
