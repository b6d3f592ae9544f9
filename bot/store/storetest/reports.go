package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// reportWindow is the window the tests keep one report per person in.
const reportWindow = 10 * time.Minute

var reportTests = []test{
	{"OnePerPersonPerWindow", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		first := report(tgPlatform, "42", "-100", bot.ReportPost, t0)
		if !addReport(t, s, &first) || first.ID == 0 {
			t.Fatalf("the first report was not added (id %d)", first.ID)
		}
		again := report(tgPlatform, "42", "-200", bot.ReportFeed, t0.Add(reportWindow-time.Second))
		if addReport(t, s, &again) {
			t.Error("a second report by the same person within the window was added")
		}
		other := report(tgPlatform, "7", "-100", bot.ReportPost, t0.Add(time.Minute))
		if !addReport(t, s, &other) {
			t.Error("another person's report within the window was not added")
		}
		// The same user id on another platform is another person.
		elsewhere := report(dcPlatform, "42", "c1", bot.ReportLogin, t0.Add(2*time.Minute))
		if !addReport(t, s, &elsewhere) {
			t.Error("the same user id on another platform counted as the same person")
		}
		// A whole window after the first, the person may report again.
		later := report(tgPlatform, "42", "-100", bot.ReportDM, t0.Add(reportWindow))
		if !addReport(t, s, &later) {
			t.Error("a report a whole window after the person's last was not added")
		}
		ids := []int64{first.ID, other.ID, elsewhere.ID, later.ID}
		if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
			t.Errorf("report ids %v, want each its own", ids)
		}
		got := since(t, s, time.Time{}, 100)
		if want := []bot.Report{first, other, elsewhere, later}; !sameReports(got, want) {
			t.Fatalf("kept reports %+v, want %+v", got, want)
		}
		// Within a window of the one just added, the person is refused again.
		soon := report(tgPlatform, "42", "-100", bot.ReportDM, t0.Add(reportWindow+time.Minute))
		if addReport(t, s, &soon) {
			t.Error("a report within the window of the person's last was added")
		}
	}},
	{"SinceOldestFirstWithinLimit", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		// Added out of time order: read back by time, then by id.
		c := report(tgPlatform, "3", "-100", bot.ReportMedia, t0.Add(2*time.Minute))
		a := report(tgPlatform, "1", "-100", bot.ReportPost, t0)
		b1 := report(dcPlatform, "2", "c1", bot.ReportFeed, t0.Add(time.Minute))
		b2 := report(dcPlatform, "4", "c2", bot.ReportOther, t0.Add(time.Minute))
		b1.Group, b2.Group = "guild", "guild"
		for _, r := range []*bot.Report{&c, &a, &b1, &b2} {
			if !addReport(t, s, r) {
				t.Fatalf("report %+v not added", *r)
			}
		}
		if got, want := since(t, s, time.Time{}, 100), []bot.Report{a, b1, b2, c}; !sameReports(got, want) {
			t.Fatalf("all reports %+v, want %+v", got, want)
		}
		if got, want := since(t, s, t0.Add(time.Minute), 100), []bot.Report{b1, b2, c}; !sameReports(got, want) {
			t.Errorf("reports since t0+1m %+v, want %+v (from is included)", got, want)
		}
		if got, want := since(t, s, t0, 2), []bot.Report{a, b1}; !sameReports(got, want) {
			t.Errorf("the first two reports %+v, want %+v", got, want)
		}
		if got := since(t, s, t0.Add(2*time.Minute+1), 100); len(got) != 0 {
			t.Errorf("reports after the last %+v, want none", got)
		}
		// Kept across a restart.
		s = reopen(t, b, s, db, Defaults())
		if got, want := since(t, s, time.Time{}, 100), []bot.Report{a, b1, b2, c}; !sameReports(got, want) {
			t.Fatalf("reports after a reopen %+v, want %+v", got, want)
		}
	}},
	{"CountFromIncludedToExcluded", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		if n := reportCount(t, s, time.Time{}, t0.Add(time.Hour)); n != 0 {
			t.Fatalf("%d reports counted in an empty store", n)
		}
		for i, user := range []string{"1", "2", "3", "4"} {
			r := report(tgPlatform, user, "-100", bot.ReportPost, t0.Add(time.Duration(i)*time.Minute))
			addReport(t, s, &r)
		}
		for _, c := range []struct {
			from, to time.Duration
			want     int
		}{
			{0, 4 * time.Minute, 4},
			{0, 3 * time.Minute, 3}, // to is excluded
			{time.Minute, 3 * time.Minute, 2},
			{time.Minute + 1, 3*time.Minute + 1, 2}, // from is included
			{4 * time.Minute, time.Hour, 0},
			{time.Minute, time.Minute, 0},
		} {
			if n := reportCount(t, s, t0.Add(c.from), t0.Add(c.to)); n != c.want {
				t.Errorf("reports in [t0+%v, t0+%v): %d, want %d", c.from, c.to, n, c.want)
			}
		}
	}},
	{"FirstReport", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		if at := firstReport(t, s); !at.IsZero() {
			t.Fatalf("first report of an empty store at %v, want the zero time", at)
		}
		late := report(tgPlatform, "1", "-100", bot.ReportPost, t0.Add(time.Hour))
		addReport(t, s, &late)
		early := report(tgPlatform, "2", "-100", bot.ReportPost, t0)
		addReport(t, s, &early)
		if at := firstReport(t, s); !at.Equal(t0) {
			t.Fatalf("first report at %v, want %v", at, t0)
		}
	}},
	{"PrunedWithTheRounds", func(t *testing.T, b Backend) {
		opts := Defaults()
		opts.Retention = time.Hour
		s, _ := fresh(t, b, opts)
		var kept []bot.Report
		for i, at := range []time.Duration{-3 * time.Hour, -time.Hour - time.Second, -time.Hour, -time.Minute, 0} {
			r := report(tgPlatform, string(rune('a'+i)), "-100", bot.ReportPost, t0.Add(at))
			if !addReport(t, s, &r) {
				t.Fatalf("report at t0%v not added", at)
			}
			if at >= -time.Hour {
				kept = append(kept, r)
			}
		}
		// The round's time decides, not the clock: reports older than the
		// round retention before it go, the others stay.
		upRound(t, s, t0)
		if got := since(t, s, time.Time{}, 100); !sameReports(got, kept) {
			t.Fatalf("reports after a round %+v, want those within the hour %+v", got, kept)
		}
		if at := firstReport(t, s); !at.Equal(t0.Add(-time.Hour)) {
			t.Errorf("first report after pruning at %v, want %v", at, t0.Add(-time.Hour))
		}
		upRound(t, s, t0.Add(2*time.Hour))
		if got := since(t, s, time.Time{}, 100); len(got) != 0 {
			t.Fatalf("reports two hours later %+v, want none", got)
		}
		if at := firstReport(t, s); !at.IsZero() {
			t.Errorf("first report once all were pruned at %v, want the zero time", at)
		}
	}},
	{"KindStoredAsGiven", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		// Which kinds are accepted is the command's to decide, not the store's.
		var want []bot.Report
		for i, kind := range []bot.ReportKind{"", "not a kind", "ПОСТ 🐦", bot.ReportOther} {
			r := report(tgPlatform, string(rune('a'+i)), "-100", kind, t0.Add(time.Duration(i)*time.Second))
			if !addReport(t, s, &r) {
				t.Fatalf("report of kind %q not added", kind)
			}
			want = append(want, r)
		}
		if got := since(t, s, time.Time{}, 100); !sameReports(got, want) {
			t.Fatalf("reports %+v, want %+v", got, want)
		}
	}},
}

func report(p bot.Platform, user, chatID string, kind bot.ReportKind, at time.Time) bot.Report {
	return bot.Report{User: user, Chat: chat(p, chatID), Kind: kind, At: at}
}

func addReport(t *testing.T, s Store, r *bot.Report) bool {
	t.Helper()
	added, err := s.AddReport(t.Context(), r, reportWindow)
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func since(t *testing.T, s Store, from time.Time, limit int) []bot.Report {
	t.Helper()
	rs, err := s.ReportsSince(t.Context(), from, limit)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func reportCount(t *testing.T, s Store, from, to time.Time) int {
	t.Helper()
	n, err := s.ReportCount(t.Context(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func firstReport(t *testing.T, s Store) time.Time {
	t.Helper()
	at, err := s.FirstReport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// sameReports compares reports field by field, times by Equal.
func sameReports(got, want []bot.Report) bool {
	return slices.EqualFunc(got, want, func(g, w bot.Report) bool {
		at := g.At.Equal(w.At)
		g.At, w.At = time.Time{}, time.Time{}
		return at && g == w
	})
}
