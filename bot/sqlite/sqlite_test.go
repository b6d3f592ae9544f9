package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/sqlite"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names as the adapters own them: bot names none.
const (
	tgPlatform bot.Platform = "telegram"
	dcPlatform bot.Platform = "discord"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func chat(p bot.Platform, id string) bot.ChatRef { return bot.ChatRef{Platform: p, ID: id} }

func subscribe(t *testing.T, s *sqlite.Store, chats ...bot.ChatRef) {
	t.Helper()
	for i, c := range chats {
		if _, err := s.Subscribe(context.Background(), bot.Subscription{Chat: c, Kind: "private", Group: "g-" + c.ID, CreatedAt: t0.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func downRound(at time.Time) probe.Round {
	return probe.Round{Start: at, Verdict: probe.VerdictDown, Targets: []probe.Result{{Target: "api", Class: probe.ClassStatus, Detail: "HTTP 503", Status: 503}}}
}

// saveDown saves a round with an up→down change and returns it.
func saveDown(t testing.TB, s *sqlite.Store, at time.Time) *bot.Snapshot {
	t.Helper()
	tr := probe.Transition{From: probe.StateUp, To: probe.StateDown, At: at, Began: at.Add(-time.Second)}
	snap := &bot.Snapshot{
		Round:    downRound(at),
		Status:   probe.Status{State: probe.StateDown, Since: at},
		Incident: &bot.Incident{Start: tr.Began, Worst: probe.StateDown, Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}},
		Change:   &bot.Change{Transition: tr, Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}},
	}
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestMigrationsFromEmptyAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "bot.db")
	s := open(t, path)
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != 5 {
		t.Fatalf("schema version %d, %v; want 5", v, err)
	}
	subscribe(t, s, chat(tgPlatform, "1"))
	s.Close()

	s2 := open(t, path)
	if v, _ := s2.SchemaVersion(context.Background()); v != 5 {
		t.Fatalf("schema version after reopen %d", v)
	}
	subs, err := s2.Subscriptions(context.Background())
	if err != nil || len(subs) != 1 || subs[0].Chat != chat(tgPlatform, "1") {
		t.Fatalf("subscriptions after reopen %+v, %v", subs, err)
	}
}

func TestSubscribeTwiceAndUnsubscribe(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	sub := bot.Subscription{Chat: chat(tgPlatform, "7"), Kind: "group"}
	if created, err := s.Subscribe(ctx, sub); !created || err != nil {
		t.Fatalf("first subscribe: %v %v", created, err)
	}
	if created, err := s.Subscribe(ctx, sub); created || err != nil {
		t.Fatalf("second subscribe: %v %v", created, err)
	}
	if removed, err := s.Unsubscribe(ctx, sub.Chat); !removed || err != nil {
		t.Fatalf("unsubscribe: %v %v", removed, err)
	}
	if removed, err := s.Unsubscribe(ctx, sub.Chat); removed || err != nil {
		t.Fatalf("second unsubscribe: %v %v", removed, err)
	}
}

func TestSaveRoundFansOutAndLoadRestores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s := open(t, path)
	ctx := context.Background()
	subscribe(t, s, chat(tgPlatform, "1"), chat(tgPlatform, "2"), chat(dcPlatform, "3"))
	snap := saveDown(t, s, t0)
	if snap.Change.ID == 0 || snap.Incident.ID == 0 {
		t.Fatalf("ids not set: %+v", snap)
	}
	out, err := s.Outcomes(ctx)
	if err != nil || len(out) != 3 {
		t.Fatalf("outbox rows %d (%v), want 3", len(out), err)
	}
	for _, o := range out {
		if o.Status != bot.StatusPending || o.ChangeID != snap.Change.ID {
			t.Errorf("row %+v", o)
		}
	}
	s.Close()

	s = open(t, path)
	saved, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Status.State != probe.StateDown || !saved.Status.Since.Equal(t0) {
		t.Errorf("status %+v", saved.Status)
	}
	if saved.Incident == nil || !saved.Incident.Open() || saved.Incident.Causes[0].Detail != "HTTP 503" {
		t.Errorf("incident %+v", saved.Incident)
	}
	if saved.LastRound == nil || saved.LastRound.Verdict != probe.VerdictDown || saved.LastRound.Targets[0].Status != 503 {
		t.Errorf("last round %+v", saved.LastRound)
	}
}

func TestSaveRoundIsAtomic(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	subscribe(t, s, chat(tgPlatform, "1"))
	// An incident id that does not exist makes the change's foreign key fail
	// after the round and state were written: none of it may remain.
	snap := &bot.Snapshot{
		Round:    downRound(t0),
		Status:   probe.Status{State: probe.StateDown, Since: t0},
		Incident: &bot.Incident{ID: 999, Start: t0, Worst: probe.StateDown},
		Change:   &bot.Change{Transition: probe.Transition{From: probe.StateUp, To: probe.StateDown, At: t0}},
	}
	if err := s.SaveRound(ctx, snap); err == nil {
		t.Fatal("want a foreign key error")
	}
	saved, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Status.State != probe.StateUnknown || saved.LastRound != nil {
		t.Fatalf("partial write survived: %+v", saved)
	}
	if out, _ := s.Outcomes(ctx); len(out) != 0 {
		t.Fatalf("outbox rows survived: %+v", out)
	}
	if spans, err := s.Spans(ctx, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || len(spans) != 0 {
		t.Fatalf("span survived the failed round: %+v, %v", spans, err)
	}
}

func TestOutboxLifecycle(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	a, b := chat(tgPlatform, "a"), chat(tgPlatform, "b")
	subscribe(t, s, a, b, chat(dcPlatform, "c"))
	saveDown(t, s, t0)

	due, err := s.Due(ctx, tgPlatform, t0, 10, nil)
	if err != nil || len(due) != 2 {
		t.Fatalf("due %d, %v", len(due), err)
	}
	if due[0].Change.Transition.To != probe.StateDown || due[0].Change.Incident.Start.IsZero() || len(due[0].Change.Causes) != 1 {
		t.Errorf("delivery lacks its change: %+v", due[0])
	}
	if busy, _ := s.Due(ctx, tgPlatform, t0, 10, map[string]bool{"a": true}); len(busy) != 1 || busy[0].Chat != b {
		t.Errorf("busy chat not skipped: %+v", busy)
	}
	if early, _ := s.Due(ctx, tgPlatform, t0.Add(-time.Minute), 10, nil); len(early) != 0 {
		t.Errorf("rows due before their time: %d", len(early))
	}

	if err := s.Retry(ctx, due[0].ID, t0.Add(time.Minute), 1, "HTTP 502"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Due(ctx, tgPlatform, t0, 10, nil); len(got) != 1 || got[0].Chat != b {
		t.Errorf("retried row still due: %+v", got)
	}
	if bl, _ := s.Backlog(ctx); bl[tgPlatform].Pending != 2 || bl[dcPlatform].Pending != 1 {
		t.Errorf("backlog %+v", bl)
	}
	if err := s.Finish(ctx, []int64{due[1].ID}, bot.StatusSent, "m-1", "", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, []int64{due[0].ID}, bot.StatusGone, "", "blocked", t0); err != nil {
		t.Fatal(err)
	}
	subs, _ := s.Subscriptions(ctx)
	if len(subs) != 2 {
		t.Fatalf("gone chat still subscribed: %+v", subs)
	}
	// A recovery for b replies to b's down alert.
	up := &bot.Snapshot{Round: probe.Round{Start: t0.Add(time.Minute), Verdict: probe.VerdictUp}, Status: probe.Status{State: probe.StateUp, Since: t0.Add(time.Minute)}}
	saved, _ := s.Load(ctx)
	inc := *saved.Incident
	inc.End = t0.Add(50 * time.Second)
	up.Incident = &inc
	up.Change = &bot.Change{Transition: probe.Transition{From: probe.StateDown, To: probe.StateUp, At: t0.Add(time.Minute), Began: inc.End}}
	if err := s.SaveRound(ctx, up); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Due(ctx, tgPlatform, t0.Add(time.Hour), 10, nil)
	if len(got) != 1 || got[0].Chat != b || got[0].ReplyTo != "m-1" || got[0].Change.Incident.End.IsZero() {
		t.Fatalf("recovery row %+v", got)
	}
}

func TestMigrateAndGroupEnd(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"))
	ctx := context.Background()
	old, nw := chat(tgPlatform, "-100"), chat(tgPlatform, "-100200")
	subscribe(t, s, old, chat(dcPlatform, "c1"))
	saveDown(t, s, t0)
	if err := s.MigrateChat(ctx, old, nw); err != nil {
		t.Fatal(err)
	}
	due, _ := s.Due(ctx, tgPlatform, t0, 10, nil)
	if len(due) != 1 || due[0].Chat != nw {
		t.Fatalf("pending row not re-keyed: %+v", due)
	}
	n, err := s.UnsubscribeGroup(ctx, dcPlatform, "g-c1")
	if err != nil || n != 1 {
		t.Fatalf("group end %d %v", n, err)
	}
	if due, _ := s.Due(ctx, dcPlatform, t0, 10, nil); len(due) != 0 {
		t.Fatalf("rows of a left server still pending: %+v", due)
	}
	subs, _ := s.Subscriptions(ctx)
	if len(subs) != 1 || subs[0].Chat != nw {
		t.Fatalf("subscriptions %+v", subs)
	}
}

func TestRoundsArePrunedButUptimeKept(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), sqlite.WithRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		r := probe.Round{Start: t0.Add(time.Duration(i) * time.Hour), Verdict: probe.VerdictUp}
		if err := s.SaveRound(ctx, &bot.Snapshot{Round: r, Status: probe.Status{State: probe.StateUp, Since: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RoundCount(ctx)
	if err != nil || n != 2 {
		t.Fatalf("rounds kept %d (%v), want 2 within the hour of retention", n, err)
	}
	up, err := s.Uptime(ctx, t0, t0.Add(5*time.Hour))
	if err != nil || up[probe.VerdictUp] != 4 {
		t.Fatalf("uptime %+v %v", up, err)
	}
}
