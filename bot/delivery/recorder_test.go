package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

const tg bot.Platform = "telegram"

// faultyStore is a real SQLite store whose Record can be held (its first
// call waits until released), made to panic, or made to refuse rows as if
// another replica had claimed them (refused, and never due here again):
// the faults the recorder meets, done by the store, not mocked in delivery.
type faultyStore struct {
	*store.Store
	hold    chan struct{} // non-nil: the first Record waits until it is closed
	holding chan struct{} // closed once the first Record waits

	mu      sync.Mutex
	calls   []int // outcomes per Record call
	panics  int   // the next this many calls panic
	claimed map[int64]bool
}

func (s *faultyStore) Record(ctx context.Context, outs []bot.Outcome) error {
	s.mu.Lock()
	first := len(s.calls) == 0
	s.calls = append(s.calls, len(outs))
	panics := s.panics > 0
	if panics {
		s.panics--
	}
	var refused []int
	var rest []bot.Outcome
	for i, o := range outs {
		if slices.ContainsFunc(o.IDs, func(id int64) bool { return s.claimed[id] }) {
			refused = append(refused, i)
		} else {
			rest = append(rest, o)
		}
	}
	s.mu.Unlock()
	if first && s.hold != nil {
		close(s.holding)
		<-s.hold
	}
	if panics {
		panic("the store fell over")
	}
	if err := s.Store.Record(ctx, rest); err != nil {
		return err
	}
	if len(refused) > 0 {
		return &bot.RefusedError{Refused: refused, Err: fmt.Errorf("%w (claimed by r2)", bot.ErrDeposed)}
	}
	return nil
}

func (s *faultyStore) Due(ctx context.Context, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	rows, err := s.Store.Due(ctx, p, now, limit, busy)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(rows, func(d bot.Delivery) bool { return s.claimed[d.ID] }), err
}

func (s *faultyStore) recordCalls() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// fanOut is a real SQLite store with chats subscribed and a down change
// queued for each, at t0.
func fanOut(t *testing.T, chats int) *faultyStore {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := range chats {
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: tg, ID: fmt.Sprint(i + 1)}, Kind: "private", CreatedAt: t0}
		if _, err := st.Subscribe(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
	}
	storetest.SaveDown(t, st, t0)
	return &faultyStore{Store: st, claimed: map[int64]bool{}}
}

// counter is a Notifier that counts messages per chat.
type counter struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *counter) Send(_ context.Context, chat string, _ bot.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[string]int{}
	}
	c.got[chat]++
	return "m-" + chat, nil
}

// firstThenAfter sends the first message at once and holds the others
// until after is closed.
type firstThenAfter struct {
	*counter
	started atomic.Bool
	after   <-chan struct{}
}

func (g *firstThenAfter) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	if !g.started.CompareAndSwap(false, true) {
		select {
		case <-g.after:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return g.counter.Send(ctx, chat, m)
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.got {
		n += v
	}
	return n
}

func (c *counter) each(t *testing.T, chats, want int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range chats {
		if n := c.got[fmt.Sprint(i+1)]; n != want {
			t.Errorf("chat %d got %d messages, want %d", i+1, n, want)
		}
	}
}

// run runs d on ctx until the test ends.
func run(t *testing.T, d *delivery.Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func statuses(t *testing.T, s *faultyStore) map[string]bot.DeliveryStatus {
	t.Helper()
	rows, err := s.Outcomes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bot.DeliveryStatus{}
	for _, r := range rows {
		out[r.Chat.ID] = r.Status
	}
	return out
}

func allSent(t *testing.T, s *faultyStore) bool {
	for _, st := range statuses(t, s) {
		if st != bot.StatusSent {
			return false
		}
	}
	return true
}

func policy(workers int) delivery.Policy {
	return delivery.Policy{Workers: workers, MaxAttempts: 4, MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: time.Minute}
}

// The outcomes of sends that finish while a write is under way are written
// together, in the next transaction: the recorder's group commit. Each
// worker waits for its own outcome, so no send is further from the
// database than the workers.
func TestRecorderWritesTheOutcomesQueuedMeanwhileInOneTransaction(t *testing.T) {
	const chats = 8
	s := fanOut(t, chats)
	s.hold, s.holding = make(chan struct{}), make(chan struct{})
	sent := &counter{}
	// One send at once, the others once the first write holds its one
	// outcome: they finish meanwhile, whatever the scheduler does.
	gated := &firstThenAfter{counter: sent, after: s.holding}
	d := delivery.NewDispatcher(s, []delivery.Channel{{Platform: tg, Notifier: gated, Policy: policy(chats)}},
		bottest.NewClock(t0.Add(time.Minute)), slog.New(slog.DiscardHandler), nil)
	run(t, d)
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(s.hold) }) }) // before the stop: a held write would keep Run from returning
	d.Wake()
	select {
	case <-s.holding:
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome was written")
	}
	first := s.recordCalls()[0]
	if first != 1 {
		t.Fatalf("the first write took %d outcomes, want the one sent before it", first)
	}
	bottest.Eventually(t, "every worker's outcome handed over, the first write's or queued behind it", func() bool {
		return first+d.RecorderQueued() == chats
	})
	if got := sent.total(); got != chats {
		t.Fatalf("%d sent, want %d", got, chats)
	}
	release.Do(func() { close(s.hold) })
	bottest.Eventually(t, "every outcome written", func() bool { return allSent(t, s) })
	if got := s.recordCalls(); !slices.Equal(got, []int{first, chats - first}) {
		t.Errorf("outcomes per transaction %v, want [%d %d]: all queued meanwhile in the second", got, first, chats-first)
	}
	sent.each(t, chats, 1)
}

