package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

var subscriptionTests = []test{
	{"SubscribeTwiceAndUnsubscribe", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
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
	}},
	{"SubscriptionsKeepTheirFields", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		want := []bot.Subscription{
			{Chat: chat(tgPlatform, "-100"), Kind: "supergroup", Lang: "fr", CreatedAt: t0},
			{Chat: chat(dcPlatform, "55"), Kind: "server", Group: "guild-1", Lang: "en", CreatedAt: t0.Add(time.Minute)},
		}
		for _, sub := range want {
			if _, err := s.Subscribe(t.Context(), sub); err != nil {
				t.Fatal(err)
			}
		}
		check := func(s Store) {
			t.Helper()
			got := subscriptions(t, s)
			if len(got) != len(want) {
				t.Fatalf("subscriptions %+v, want %+v", got, want)
			}
			for _, w := range want {
				found := false
				for _, g := range got {
					if g.Chat == w.Chat {
						found = g.Kind == w.Kind && g.Group == w.Group && g.Lang == w.Lang && g.CreatedAt.Equal(w.CreatedAt)
					}
				}
				if !found {
					t.Errorf("subscription %+v not kept as it was: %+v", w, got)
				}
			}
		}
		check(s)
		s = reopen(t, b, s, db, Defaults())
		check(s)
		for _, w := range want {
			if got, err := s.Subscriptions(t.Context(), w.Chat.Platform); err != nil || len(got) != 1 || got[0].Chat != w.Chat {
				t.Errorf("subscriptions of %s: %+v, %v; want %s alone", w.Chat.Platform, got, err, w.Chat)
			}
		}
		if got, err := s.Subscriptions(t.Context(), tgPlatform, dcPlatform); err != nil || len(got) != 2 {
			t.Errorf("subscriptions of both platforms: %+v, %v", got, err)
		}
	}},
	{"MigrateChatAndEndGroup", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		old, nw := chat(tgPlatform, "-100"), chat(tgPlatform, "-100200")
		subscribe(t, s, old, chat(dcPlatform, "c1"))
		SaveDown(t, s, t0)
		if err := s.MigrateChat(ctx, old, nw); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, tgPlatform, t0); len(d) != 1 || d[0].Chat != nw {
			t.Fatalf("pending row not re-keyed: %+v", d)
		}
		n, err := s.UnsubscribeGroup(ctx, dcPlatform, "g-c1")
		if err != nil || n != 1 {
			t.Fatalf("group end %d %v", n, err)
		}
		if d := due(t, s, dcPlatform, t0); len(d) != 0 {
			t.Fatalf("rows of a left server still pending: %+v", d)
		}
		if subs := subscriptions(t, s); len(subs) != 1 || subs[0].Chat != nw {
			t.Fatalf("subscriptions %+v", subs)
		}
	}},
	{"UnsubscribeDropsPendingAlerts", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		a, c := chat(tgPlatform, "a"), chat(tgPlatform, "c")
		subscribe(t, s, a, c)
		SaveDown(t, s, t0)
		if removed, err := s.Unsubscribe(t.Context(), a); !removed || err != nil {
			t.Fatalf("unsubscribe: %v %v", removed, err)
		}
		if d := due(t, s, tgPlatform, t0); len(d) != 1 || d[0].Chat != c {
			t.Fatalf("due after unsubscribe %+v, want only %v", d, c)
		}
	}},
}

