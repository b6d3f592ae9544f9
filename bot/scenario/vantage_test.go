package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/probe"
)

// fresh is the monitors' Fresh: two of the harness's 10 s intervals.
const fresh = 20 * time.Second

// replica is one more monitor on the env's store, as another replica with
// its own PROBE_REGION would run it; leading nil: always the leader.
func (e *env) replica(name string, leading func() (int64, bool)) *monitor.Monitor {
	e.t.Helper()
	m := monitor.New(monitor.Config{Probe: e.probe.Round, Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: e.store,
		Now: e.clock.Now, Log: quiet(), Region: name, Vantage: e.store, Fresh: fresh, Leading: leading})
	if err := m.Load(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// voteRounds runs e.mon once per verdict, 10 s apart; before each, the other
// regions record the rounds of others at the same time.
func (e *env) voteRounds(others []bot.RegionRound, verdicts ...probe.Verdict) {
	e.t.Helper()
	for _, v := range verdicts {
		for _, o := range others {
			o.At = e.clock.Now()
			if err := e.store.RecordRegion(context.Background(), o); err != nil {
				e.t.Fatal(err)
			}
		}
		e.rounds(v)
	}
}

func (e *env) subscribeLang(id, lang string) {
	e.t.Helper()
	if _, err := e.store.Subscribe(context.Background(), bot.Subscription{Chat: bot.ChatRef{Platform: tgPlatform, ID: id}, Kind: "private", Lang: lang, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) status(mon *monitor.Monitor, lang string) string {
	e.t.Helper()
	svc := command.NewService(e.store, e.store, e.clock.Now, quiet(), command.WithRegions(mon.Regions))
	reply, ok := svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "asker"}, Private: true, Name: "status", Lang: lang})
	if !ok {
		e.t.Fatal("no answer to /status")
	}
	return reply.PlainText()
}

func TestSplitVantageTwoDownOneUp(t *testing.T) {
	e := newEnv(t)
	e.mon = e.replica("eu-west", nil)
	e.subscribeLang("en", "en")
	e.subscribeLang("fr", "fr")
	others := []bot.RegionRound{bottest.Region("us-east", down, t0, "media"), bottest.Region("ap-south", up, t0)}
	e.voteRounds(others, up, up) // eu-west alone sees nothing wrong: 1 down of 3 voters
	if got := e.mon.Health(time.Hour).State; got != probe.StateUp {
		t.Fatalf("state %s with one region of three down, want up", got)
	}
	if want := "Down from us-east; up from ap-south, eu-west."; !strings.Contains(e.status(e.mon, "en"), want) {
		t.Fatalf("/status %q lacks %q", e.status(e.mon, "en"), want)
	}

	e.voteRounds(others, down, down) // now two of three
	e.flush()
	for _, c := range []struct{ chat, title, line string }{
		{"en", "🔴 X is down", "Down from eu-west, us-east; up from ap-south."},
		{"fr", "🔴 X est en panne", "En panne vu de eu-west, us-east ; en ligne vu de ap-south."},
	} {
		msgs := e.tg.To(c.chat)
		if len(msgs) != 1 {
			t.Fatalf("chat %s got %d messages, want one down alert", c.chat, len(msgs))
		}
		m := msgs[0].Msg
		if m.Title != c.title || !slices.Contains(m.Lines, c.line) {
			t.Errorf("alert to %s: %q, want title %q and line %q", c.chat, m.PlainText(), c.title, c.line)
		}
		// The causes are those of both failing regions, each component once.
		var names []string
		for _, f := range m.Fields {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, []string{"web", "api", "media"}) {
			t.Errorf("alert to %s names %v, want web, api (eu-west) and media (us-east)", c.chat, names)
		}
	}
	for lang, want := range map[string]string{
		"en": "Down from eu-west, us-east; up from ap-south.",
		"fr": "En panne vu de eu-west, us-east ; en ligne vu de ap-south.",
	} {
		if got := e.status(e.mon, lang); !strings.Contains(got, want) {
			t.Errorf("/status in %s: %q lacks %q", lang, got, want)
		}
	}
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pub.Board().Regions; !slices.Equal(got, []bot.RegionVerdict{bottest.Verdict("ap-south", up), bottest.Verdict("eu-west", down), bottest.Verdict("us-east", down)}) {
		t.Errorf("board regions %v", got)
	}
	// What the store keeps of the vote: the round's verdict and the change's breakdown.
	saved, err := e.store.Load(context.Background())
	if err != nil || saved.LastRound.Verdict != down {
		t.Fatalf("saved round %+v, %v", saved.LastRound, err)
	}
}

func TestVantageUnknownRegionsAndStaleRounds(t *testing.T) {
	e := newEnv(t)
	e.mon = e.replica("eu-west", nil)
	e.subscribe(tgPlatform, "1")
	// Rounds older than two intervals are not heard: the regions that saw X
	// down a minute ago do not outvote the fresh one; they are named silent.
	for _, r := range []bot.RegionRound{bottest.Region("us-east", down, t0), bottest.Region("ap-south", down, t0)} {
		r.At = e.clock.Now().Add(-time.Minute)
		if err := e.store.RecordRegion(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	e.rounds(up, up, up)
	if got := e.mon.Health(time.Hour).State; got != probe.StateUp {
		t.Fatalf("state %s from stale rounds, want up", got)
	}
	want := []bot.RegionVerdict{bottest.Verdict("ap-south", bot.VerdictSilent), bottest.Verdict("eu-west", up), bottest.Verdict("us-east", bot.VerdictSilent)}
	if r := e.mon.Regions(); !slices.Equal(r, want) {
		t.Fatalf("breakdown %v with two stale regions, want %v", r, want)
	}
	if got, line := e.status(e.mon, "en"), "Up from eu-west; not heard from ap-south, us-east."; !strings.Contains(got, line) {
		t.Fatalf("/status %q lacks %q", got, line)
	}
	if got, line := e.status(e.mon, "fr"), "sans nouvelles de ap-south, us-east."; !strings.Contains(got, line) {
		t.Fatalf("/status %q lacks %q", got, line)
	}
	// This region's own network fails: it has no say, the others decide.
	e.voteRounds([]bot.RegionRound{bottest.Region("us-east", down, t0), bottest.Region("ap-south", down, t0)}, unknown, unknown)
	e.flush()
	if msgs := e.tg.To("1"); len(msgs) != 1 || !slices.Contains(msgs[0].Msg.Lines, "Down from ap-south, us-east; no verdict from eu-west.") {
		t.Fatalf("messages %+v, want one down alert with the breakdown", msgs)
	}
	// Every region's network fails: nothing is known, nothing changes.
	e.voteRounds([]bot.RegionRound{bottest.Region("us-east", unknown, t0), bottest.Region("ap-south", unknown, t0)}, unknown, unknown, unknown)
	e.flush()
	if n := len(e.tg.To("1")); n != 1 {
		t.Fatalf("%d messages while no region could tell, want still 1", n)
	}
	if got := e.mon.Health(time.Hour).State; got != probe.StateDown {
		t.Fatalf("state %s, want still down", got)
	}
}

// leadership is a switch the test flips, as the leader runner would.
type leadership struct {
	mu      sync.Mutex
	epoch   int64
	leading bool
}

func (l *leadership) set(epoch int64, leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch, l.leading = epoch, leading
}

func (l *leadership) get() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch, l.leading
}

// roundCount is how many rounds the store counted.
func (e *env) roundCount() int {
	e.t.Helper()
	counts, err := e.store.Uptime(context.Background(), t0.Add(-time.Hour), e.clock.Now().Add(time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func TestFollowerLoadsAndNeverSaves(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.mon = e.replica("eu-west", nil)
	var role leadership // never leading
	follower := e.replica("us-east", role.get)
	ctx := context.Background()
	e.rounds(up, down, down)
	rounds := e.roundCount()
	e.probe.verdict = up // the follower sees X up: it only records its region
	if err := follower.RunRound(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.roundCount(); n != rounds {
		t.Fatalf("the follower saved a round: %d rounds, want %d", n, rounds)
	}
	if n := len(e.outcomes()); n != 1 {
		t.Fatalf("%d outbox rows, want the leader's one", n)
	}
	h := follower.Health(time.Hour)
	if h.State != probe.StateDown || h.LastVerdict != up || !h.LastRound.Equal(e.clock.Now()) {
		t.Fatalf("follower health %+v, want the leader's down state and its own last round (up, now)", h)
	}
	if want := "Down from eu-west; up from us-east."; !strings.Contains(e.status(follower, "en"), want) {
		t.Fatalf("follower /status %q lacks %q", e.status(follower, "en"), want)
	}
	regions, err := e.store.Regions(ctx, e.clock.Now(), fresh)
	if err != nil || len(regions) != 2 || regions[1].Region != "us-east" || regions[1].Verdict != up {
		t.Fatalf("regions %+v, %v: the follower's round is not recorded", regions, err)
	}
}

// A replica that leads again after another did must start from what that
// one saved, or it announces the same change a second time.
func TestNewLeaderLoadsBeforeDeciding(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	var roleA, roleB leadership
	a := e.replica("eu-west", roleA.get)
	b := e.replica("us-east", roleB.get)
	ctx := context.Background()
	run := func(m *monitor.Monitor, verdicts ...probe.Verdict) {
		t.Helper()
		for _, v := range verdicts {
			e.probe.verdict = v
			if err := m.RunRound(ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(10 * time.Second)
		}
	}
	roleB.set(1, true)
	run(b, up, up)
	// B's host stalls (its region falls silent); A takes the lease and sees X go down.
	roleB.set(1, false)
	roleA.set(2, true)
	e.clock.Advance(fresh)
	run(a, down, down)
	if n := len(e.outcomes()); n != 1 {
		t.Fatalf("%d outbox rows after A saw X down from the state B saved, want one", n)
	}
	// A dies; B leads again, its memory still saying up.
	roleA.set(2, false)
	roleB.set(3, true)
	run(b, down, down, down)
	e.flush()
	if n := len(e.outcomes()); n != 1 {
		t.Fatalf("%d outbox rows, want one", n)
	}
	if msgs := e.tg.To("1"); len(msgs) != 1 || msgs[0].Msg.Severity != bot.SeverityDown {
		t.Fatalf("messages %+v, want one down alert", msgs)
	}
	if h := b.Health(time.Hour); h.State != probe.StateDown {
		t.Fatalf("new leader's state %s, want down", h.State)
	}
}

// fencedStore is the SQLite store behind a fence the test closes, as a
// PostgreSQL store refuses a deposed leader's writes.
type fencedStore struct {
	*store.Store
	mu     sync.Mutex
	closed bool
}

func (s *fencedStore) close() { s.mu.Lock(); s.closed = true; s.mu.Unlock() }

func (s *fencedStore) SaveRound(ctx context.Context, snap *bot.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("save round: %w", bot.ErrDeposed)
	}
	return s.Store.SaveRound(ctx, snap)
}

func TestDeposedLeaderChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	fenced := &fencedStore{Store: e.store}
	mon := monitor.New(monitor.Config{Probe: e.probe.Round, Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1}, Store: fenced,
		Now: e.clock.Now, Log: quiet(), Region: "eu-west", Vantage: fenced, Fresh: fresh})
	if err := mon.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.mon = mon
	e.rounds(up)
	fenced.close()
	e.probe.verdict = down
	if err := mon.RunRound(context.Background()); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("round of a deposed leader: %v, want ErrDeposed", err)
	}
	if h := mon.Health(time.Hour); h.State != probe.StateUp || h.LastVerdict != down {
		t.Fatalf("health %+v after a refused save, want the last saved state and its own last round", h)
	}
	if n := len(e.outcomes()); n != 0 {
		t.Fatalf("%d outbox rows from a deposed leader", n)
	}
	// Its round still counts in the vote of whoever leads now.
	regions, err := e.store.Regions(context.Background(), e.clock.Now(), 0)
	if err != nil || len(regions) != 1 || regions[0].Verdict != down || regions[0].Silent {
		t.Fatalf("regions %+v, %v: want the deposed replica's down round", regions, err)
	}
}
