package crowd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// report is person's report from their private chat (chat id = user id,
// as on Telegram), or from group when it is set.
func report(id int64, person, group string, kind bot.ReportKind, at time.Time) bot.Report {
	chat := person
	if group != "" {
		chat = group
	}
	return bot.Report{ID: id, User: person, Chat: bot.ChatRef{Platform: "telegram", ID: chat}, Kind: kind, At: at}
}

func rule() crowd.Rule { return crowd.Rule{Reports: 5, Window: 10 * time.Minute} }

func TestThresholdRaisesTheSignal(t *testing.T) {
	tl := crowd.NewTally(rule())
	for i := range 4 {
		tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", bot.ReportPost, t0.Add(time.Duration(i)*time.Minute)))
	}
	if c := tl.Read(t0.Add(4 * time.Minute)); c.Signal || c.Reports != 4 {
		t.Fatalf("4 people: %+v, want 4 reports and no signal", c)
	}
	tl.Add(report(5, "p4", "", bot.ReportDM, t0.Add(4*time.Minute)))
	c := tl.Read(t0.Add(4 * time.Minute))
	if !c.Signal || c.Reports != 5 {
		t.Fatalf("5 people: %+v, want 5 reports and the signal", c)
	}
	if c.Mostly() != bot.ReportPost || c.Kinds[0] != (bot.KindCount{Kind: bot.ReportPost, Count: 4}) || c.Kinds[1] != (bot.KindCount{Kind: bot.ReportDM, Count: 1}) {
		t.Fatalf("kinds %+v, mostly %q", c.Kinds, c.Mostly())
	}
}

func TestReportsOlderThanTheWindowDoNotCount(t *testing.T) {
	tl := crowd.NewTally(rule())
	// Five people, but spread over more than a window: never five at once.
	for i := range 5 {
		tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", bot.ReportFeed, t0.Add(time.Duration(i)*3*time.Minute)))
	}
	if c := tl.Read(t0.Add(12 * time.Minute)); c.Signal || c.Reports != 4 {
		t.Fatalf("five reports over 12 minutes: %+v, want 4 in the window and no signal", c)
	}
	// A report read back late (another replica's), older than the window: ignored.
	if tl.Add(report(9, "late", "", bot.ReportFeed, t0)) {
		t.Fatal("a report older than the window was counted")
	}
}

