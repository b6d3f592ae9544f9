package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// twoStores opens two stores on one new database, as two replicas would.
func twoStores(t *testing.T, b Backend) (Store, Store, string) {
	t.Helper()
	a, db := fresh(t, b, Defaults())
	return a, open(t, b, db, Defaults()), db
}

// together runs n calls of f at once, each told its number, across the
// stores in turn, and returns their errors once all have returned.
func together(stores []Store, n int, f func(s Store, i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(stores[i%len(stores)], i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

const racers = 16

var concurrencyTests = []test{
	{"ConcurrentSubscribeCreatesOne", func(t *testing.T, b Backend) {
		a, c, _ := twoStores(t, b)
		sub := bot.Subscription{Chat: chat(tgPlatform, "42"), Kind: "group", CreatedAt: t0}
		var (
			mu      sync.Mutex
			created int
		)
		errs := together([]Store{a, c}, racers, func(s Store, i int) error {
			ok, err := s.Subscribe(t.Context(), sub)
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("subscribe %d: %v", i, err)
			}
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent subscribes created the subscription, want exactly 1", created, racers)
		}
		for _, s := range []Store{a, c} {
			if subs := subscriptions(t, s); len(subs) != 1 || subs[0].Chat != sub.Chat {
				t.Errorf("subscriptions %+v", subs)
			}
		}
	}},
	{"ConcurrentUpdateSettingsLosesNothing", func(t *testing.T, b Backend) {
		a, c, _ := twoStores(t, b)
		ch := chat(tgPlatform, "42")
		subscribe(t, a, ch)
		// Each update adds a minute to what it read: a lost update shows as
		// a missing minute.
		errs := together([]Store{a, c}, racers, func(s Store, i int) error {
			_, ok, err := s.UpdateSettings(t.Context(), ch, func(cs *bot.ChatSettings) { cs.RemindEvery += time.Minute })
			if err == nil && !ok {
				err = fmt.Errorf("chat not subscribed")
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}
		for _, s := range []Store{a, c} {
			if cs, _, err := s.Settings(t.Context(), ch); err != nil || cs.RemindEvery != racers*time.Minute {
				t.Errorf("after %d concurrent updates: %v, %v; want %v", racers, cs.RemindEvery, err, racers*time.Minute)
			}
		}
	}},
	{"EachSeesWhatTheOtherWrote", func(t *testing.T, b Backend) {
		a, c, _ := twoStores(t, b)
		ctx := t.Context()
		x, y := chat(tgPlatform, "x"), chat(dcPlatform, "y")
		subscribe(t, a, x)
		subscribe(t, c, y)
		for _, s := range []Store{a, c} {
			if subs := subscriptions(t, s); len(subs) != 2 {
				t.Fatalf("subscriptions %+v, want both stores' ones", subs)
			}
		}
		if _, _, err := a.UpdateSettings(ctx, y, func(cs *bot.ChatSettings) { cs.Level = bot.AlertsOutages }); err != nil {
			t.Fatal(err)
		}
		if cs, ok, err := c.Settings(ctx, y); err != nil || !ok || cs.Level != bot.AlertsOutages {
			t.Fatalf("settings written by the other store: %+v, %v, %v", cs, ok, err)
		}

		// The follower path: one store saves rounds, the other loads them.
		snap := SaveDown(t, a, t0)
		saved := load(t, c)
		if saved.Status.State != probe.StateDown || saved.Incident == nil || saved.Incident.ID != snap.Incident.ID ||
			saved.LastRound == nil || !saved.LastRound.Start.Equal(t0) {
			t.Fatalf("the other store loads %+v", saved)
		}
		if bl, err := c.Backlog(ctx); err != nil || bl[tgPlatform].Pending != 1 || bl[dcPlatform].Pending != 1 || !bl[dcPlatform].Oldest.Equal(t0) {
			t.Fatalf("the other store's backlog %+v, %v", bl, err)
		}
		at := t0.Add(time.Minute)
		flap := &bot.Flap{Since: t0, Changes: 3, Worst: probe.StateDown}
		unstable := &bot.Snapshot{
			Round:  DownRound(at),
			Status: probe.Status{State: probe.StateDown, Since: at},
			Change: &bot.Change{Kind: bot.ChangeUnstable, Transition: probe.Transition{From: probe.StateUp, To: probe.StateDown, At: at, Began: at}, Flaps: 3, FlapSince: t0},
			Flap:   flap,
		}
		if err := a.SaveRound(ctx, unstable); err != nil {
			t.Fatal(err)
		}
		mine, theirs := load(t, a), load(t, c)
		if !reflect.DeepEqual(mine, theirs) {
			t.Fatalf("the stores load different states:\n%+v\n%+v", mine, theirs)
		}
		if f := theirs.Flap; !f.Since.Equal(t0) || f.Changes != 3 || f.ChangeID != unstable.Change.ID {
			t.Fatalf("flap seen by the other store %+v", f)
		}

		// An outcome written by the store that claimed the row is seen by the other.
		row := due(t, a, tgPlatform, at)[0]
		finish(t, a, row.ID, bot.StatusSent, "m-1", at)
		if d := due(t, a, tgPlatform, at); len(d) != 1 || d[0].ID == row.ID {
			t.Fatalf("a row finished by one store is still due in the other: %+v", d)
		}
		if bl, err := c.Backlog(ctx); err != nil || bl[tgPlatform].Pending != 1 {
			t.Fatalf("backlog after the finish %+v, %v", bl, err)
		}
		if removed, err := c.Unsubscribe(ctx, x); !removed || err != nil {
			t.Fatalf("unsubscribe: %v, %v", removed, err)
		}
		if _, ok, err := a.Settings(ctx, x); ok || err != nil {
			t.Fatalf("a chat unsubscribed by the other store: %v, %v", ok, err)
		}
	}},
	{"RestartKeepsEverything", func(t *testing.T, b Backend) {
		a, c, db := twoStores(t, b)
		ctx := t.Context()
		x := chat(tgPlatform, "x")
		subscribe(t, a, x, chat(dcPlatform, "y"))
		if _, _, err := c.UpdateSettings(ctx, x, func(cs *bot.ChatSettings) { cs.RemindEvery = time.Hour }); err != nil {
			t.Fatal(err)
		}
		SaveDown(t, a, t0)
		row := due(t, a, tgPlatform, t0)[0]
		if err := a.Retry(ctx, row.ID, t0.Add(time.Minute), 1, "HTTP 502"); err != nil {
			t.Fatal(err)
		}
		type view struct {
			Saved     bot.Saved
			Subs      []bot.Subscription
			Settings  bot.ChatSettings
			Due       []bot.Delivery
			Backlog   map[bot.Platform]bot.Backlog
			Spans     []bot.Span
			Incidents []bot.Incident
		}
		look := func(s Store) view {
			t.Helper()
			v := view{Saved: load(t, s), Subs: subscriptions(t, s), Due: due(t, s, tgPlatform, t0.Add(time.Hour))}
			var err error
			if v.Settings, _, err = s.Settings(ctx, x); err != nil {
				t.Fatal(err)
			}
			if v.Backlog, err = s.Backlog(ctx); err != nil {
				t.Fatal(err)
			}
			if v.Spans, err = s.Spans(ctx, t0.Add(-time.Hour), t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if v.Incidents, err = s.Incidents(ctx, 10); err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := look(a)
		if len(before.Subs) != 2 || len(before.Due) != 1 || before.Due[0].Attempts != 1 || before.Settings.RemindEvery != time.Hour || len(before.Incidents) != 1 {
			t.Fatalf("before the restart %+v", before)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		after := look(reopen(t, b, a, db, Defaults()))
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("after a restart\n got %+v\nwant %+v", after, before)
		}
	}},
}