var stateTests = []test{
	{"NewStoreLoadsUnknown", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		saved := load(t, s)
		if saved.Status.State != probe.StateUnknown || saved.Incident != nil || saved.LastRound != nil || saved.Flap.Unstable() || len(saved.Recent) != 0 {
			t.Fatalf("a new store loads %+v", saved)
		}
	}},
	{"SaveRoundFansOutAndLoadRestores", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		subscribe(t, s, chat(tgPlatform, "1"), chat(tgPlatform, "2"), chat(dcPlatform, "3"))
		snap := SaveDown(t, s, t0)
		if snap.Change.ID == 0 || snap.Incident.ID == 0 || snap.Queued != 3 {
			t.Fatalf("ids or queued count not set: %+v", snap)
		}
		tg, dc := due(t, s, tgPlatform, t0), due(t, s, dcPlatform, t0)
		if len(tg) != 2 || len(dc) != 1 || tg[0].Chat.ID != "1" || tg[1].Chat.ID != "2" {
			t.Fatalf("outbox rows: telegram %+v, discord %+v", tg, dc)
		}
		for _, d := range append(tg, dc...) {
			if d.Change.ID != snap.Change.ID || d.Change.Incident.ID != snap.Incident.ID || d.Attempts != 0 || !d.CreatedAt.Equal(t0) {
				t.Errorf("row %+v", d)
			}
		}
		bl, err := s.Backlog(t.Context())
		if err != nil || bl[tgPlatform].Pending != 2 || bl[dcPlatform].Pending != 1 || !bl[tgPlatform].Oldest.Equal(t0) {
			t.Errorf("backlog %+v, %v", bl, err)
		}

		s = reopen(t, b, s, db, Defaults())
		saved := load(t, s)
		if saved.Status.State != probe.StateDown || !saved.Status.Since.Equal(t0) {
			t.Errorf("status %+v", saved.Status)
		}
		if saved.Incident == nil || !saved.Incident.Open() || saved.Incident.ID != snap.Incident.ID || saved.Incident.Causes[0].Detail != "HTTP 503" {
			t.Errorf("incident %+v", saved.Incident)
		}
		if saved.LastRound == nil || saved.LastRound.Verdict != probe.VerdictDown || saved.LastRound.Targets[0].Status != 503 || !saved.LastRound.Start.Equal(t0) {
			t.Errorf("last round %+v", saved.LastRound)
		}
		if len(saved.Recent) != 1 || saved.Recent[0].To != probe.StateDown || !saved.Recent[0].At.Equal(t0) {
			t.Errorf("recent changes %+v", saved.Recent)
		}
	}},
	{"SaveRoundIsAtomic", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		subscribe(t, s, chat(tgPlatform, "1"))
		// An incident id that does not exist makes the change's reference to
		// it fail after the round and state were written: none of it may remain.
		snap := &bot.Snapshot{
			Round:    DownRound(t0),
			Status:   probe.Status{State: probe.StateDown, Since: t0},
			Incident: &bot.Incident{ID: 999, Start: t0, Worst: probe.StateDown},
			Change:   &bot.Change{Transition: probe.Transition{From: probe.StateUp, To: probe.StateDown, At: t0}},
		}
		if err := s.SaveRound(ctx, snap); err == nil {
			t.Fatal("saving a change of an incident that does not exist: want an error")
		}
		saved := load(t, s)
		if saved.Status.State != probe.StateUnknown || saved.LastRound != nil || len(saved.Recent) != 0 {
			t.Fatalf("partial write survived: %+v", saved)
		}
		if bl, err := s.Backlog(ctx); err != nil || len(bl) != 0 {
			t.Fatalf("outbox rows survived: %+v, %v", bl, err)
		}
		if spans, err := s.Spans(ctx, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || len(spans) != 0 {
			t.Fatalf("span survived the failed round: %+v, %v", spans, err)
		}
	}},
	{"FlapStateRoundTrips", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		subscribe(t, s, chat(tgPlatform, "1"))
		SaveDown(t, s, t0)
		at := t0.Add(time.Minute)
		flap := &bot.Flap{Since: t0, Changes: 4, Worst: probe.StateDown}
		snap := &bot.Snapshot{
			Round:  probe.Round{Start: at, Verdict: probe.VerdictDown},
			Status: probe.Status{State: probe.StateDown, Since: at},
			Change: &bot.Change{Kind: bot.ChangeUnstable, Transition: probe.Transition{From: probe.StateUp, To: probe.StateDown, At: at, Began: at},
				Flaps: 4, FlapSince: t0},
			Flap: flap,
		}
		if err := s.SaveRound(t.Context(), snap); err != nil {
			t.Fatal(err)
		}
		if flap.ChangeID == 0 || flap.ChangeID != snap.Change.ID {
			t.Fatalf("flap change id %d, change %d", flap.ChangeID, snap.Change.ID)
		}
		s = reopen(t, b, s, db, Defaults())
		saved := load(t, s)
		if got := saved.Flap; !got.Since.Equal(t0) || got.Changes != 4 || got.Worst != probe.StateDown || got.ChangeID != snap.Change.ID {
			t.Errorf("flap after reopen %+v, want %+v", got, *flap)
		}
		// The unstable message counts in no flap window: Recent holds state changes only.
		if len(saved.Recent) != 1 {
			t.Errorf("recent changes %+v, want the down change only", saved.Recent)
		}
		d := due(t, s, tgPlatform, at)
		if len(d) != 2 || d[1].Change.Kind != bot.ChangeUnstable || d[1].Change.Flaps != 4 || !d[1].Change.FlapSince.Equal(t0) {
			t.Errorf("unstable row %+v", d)
		}
	}},
	{"RecentChangesAreTheLatestOldestFirst", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		for k := range bot.RecentChanges + 2 {
			at := t0.Add(time.Duration(k) * time.Minute)
			from, to := probe.StateUp, probe.StateDown
			if k%2 == 1 {
				from, to = to, from
			}
			snap := &bot.Snapshot{Round: probe.Round{Start: at, Verdict: probe.VerdictUp}, Status: probe.Status{State: to, Since: at},
				Change: &bot.Change{Transition: probe.Transition{From: from, To: to, At: at, Began: at}}}
			if err := s.SaveRound(t.Context(), snap); err != nil {
				t.Fatal(err)
			}
		}
		got := load(t, s).Recent
		if len(got) != bot.RecentChanges || !got[0].At.Equal(t0.Add(2*time.Minute)) || !got[len(got)-1].At.Equal(t0.Add((bot.RecentChanges+1)*time.Minute)) {
			t.Fatalf("recent changes: %d, from %v to %v", len(got), got[0].At, got[len(got)-1].At)
		}
		if got[0].From != probe.StateUp || got[0].To != probe.StateDown {
			t.Errorf("first recent change %+v", got[0])
		}
	}},
}