func TestOnePersonCountsOnce(t *testing.T) {
	tl := crowd.NewTally(rule())
	for i := range 1000 {
		tl.Add(report(int64(i+1), "flooder", "", bot.ReportPost, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	if c := tl.Read(t0.Add(time.Second)); c.Reports != 1 || c.Signal {
		t.Fatalf("one person's 1000 reports: %+v, want 1 and no signal", c)
	}
	// The same report read back from the store (same id) is not a second one.
	tl2 := crowd.NewTally(rule())
	r := report(7, "p", "", bot.ReportPost, t0)
	if !tl2.Add(r) || tl2.Add(r) {
		t.Fatal("the same report counted twice, or not at all")
	}
}

func TestOneChatCountsAFew(t *testing.T) {
	tl := crowd.NewTally(rule())
	for i := range 50 { // fifty new accounts in one group
		tl.Add(report(int64(i+1), fmt.Sprint("new", i), "-100group", bot.ReportLogin, t0.Add(time.Duration(i)*time.Second)))
	}
	if c := tl.Read(t0.Add(time.Minute)); c.Reports != crowd.PerGroup || c.Signal {
		t.Fatalf("50 people in one group: %+v, want %d and no signal", c, crowd.PerGroup)
	}
	// A Discord server counts as one group whatever the channel.
	tl = crowd.NewTally(rule())
	for i := range 10 {
		tl.Add(bot.Report{ID: int64(i + 1), User: fmt.Sprint("u", i), Chat: bot.ChatRef{Platform: "discord", ID: fmt.Sprint("chan", i)}, Group: "guild", Kind: bot.ReportDM, At: t0})
	}
	if c := tl.Read(t0); c.Reports != crowd.PerGroup {
		t.Fatalf("10 channels of one server: %d reports, want %d", c.Reports, crowd.PerGroup)
	}
	// Three groups of three and a private chat: 2+2+2+1.
	tl = crowd.NewTally(rule())
	id := int64(0)
	for g := range 3 {
		for p := range 3 {
			id++
			tl.Add(report(id, fmt.Sprint("g", g, "p", p), fmt.Sprint("group", g), bot.ReportPost, t0))
		}
	}
	tl.Add(report(100, "alone", "", bot.ReportMedia, t0))
	c := tl.Read(t0)
	if c.Reports != 7 || !c.Signal {
		t.Fatalf("three groups of three and one person: %+v, want 7 and the signal", c)
	}
	total := 0
	for _, k := range c.Kinds {
		total += k.Count
	}
	if total != c.Reports {
		t.Fatalf("kinds %+v add up to %d, want the count %d", c.Kinds, total, c.Reports)
	}
	// A window later, none is left.
	if n := tl.Count(t0.Add(10*time.Minute + time.Second)); n != 0 {
		t.Fatalf("after the window: %d, want 0", n)
	}
}

func TestSignalHoldsUntilAWholeWindowUnder(t *testing.T) {
	tl := crowd.NewTally(rule())
	for i := range 5 {
		tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", bot.ReportPost, t0))
	}
	if !tl.Read(t0).Signal {
		t.Fatal("no signal at five reports")
	}
	// The reports leave the window at t0+10m; the count was last above just
	// before that, so the signal holds a whole window more.
	for _, tc := range []struct {
		at     time.Duration
		signal bool
	}{{9 * time.Minute, true}, {10*time.Minute + time.Second, true}, {19 * time.Minute, true}, {20*time.Minute + time.Second, false}} {
		c := tl.Read(t0.Add(tc.at))
		if c.Signal != tc.signal {
			t.Fatalf("at +%s: signal %v (%d reports), want %v", tc.at, c.Signal, c.Reports, tc.signal)
		}
	}
}

func TestMarkedlyMoreThanUsual(t *testing.T) {
	tl := crowd.NewTally(rule())
	tl.SetUsual(2.5) // busy hour: 7 is under 3 × 2.5
	for i := range 7 {
		tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", bot.ReportPost, t0))
	}
	if c := tl.Read(t0); c.Signal {
		t.Fatalf("7 reports where 2.5 are usual: %+v, want no signal", c)
	}
	tl.Add(report(8, "p8", "", bot.ReportPost, t0))
	if c := tl.Read(t0); !c.Signal || c.Usual != 2.5 {
		t.Fatalf("8 reports where 2.5 are usual: %+v, want the signal", c)
	}
}

func TestZeroReportsNeverSignals(t *testing.T) {
	tl := crowd.NewTally(crowd.Rule{Window: time.Minute})
	for i := range 100 {
		tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", bot.ReportPost, t0))
	}
	if c := tl.Read(t0); c.Signal || c.Reports != 100 {
		t.Fatalf("with the signal off: %+v, want 100 counted and no signal", c)
	}
}

func TestUsualIsTheMedianPerWindow(t *testing.T) {
	for _, tc := range []struct {
		days []int
		want float64
	}{
		{nil, 0},
		{[]int{6}, 1},                // 6 an hour = 1 per 10 minutes
		{[]int{0, 600, 12}, 2},       // one outage day does not make the usual
		{[]int{6, 12, 18, 600}, 2.5}, // even: the mean of the middle two
	} {
		if got := crowd.Usual(tc.days, 10*time.Minute); got != tc.want {
			t.Errorf("Usual(%v) = %v, want %v", tc.days, got, tc.want)
		}
	}
}

// BenchmarkTally adds 10,000 people's reports within a minute, each
// answered with the count, and decides the signal once: the cost per
// report is what a /report answer adds.
func BenchmarkTally(b *testing.B) {
	rs := make([]bot.Report, 10000)
	for i := range rs {
		rs[i] = report(int64(i+1), fmt.Sprint("p", i), fmt.Sprint("g", i%3000), bot.ReportKinds[i%len(bot.ReportKinds)], t0.Add(time.Duration(i)*6*time.Millisecond))
	}
	b.ReportAllocs()
	for b.Loop() {
		tl := crowd.NewTally(rule())
		for _, r := range rs {
			tl.Add(r)
			tl.Count(r.At)
		}
		if c := tl.Read(t0.Add(time.Minute)); !c.Signal {
			b.Fatal("no signal")
		}
	}
}

func TestMostlyIsTheTopKindUnlessOther(t *testing.T) {
	for _, tc := range []struct {
		kinds []bot.ReportKind
		want  bot.ReportKind
	}{
		{nil, ""},
		{[]bot.ReportKind{bot.ReportOther, bot.ReportOther, bot.ReportPost}, ""},
		{[]bot.ReportKind{bot.ReportOther, bot.ReportDM, bot.ReportDM}, bot.ReportDM},
		{[]bot.ReportKind{bot.ReportMedia, bot.ReportFeed}, bot.ReportFeed}, // a tie: menu order
	} {
		tl := crowd.NewTally(rule())
		for i, k := range tc.kinds {
			tl.Add(report(int64(i+1), fmt.Sprint("p", i), "", k, t0))
		}
		if got := tl.Read(t0).Mostly(); got != tc.want {
			t.Errorf("kinds %v: mostly %q, want %q", tc.kinds, got, tc.want)
		}
	}
}
