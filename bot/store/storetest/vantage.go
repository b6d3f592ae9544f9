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

// regions reads the regions at now (the caller's clock, which a store
// shared by replicas ignores for its own), all fresh within an hour.
func regions(t *testing.T, vs bot.VantageStore, now time.Time) []bot.RegionRound {
	t.Helper()
	return regionsWithin(t, vs, now, time.Hour)
}

func regionsWithin(t *testing.T, vs bot.VantageStore, now time.Time, fresh time.Duration) []bot.RegionRound {
	t.Helper()
	got, err := vs.Regions(t.Context(), now, fresh)
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
	{"RegionsNotHeardFromAreSilent", func(t *testing.T, b Backend) {
		// On the real clock: a store shared by replicas judges freshness by
		// its own clock (when it recorded the round), not the caller's.
		s, _ := fresh(t, b, Defaults())
		vs := vantage(t, s)
		at := time.Now()
		us := bot.RegionRound{Region: "us-east", At: at, Verdict: probe.VerdictUp}
		record(t, vs, us)
		if got := regionsWithin(t, vs, time.Now(), time.Hour); len(got) != 1 || got[0].Silent {
			t.Fatalf("regions just recorded %+v, want us-east heard", got)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := regionsWithin(t, vs, time.Now(), 20*time.Millisecond)
			if len(got) != 1 {
				t.Fatalf("regions %+v, want us-east still listed", got)
			}
			if got[0].Silent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("us-east never fell silent with a freshness of 20 ms")
			}
			time.Sleep(10 * time.Millisecond) // polling the store's clock
		}
		// A new round makes it heard again; its older round does not come back.
		record(t, vs, bot.RegionRound{Region: "us-east", At: time.Now(), Verdict: probe.VerdictDegraded})
		if got := regionsWithin(t, vs, time.Now(), time.Hour); len(got) != 1 || got[0].Silent || got[0].Verdict != probe.VerdictDegraded {
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