var outboxTests = []test{
	{"Lifecycle", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		a, c := chat(tgPlatform, "a"), chat(tgPlatform, "b")
		subscribe(t, s, a, c, chat(dcPlatform, "c"))
		SaveDown(t, s, t0)

		got := due(t, s, tgPlatform, t0)
		if len(got) != 2 {
			t.Fatalf("due %+v", got)
		}
		if got[0].Change.Transition.To != probe.StateDown || got[0].Change.Incident.Start.IsZero() || len(got[0].Change.Causes) != 1 {
			t.Errorf("delivery lacks its change: %+v", got[0])
		}
		if busy, err := s.Due(ctx, tgPlatform, t0, 10, map[string]bool{"a": true}); err != nil || len(busy) != 1 || busy[0].Chat != c {
			t.Errorf("busy chat not skipped: %+v, %v", busy, err)
		}
		if one, err := s.Due(ctx, tgPlatform, t0, 1, nil); err != nil || len(one) != 1 {
			t.Errorf("limit of one chat: %+v, %v", one, err)
		}
		if early := due(t, s, tgPlatform, t0.Add(-time.Minute)); len(early) != 0 {
			t.Errorf("rows due before their time: %d", len(early))
		}

		if err := s.Retry(ctx, got[0].ID, t0.Add(time.Minute), 1, "HTTP 502"); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, tgPlatform, t0); len(d) != 1 || d[0].Chat != c {
			t.Errorf("retried row still due: %+v", d)
		}
		if d := due(t, s, tgPlatform, t0.Add(time.Minute)); len(d) != 2 || d[0].Attempts != 1 || !d[0].NextAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("retried row at its time %+v", d)
		}
		if bl, _ := s.Backlog(ctx); bl[tgPlatform].Pending != 2 || bl[dcPlatform].Pending != 1 {
			t.Errorf("backlog %+v", bl)
		}
		finish(t, s, got[1].ID, bot.StatusSent, "m-1", t0)
		if err := s.Finish(ctx, []int64{got[0].ID}, bot.StatusGone, "", "blocked", t0); err != nil {
			t.Fatal(err)
		}
		if subs := subscriptions(t, s); len(subs) != 2 {
			t.Fatalf("gone chat still subscribed: %+v", subs)
		}
		if bl, _ := s.Backlog(ctx); bl[tgPlatform].Pending != 0 {
			t.Errorf("finished rows still pending: %+v", bl)
		}
		// A recovery for b replies to b's down alert.
		SaveRecovery(t, s, t0.Add(time.Minute))
		got = due(t, s, tgPlatform, t0.Add(time.Hour))
		if len(got) != 1 || got[0].Chat != c || got[0].ReplyTo != "m-1" || got[0].Change.Incident.End.IsZero() {
			t.Fatalf("recovery row %+v", got)
		}
	}},
	{"FinishTwiceKeepsTheFirstOutcome", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		a := chat(tgPlatform, "a")
		subscribe(t, s, a)
		SaveDown(t, s, t0)
		row := due(t, s, tgPlatform, t0)[0]
		finish(t, s, row.ID, bot.StatusSent, "m-1", t0)
		finish(t, s, row.ID, bot.StatusExpired, "", t0)
		SaveRecovery(t, s, t0.Add(time.Minute))
		if d := due(t, s, tgPlatform, t0.Add(time.Minute)); len(d) != 1 || d[0].ReplyTo != "m-1" {
			t.Fatalf("recovery %+v: the sent alert should stand", d)
		}
	}},
	{"DeliveryCarriesTheChange", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		subscribe(t, s, chat(tgPlatform, "a"))
		if _, err := s.Subscribe(t.Context(), bot.Subscription{Chat: chat(tgPlatform, "b"), Lang: "fr", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		snap := SaveDown(t, s, t0)
		got := due(t, s, tgPlatform, t0)
		if len(got) != 2 || got[1].Lang != "fr" {
			t.Fatalf("rows %+v", got)
		}
		want := *snap.Change
		if !reflect.DeepEqual(normalChange(got[0].Change), normalChange(want)) {
			t.Errorf("delivered change\n got %+v\nwant %+v", got[0].Change, want)
		}
	}},
}

// normalChange drops the time zones a store may give back, for comparing.
func normalChange(c bot.Change) bot.Change {
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC()
	}
	c.Transition.At, c.Transition.Began, c.FlapSince = utc(c.Transition.At), utc(c.Transition.Began), utc(c.FlapSince)
	c.Incident.Start, c.Incident.End = utc(c.Incident.Start), utc(c.Incident.End)
	c.Regions, c.Causes, c.Incident.Causes = nilIfEmpty(c.Regions), nilIfEmpty(slices.Clone(c.Causes)), nilIfEmpty(slices.Clone(c.Incident.Causes))
	for i := range c.Causes {
		c.Causes[i].FirstSeen, c.Causes[i].LastSeen = utc(c.Causes[i].FirstSeen), utc(c.Causes[i].LastSeen)
	}
	for i := range c.Incident.Causes {
		c.Incident.Causes[i].FirstSeen, c.Incident.Causes[i].LastSeen = utc(c.Incident.Causes[i].FirstSeen), utc(c.Incident.Causes[i].LastSeen)
	}
	return c
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
