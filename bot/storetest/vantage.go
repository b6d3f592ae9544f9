package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// vantage is s as a VantageStore; the test skips while the backend has none.
func vantage(t *testing.T, s Store) bot.VantageStore {
	t.Helper()
	vs, ok := s.(bot.VantageStore)
	if !ok {
		t.Skip("backend has no VantageStore yet")
	}
	return vs
}

func record(t *testing.T, vs bot.VantageStore, rounds ...bot.RegionRound) {
	t.Helper()
	for _, r := range rounds {
		if err := vs.RecordRegion(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func regions(t *testing.T, vs bot.VantageStore, since time.Time) []bot.RegionRound {
	t.Helper()
	got, err := vs.Regions(t.Context(), since)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].At = got[i].At.UTC()
		got[i].Causes = nilIfEmpty(got[i].Causes)
	}
	return got
}

var vantageTests = []test{
	{"LatestRoundPerRegionOrderedByRegion", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		vs := vantage(t, s)
		if got := regions(t, vs, time.Time{}); len(got) != 0 {
			t.Fatalf("regions of a new store %+v", got)
		}
		us := bot.RegionRound{Region: "us-east", At: t0, Verdict: probe.VerdictUp}
		eu1 := bot.RegionRound{Region: "eu-west", At: t0.Add(5 * time.Second), Verdict: probe.VerdictUp}
		eu2 := bot.RegionRound{Region: "eu-west", At: t0.Add(35 * time.Second), Verdict: probe.VerdictDown,
			Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}}
		ap := bot.RegionRound{Region: "ap-south", At: t0.Add(10 * time.Second), Verdict: probe.VerdictUnknown}
		record(t, vs, us, eu1, eu2, ap)
		if got, want := regions(t, vs, t0), []bot.RegionRound{ap, eu2, us}; !reflect.DeepEqual(got, want) {
			t.Fatalf("regions\n got %+v\nwant %+v", got, want)
		}
	}},
	{"RegionsSinceDropsOlderRounds", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		vs := vantage(t, s)
		us := bot.RegionRound{Region: "us-east", At: t0, Verdict: probe.VerdictUp}
		eu := bot.RegionRound{Region: "eu-west", At: t0.Add(30 * time.Second), Verdict: probe.VerdictDown}
		record(t, vs, us, eu)
		if got, want := regions(t, vs, t0.Add(time.Second)), []bot.RegionRound{eu}; !reflect.DeepEqual(got, want) {
			t.Fatalf("regions since t0+1s %+v, want %+v", got, want)
		}
		if got, want := regions(t, vs, t0.Add(30*time.Second)), []bot.RegionRound{eu}; !reflect.DeepEqual(got, want) {
			t.Fatalf("regions since the round's own time %+v, want %+v (since is inclusive)", got, want)
		}
		if got := regions(t, vs, t0.Add(31*time.Second)); len(got) != 0 {
			t.Fatalf("regions since after every round %+v", got)
		}
		// A region's older round does not come back once a newer one replaced it.
		record(t, vs, bot.RegionRound{Region: "us-east", At: t0.Add(time.Minute), Verdict: probe.VerdictDegraded})
		if got := regions(t, vs, t0); len(got) != 2 || got[1].Verdict != probe.VerdictDegraded || !got[1].At.Equal(t0.Add(time.Minute)) {
			t.Fatalf("regions after us-east's new round %+v", got)
		}
	}},
	{"CausesRoundTrip", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		vs := vantage(t, s)
		r := bot.RegionRound{Region: "eu-west", At: t0, Verdict: probe.VerdictDegraded, Causes: []bot.Cause{
			{Component: "api", Detail: "HTTP 503"},
			{Component: "web", Detail: "timeout after 10s « ünïcode »"},
		}}
		record(t, vs, r)
		vs = vantage(t, reopen(t, b, s, db, Defaults()))
		if got := regions(t, vs, t0); !reflect.DeepEqual(got, []bot.RegionRound{r}) {
			t.Fatalf("after reopen\n got %+v\nwant %+v", got, []bot.RegionRound{r})
		}
	}},
	{"RegionsSeenByTheOtherStore", func(t *testing.T, b Backend) {
		a, c, _ := twoStores(t, b)
		va, vc := vantage(t, a), vantage(t, c)
		eu := bot.RegionRound{Region: "eu-west", At: t0, Verdict: probe.VerdictDown}
		us := bot.RegionRound{Region: "us-east", At: t0.Add(time.Second), Verdict: probe.VerdictUp}
		record(t, va, eu)
		record(t, vc, us)
		for _, vs := range []bot.VantageStore{va, vc} {
			if got, want := regions(t, vs, t0), []bot.RegionRound{eu, us}; !reflect.DeepEqual(got, want) {
				t.Fatalf("regions %+v, want %+v", got, want)
			}
		}
	}},
	{"ChangeRegionsReachTheDelivery", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		vantage(t, s)
		subscribe(t, s, chat(tgPlatform, "1"))
		split := []bot.RegionVerdict{{Region: "eu-west", Verdict: probe.VerdictDown}, {Region: "us-east", Verdict: probe.VerdictUp}}
		tr := probe.Transition{From: probe.StateUp, To: probe.StateDown, At: t0, Began: t0}
		snap := &bot.Snapshot{
			Round:    DownRound(t0),
			Status:   probe.Status{State: probe.StateDown, Since: t0},
			Incident: &bot.Incident{Start: t0, Worst: probe.StateDown},
			Change:   &bot.Change{Transition: tr, Regions: split},
		}
		if err := s.SaveRound(t.Context(), snap); err != nil {
			t.Fatal(err)
		}
		SaveRecovery(t, s, t0.Add(time.Minute)) // agreed: no regions
		d := due(t, s, tgPlatform, t0.Add(time.Minute))
		if len(d) != 2 {
			t.Fatalf("rows %+v", d)
		}
		if !reflect.DeepEqual(d[0].Change.Regions, split) {
			t.Errorf("regions of the down alert %+v, want %+v", d[0].Change.Regions, split)
		}
		if len(d[1].Change.Regions) != 0 {
			t.Errorf("regions of the recovery %+v, want none", d[1].Change.Regions)
		}
	}},
}
