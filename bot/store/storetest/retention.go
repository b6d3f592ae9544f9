package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

var retentionTests = []test{
	{"OutboxRetentionKeepsWhatIsStillNeeded", func(t *testing.T, b Backend) {
		inspect := inspector(t, b)
		opts := Defaults()
		opts.OutboxRetention = time.Hour
		s, _ := fresh(t, b, opts)

		rowsOf := func(c bot.ChatRef) map[int64]Row {
			m := map[int64]Row{}
			for _, o := range inspect(s).Outbox {
				if o.Chat == c {
					m[o.ChangeID] = o
				}
			}
			return m
		}
		finishPending := func(c bot.ChatRef, status bot.DeliveryStatus, msg string, at time.Time) {
			for _, o := range rowsOf(c) {
				if o.Status == bot.StatusPending {
					finish(t, s, o.ID, status, msg, at)
				}
			}
		}
		kept := func() []string {
			var out []string
			for _, o := range inspect(s).Outbox {
				out = append(out, o.Chat.ID+":"+string(o.Status)+":"+o.MessageID)
			}
			return out
		}

		// A change nobody was subscribed to: nothing refers to it once old.
		SaveDown(t, s, t0.Add(-3*time.Hour))
		a, c, d := chat(tgPlatform, "a"), chat(tgPlatform, "b"), chat(dcPlatform, "c")
		subscribe(t, s, a, c, d)

		// Incident 1, over and fully delivered: every row of it may go.
		inc1 := SaveDown(t, s, t0)
		finish(t, s, rowsOf(a)[inc1.Change.ID].ID, bot.StatusSent, "m-a1", t0)
		finish(t, s, rowsOf(c)[inc1.Change.ID].ID, bot.StatusGone, "", t0)
		finish(t, s, rowsOf(d)[inc1.Change.ID].ID, bot.StatusExpired, "", t0)
		SaveRecovery(t, s, t0.Add(time.Minute))
		finishPending(a, bot.StatusSent, "m-a1-up", t0.Add(time.Minute))
		finishPending(d, bot.StatusCoalesced, "", t0.Add(time.Minute))
		// Incident 2, over, but a's recovery still pending: it replies to m-a2.
		inc2 := SaveDown(t, s, t0.Add(10*time.Minute))
		finish(t, s, rowsOf(a)[inc2.Change.ID].ID, bot.StatusSent, "m-a2", t0.Add(10*time.Minute))
		finish(t, s, rowsOf(d)[inc2.Change.ID].ID, bot.StatusSent, "m-c2", t0.Add(10*time.Minute))
		SaveRecovery(t, s, t0.Add(20*time.Minute))
		finishPending(d, bot.StatusSent, "m-c2-up", t0.Add(20*time.Minute))
		// Incident 3, still open: its sent row is what the recovery will reply to.
		inc3 := SaveDown(t, s, t0.Add(30*time.Minute))
		finish(t, s, rowsOf(d)[inc3.Change.ID].ID, bot.StatusSent, "m-c3", t0.Add(30*time.Minute))

		before := len(inspect(s).Outbox)
		upRound(t, s, t0.Add(5*time.Hour))
		// In id order: a change's rows are written by platform, then chat.
		want := []string{
			"c:sent:m-c2", "a:sent:m-a2", // incident 2's alerts, replied to by a's pending recovery
			"c:sent:m-c2-up", "a:pending:", // incident 2's recovery
			"c:sent:m-c3", "a:pending:", // incident 3, open
		}
		if got := kept(); !slices.Equal(got, want) {
			t.Fatalf("kept rows %v, want %v (of %d)", got, want, before)
		}
		// Incident 1's two changes and the lonely one are gone; incidents stay.
		if got := inspect(s); got.Changes != 3 || got.Incidents != 4 {
			t.Errorf("changes kept %d, want 3; incidents kept %d, want all 4", got.Changes, got.Incidents)
		}
		got := due(t, s, tgPlatform, t0.Add(5*time.Hour))
		if len(got) != 2 || got[0].ReplyTo != "m-a2" || got[0].Change.Transition.To != probe.StateUp || got[1].Change.ID != inc3.Change.ID {
			t.Fatalf("due after pruning %+v", got)
		}

		// Once incident 2 is delivered, its rows go at a later pruning (a
		// store may space prunings out by up to five minutes).
		finish(t, s, got[0].ID, bot.StatusSent, "m-a2-up", t0.Add(time.Hour))
		upRound(t, s, t0.Add(5*time.Hour+5*time.Minute))
		if got, want := kept(), []string{"c:sent:m-c3", "a:pending:"}; !slices.Equal(got, want) {
			t.Fatalf("kept rows %v, want %v", got, want)
		}
		if n := inspect(s).Changes; n != 1 {
			t.Errorf("changes kept %d, want incident 3's", n)
		}
		// What is kept still works: the open incident's recovery replies to its alert.
		SaveRecovery(t, s, t0.Add(6*time.Hour))
		if d := due(t, s, dcPlatform, t0.Add(6*time.Hour)); len(d) != 1 || d[0].ReplyTo != "m-c3" {
			t.Fatalf("recovery of the open incident %+v, want a reply to m-c3", d)
		}
	}},
	{"OutboxRetentionZeroKeepsEverything", func(t *testing.T, b Backend) {
		inspect := inspector(t, b)
		opts := Defaults()
		opts.OutboxRetention = 0
		s, _ := fresh(t, b, opts)
		subscribe(t, s, chat(tgPlatform, "a"))
		SaveDown(t, s, t0)
		finish(t, s, inspect(s).Outbox[0].ID, bot.StatusExpired, "", t0)
		SaveRecovery(t, s, t0.Add(time.Minute))
		finish(t, s, inspect(s).Outbox[1].ID, bot.StatusSent, "m-up", t0.Add(time.Minute))
		upRound(t, s, t0.Add(365*24*time.Hour))
		upRound(t, s, t0.Add(366*24*time.Hour))
		if got := inspect(s); len(got.Outbox) != 2 || got.Changes != 2 {
			t.Fatalf("%d rows and %d changes left, want both kept", len(got.Outbox), got.Changes)
		}
	}},
}

// inspector is b.Inspect bound to the test; the test skips without it.
func inspector(t *testing.T, b Backend) func(Store) Contents {
	t.Helper()
	if b.Inspect == nil {
		t.Skip("the backend gives no Inspect: outbox retention is not checked")
	}
	return func(s Store) Contents {
		t.Helper()
		return b.Inspect(t, s)
	}
}
