package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/probe"
)

func TestRegionsKeepTheLatestRoundOfEach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s := open(t, path)
	ctx := context.Background()
	causes := []bot.Cause{{Component: "api", Detail: "HTTP 503"}}
	for _, r := range []bot.RegionRound{
		{Region: "us-east", At: t0, Verdict: probe.VerdictUp},
		{Region: "eu-west", At: t0.Add(-time.Minute), Verdict: probe.VerdictUp}, // stale by the time of the read
		{Region: "us-east", At: t0.Add(10 * time.Second), Verdict: probe.VerdictDown, Causes: causes},
		{Region: "ap-south", At: t0.Add(5 * time.Second), Verdict: probe.VerdictUnknown},
	} {
		if err := s.RecordRegion(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, path)                              // what replicas share is on disk
	got, err := s.Regions(ctx, t0, 20*time.Second) // one process: its own clock decides
	if err != nil {
		t.Fatal(err)
	}
	want := []bot.RegionRound{
		{Region: "ap-south", At: t0.Add(5 * time.Second), Verdict: probe.VerdictUnknown},
		{Region: "eu-west", At: t0.Add(-time.Minute), Verdict: probe.VerdictUp, Silent: true},
		{Region: "us-east", At: t0.Add(10 * time.Second), Verdict: probe.VerdictDown, Causes: causes},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("regions\n got %+v\nwant %+v", got, want)
	}
}

func TestChangeRegionsRoundTrip(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	subscribe(t, s, chat(tgPlatform, "1"))
	regions := []bot.RegionVerdict{{Region: "ap-south", Verdict: probe.VerdictUp}, {Region: "eu-west", Verdict: probe.VerdictDown}}
	tr := probe.Transition{From: probe.StateUp, To: probe.StateDown, At: t0, Began: t0}
	first := &bot.Snapshot{Round: storetest.DownRound(t0), Status: probe.Status{State: probe.StateDown, Since: t0},
		Incident: &bot.Incident{Start: t0, Worst: probe.StateDown},
		Change:   &bot.Change{Transition: tr, Regions: regions}}
	if err := s.SaveRound(ctx, first); err != nil {
		t.Fatal(err)
	}
	due, err := s.Due(ctx, tgPlatform, t0.Add(time.Minute), 10, nil)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %+v, %v", due, err)
	}
	if got := due[0].Change.Regions; !reflect.DeepEqual(got, regions) {
		t.Fatalf("regions %+v, want %+v", got, regions)
	}
	if err := s.Finish(ctx, []int64{due[0].ID}, bot.StatusSent, "m1", "", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Regions that agreed are stored as nothing and read back as nil.
	up := probe.Round{Start: t0.Add(time.Hour), Verdict: probe.VerdictUp}
	back := probe.Transition{From: probe.StateDown, To: probe.StateUp, At: up.Start, Began: up.Start}
	if err := s.SaveRound(ctx, &bot.Snapshot{Round: up, Status: probe.Status{State: probe.StateUp, Since: up.Start},
		Incident: &bot.Incident{ID: first.Incident.ID, Start: t0, End: up.Start, Worst: probe.StateDown},
		Change:   &bot.Change{Transition: back}}); err != nil {
		t.Fatal(err)
	}
	due, err = s.Due(ctx, tgPlatform, up.Start.Add(time.Minute), 10, nil)
	if err != nil || len(due) != 1 || due[0].Change.Regions != nil {
		t.Fatalf("due %+v, %v: want one recovery without regions", due, err)
	}
}
