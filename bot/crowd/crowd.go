// Package crowd is the crowd rule: how people's /report become a signal
// beside the probes. It counts people, not messages, and only a few of them
// per chat or server, so that one person, or one group of new accounts,
// cannot raise the signal alone:
//
//   - a person counts once per window, whatever they type (the store keeps
//     one report per person per window);
//   - a chat, or a server with all its channels, counts at most PerGroup
//     reports per window;
//   - the window's count is above when it reaches Reports and is at least
//     Factor times the usual count for that time of day (the median over the
//     past days of the reports per window within the same hour); with no
//     history, the absolute threshold alone decides;
//   - the signal holds from the first time the count is above until it has
//     stayed under for a whole window.
//
// A Tally applies the rule as reports arrive, in memory: adding a report and
// reading the count cost no store query, so a flood of reports is counted
// without a query per report and the signal is decided once per round.
package crowd

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Defaults of the rule.
const (
	DefaultWindow = 10 * time.Minute
	// PerGroup is how many reports one chat, or one server, counts per window.
	PerGroup = 2
	// Factor is how much more than usual the count must be.
	Factor = 3.0
)

// Rule is the crowd rule's parameters.
type Rule struct {
	// Reports is the count at which people's reports raise the signal; 0
	// never raises it (reports are still counted and shown).
	Reports int
	// Window is how far back reports are counted.
	Window time.Duration
}

// Tally counts the reports of the last window as they arrive. It is safe
// for concurrent use.
type Tally struct {
	rule Rule

	mu   sync.Mutex
	now  time.Time    // the latest time seen; the window ends there
	rows []bot.Report // the window's counted rows, oldest first
	// person holds the reporters in the window, so a second report of
	// theirs (another replica's, read back from the store) is not counted.
	person  map[string]bool
	ids     map[int64]bool
	group   map[string]int
	counted int
	usual   float64
	// above is the last time the count was above the threshold.
	above time.Time
}

// NewTally starts an empty tally.
func NewTally(r Rule) *Tally {
	if r.Window <= 0 {
		r.Window = DefaultWindow
	}
	return &Tally{rule: r, person: map[string]bool{}, ids: map[int64]bool{}, group: map[string]int{}}
}

// Rule is the tally's rule.
func (t *Tally) Rule() Rule { return t.rule }

func personKey(r bot.Report) string { return string(r.Chat.Platform) + "\x00" + r.User }

func groupKey(r bot.Report) string {
	if r.Group != "" {
		return string(r.Chat.Platform) + "\x00g\x00" + r.Group
	}
	return string(r.Chat.Platform) + "\x00c\x00" + r.Chat.ID
}

// Add counts r unless it is older than the window, already counted (by id),
// or its reporter is already counted in the window. It reports whether r
// counts.
func (t *Tally) Add(r bot.Report) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.At.After(t.now) {
		t.advance(r.At)
	}
	if !r.At.After(t.now.Add(-t.rule.Window)) || (r.ID != 0 && t.ids[r.ID]) || t.person[personKey(r)] {
		return false
	}
	i := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].At.After(r.At) })
	t.rows = slices.Insert(t.rows, i, r)
	t.person[personKey(r)] = true
	if r.ID != 0 {
		t.ids[r.ID] = true
	}
	g := groupKey(r)
	t.group[g]++
	if t.group[g] <= PerGroup {
		t.counted++
	}
	t.check()
	return true
}

// AddAll adds reports read back from the store (every replica's), oldest
// first.
func (t *Tally) AddAll(rs []bot.Report) {
	for _, r := range rs {
		t.Add(r)
	}
}

// SetUsual sets the usual count per window at this time of day.
func (t *Tally) SetUsual(u float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.usual = u
}

// Read is the crowd at now (or at the latest report, if later).
func (t *Tally) Read(now time.Time) bot.Crowd {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.After(t.now) {
		t.advance(now)
	}
	c := bot.Crowd{Reports: t.counted, Window: t.rule.Window, Usual: t.usual, At: t.now,
		Signal: !t.above.IsZero() && t.now.Sub(t.above) < t.rule.Window}
	// The kinds of the counted reports: each group's first PerGroup.
	seen := make(map[string]int, len(t.group))
	kinds := map[bot.ReportKind]int{}
	for _, r := range t.rows {
		g := groupKey(r)
		if seen[g]++; seen[g] <= PerGroup {
			kinds[r.Kind]++
		}
	}
	for k, n := range kinds {
		c.Kinds = append(c.Kinds, bot.KindCount{Kind: k, Count: n})
	}
	slices.SortFunc(c.Kinds, func(a, b bot.KindCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), slices.Index(bot.ReportKinds, a.Kind)-slices.Index(bot.ReportKinds, b.Kind))
	})
	return c
}

// Count is the window's count at now, without its breakdown: what a
// /report answer says, at no cost per report.
func (t *Tally) Count(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.After(t.now) {
		t.advance(now)
	}
	return t.counted
}

// advance moves the window's end to now, dropping the reports it leaves
// behind; the caller holds mu. The count was above until the moment a
// report left while it was.
func (t *Tally) advance(now time.Time) {
	edge := now.Add(-t.rule.Window)
	n := 0
	for n < len(t.rows) && !t.rows[n].At.After(edge) {
		r := t.rows[n]
		if t.isAbove() {
			t.above = r.At.Add(t.rule.Window)
		}
		g := groupKey(r)
		if t.group[g] <= PerGroup {
			t.counted--
		}
		if t.group[g]--; t.group[g] == 0 {
			delete(t.group, g)
		}
		delete(t.person, personKey(r))
		delete(t.ids, r.ID)
		n++
	}
	t.rows = slices.Delete(t.rows, 0, n)
	t.now = now
	t.check()
}

// check records that the count is above the threshold at t.now; the
// caller holds mu.
func (t *Tally) check() {
	if t.isAbove() {
		t.above = t.now
	}
}

// isAbove says the count is above the threshold; the caller holds mu.
func (t *Tally) isAbove() bool {
	return t.rule.Reports > 0 && t.counted >= t.rule.Reports && float64(t.counted) >= Factor*t.usual
}

// Usual is the usual count per window from the counts of the same hour on
// past days (reports made in that hour, one count per day with history):
// their median, spread over the hour's windows. No days: 0.
func Usual(perDay []int, window time.Duration) float64 {
	if len(perDay) == 0 || window <= 0 {
		return 0
	}
	s := slices.Clone(perDay)
	slices.Sort(s)
	var median float64
	if n := len(s); n%2 == 1 {
		median = float64(s[n/2])
	} else {
		median = float64(s[n/2-1]+s[n/2]) / 2
	}
	return median * float64(window) / float64(time.Hour)
}