// A store that panics while the recorder writes does not end the process
// or lose the outcome: the panic is logged and counted, the chat's outcome
// is held in memory as when the store refuses, and written once the store
// works; nothing is sent twice.
func TestRecorderPanicHoldsTheOutcomeUntilWritten(t *testing.T) {
	const chats = 3
	s := fanOut(t, chats)
	s.panics = 1
	sent := &counter{}
	clk := bottest.NewClock(t0.Add(time.Minute))
	set := metrics.NewSet()
	logs := &bottest.Buffer{}
	d := delivery.NewDispatcher(s, []delivery.Channel{{Platform: tg, Notifier: sent, Policy: policy(1)}},
		clk, slog.New(slog.NewTextHandler(logs, nil)), metrics.New(set))
	run(t, d)
	d.Wake()
	bottest.Eventually(t, "the first outcome held", func() bool { return d.Platforms()[tg].Unrecorded == 1 })
	// Two timers idle: the loop (backing off the store episode) and the reporter.
	clk.RunUntil(t, 2, time.Minute, time.Second, func() bool { return allSent(t, s) })
	sent.each(t, chats, 1)
	if h := d.Platforms()[tg]; h.Unrecorded != 0 || h.StoreError != "" {
		t.Errorf("health %+v after the store recovered", h)
	}
	if !strings.Contains(logs.String(), "panic while recording delivery outcomes") {
		t.Errorf("the panic was not logged:\n%s", logs)
	}
	panics, _ := metricstest.Value(t, set, `xstatusbot_panics_total{where="recorder"}`)
	if panics != 1 {
		t.Errorf(`xstatusbot_panics_total{where="recorder"} = %v, want 1`, panics)
	}
}

// Outcomes the store refuses because another replica claimed their rows
// are dropped, not held: that replica sends them now, and holding them would
// stop this chat and start a store episode for nothing. The other outcomes
// of the same transaction are written.
func TestRefusedOutcomesAreDroppedNotHeld(t *testing.T) {
	const chats = 3
	s := fanOut(t, chats)
	rows := dueRows(t, s)
	sent := &counter{}
	logs := &bottest.Buffer{}
	refuse := make(chan struct{})
	n := &onceNotifier{counter: sent, first: func() {
		// Another replica takes chat 2 while its message is on its way.
		s.mu.Lock()
		for _, d := range rows {
			if d.Chat.ID == "2" {
				s.claimed[d.ID] = true
			}
		}
		s.mu.Unlock()
		close(refuse)
	}}
	d := delivery.NewDispatcher(s, []delivery.Channel{{Platform: tg, Notifier: n, Policy: policy(1)}},
		bottest.NewClock(t0.Add(time.Minute)), slog.New(slog.NewTextHandler(logs, nil)), nil)
	run(t, d)
	d.Wake()
	bottest.Eventually(t, "every chat sent", func() bool { return sent.total() == chats })
	bottest.Eventually(t, "chats 1 and 3 recorded", func() bool {
		st := statuses(t, s)
		return st["1"] == bot.StatusSent && st["3"] == bot.StatusSent
	})
	<-refuse
	if st := statuses(t, s)["2"]; st != bot.StatusPending {
		t.Errorf("chat 2's row %s, want pending: the replica that claimed it records it", st)
	}
	if h := d.Platforms()[tg]; h.Unrecorded != 0 || h.StoreError != "" {
		t.Errorf("health %+v: a refused outcome was held", h)
	}
	if !strings.Contains(logs.String(), "outcomes refused") {
		t.Errorf("the refusal was not logged:\n%s", logs)
	}
	sent.each(t, chats, 1)
}

// onceNotifier calls first before the first send to chat 2, then counts.
type onceNotifier struct {
	*counter
	once  sync.Once
	first func()
}

func (n *onceNotifier) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	if chat == "2" {
		n.once.Do(n.first)
	}
	return n.counter.Send(ctx, chat, m)
}

func dueRows(t *testing.T, s *faultyStore) []bot.Delivery {
	t.Helper()
	rows, err := s.Store.Due(context.Background(), tg, t0.Add(time.Minute), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
