package storetest

import (
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names as the adapters own them: bot names none.
const (
	tgPlatform bot.Platform = "telegram"
	dcPlatform bot.Platform = "discord"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// leaseTTL is long enough that no test outlives the lease it took.
const leaseTTL = 10 * time.Minute

// open opens a store on db and closes it at cleanup. A store that fences
// leader writes (a bot.Lease) saves rounds and claims outbox rows only while
// it holds the lease: it tries to take it here, so the first store on a
// database leads and a second one, finding it held, follows.
func open(t *testing.T, b Backend, db string, opts Options) Store {
	t.Helper()
	s := b.Open(t, db, opts)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if l, ok := s.(bot.Lease); ok {
		if _, _, err := l.Acquire(t.Context(), leaseTTL); err != nil {
			t.Fatalf("take the leader lease: %v", err)
		}
	}
	return s
}

// fresh opens a store on a new database and returns the database too.
func fresh(t *testing.T, b Backend, opts Options) (Store, string) {
	t.Helper()
	db := b.NewDB(t)
	return open(t, b, db, opts), db
}

// reopen closes s and opens a new store on db: a restart. A leader gives
// its lease up first, as at a clean stop, so the new store can lead.
func reopen(t *testing.T, b Backend, s Store, db string, opts Options) Store {
	t.Helper()
	if l, ok := s.(bot.Lease); ok {
		if err := l.Release(t.Context()); err != nil {
			t.Fatalf("release the leader lease: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	return open(t, b, db, opts)
}

func chat(p bot.Platform, id string) bot.ChatRef { return bot.ChatRef{Platform: p, ID: id} }

// subscribe subscribes chats in order, each a nanosecond after the previous.
func subscribe(t *testing.T, s Store, chats ...bot.ChatRef) {
	t.Helper()
	for i, c := range chats {
		if _, err := s.Subscribe(t.Context(), bot.Subscription{Chat: c, Kind: "private", Group: "g-" + c.ID, CreatedAt: t0.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// DownRound is a round in which the api target fails with HTTP 503.
func DownRound(at time.Time) probe.Round {
	return probe.Round{Start: at, Verdict: probe.VerdictDown, Targets: []probe.Result{{Target: "api", Class: probe.ClassStatus, Detail: "HTTP 503", Status: 503}}}
}

// DownSnapshot is a down round with an up→down change opening an incident.
func DownSnapshot(at time.Time) *bot.Snapshot {
	tr := probe.Transition{From: probe.StateUp, To: probe.StateDown, At: at, Began: at.Add(-time.Second)}
	return &bot.Snapshot{
		Round:    DownRound(at),
		Status:   probe.Status{State: probe.StateDown, Since: at},
		Incident: &bot.Incident{Start: tr.Began, Worst: probe.StateDown, Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}},
		Change:   &bot.Change{Transition: tr, Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}},
	}
}

// SaveDown saves DownSnapshot(at) and returns it.
func SaveDown(t testing.TB, s bot.StateStore, at time.Time) *bot.Snapshot {
	t.Helper()
	snap := DownSnapshot(at)
	if err := s.SaveRound(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// SaveRecovery closes the open incident with a down→up change.
func SaveRecovery(t testing.TB, s bot.StateStore, at time.Time) *bot.Snapshot {
	t.Helper()
	saved, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if saved.Incident == nil {
		t.Fatal("no incident to recover from")
	}
	inc := *saved.Incident
	inc.End = at
	snap := &bot.Snapshot{
		Round:    probe.Round{Start: at, Verdict: probe.VerdictUp},
		Status:   probe.Status{State: probe.StateUp, Since: at},
		Incident: &inc,
		Change:   &bot.Change{Transition: probe.Transition{From: probe.StateDown, To: probe.StateUp, At: at, Began: at}},
	}
	if err := s.SaveRound(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// upRound saves a round without a change; it is what triggers pruning.
func upRound(t testing.TB, s Store, at time.Time) {
	t.Helper()
	snap := &bot.Snapshot{Round: probe.Round{Start: at, Verdict: probe.VerdictUp}, Status: probe.Status{State: probe.StateUp, Since: at}}
	if err := s.SaveRound(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
}

// saveAs saves a round at t0+at with a verdict that leaves the announced
// state at state.
func saveAs(t *testing.T, s Store, at time.Duration, v probe.Verdict, state probe.State) {
	t.Helper()
	snap := &bot.Snapshot{Round: probe.Round{Start: t0.Add(at), Verdict: v}, Status: probe.Status{State: state, Since: t0}}
	if err := s.SaveRound(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
}

func span(st probe.State, from, to time.Duration) bot.Span {
	return bot.Span{State: st, From: t0.Add(from), To: t0.Add(to)}
}

// due is the pending rows of up to 100 chats of p due at now.
func due(t *testing.T, s Store, p bot.Platform, now time.Time) []bot.Delivery {
	t.Helper()
	d, err := s.Due(t.Context(), p, now, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func subscriptions(t *testing.T, s Store) []bot.Subscription {
	t.Helper()
	subs, err := s.Subscriptions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

func load(t *testing.T, s Store) bot.Saved {
	t.Helper()
	saved, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func finish(t *testing.T, s Store, id int64, status bot.DeliveryStatus, msg string, at time.Time) {
	t.Helper()
	if err := s.Finish(t.Context(), []int64{id}, status, msg, "", at); err != nil {
		t.Fatal(err)
	}
}
