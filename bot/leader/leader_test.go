package leader_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/leader"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
)

// lease is one lease row shared by replicas, on the test's clock: what the
// PostgreSQL lease does with now(), without the database (bot/store
// tests the SQL itself).
type lease struct {
	clock *bottest.Clock
	mu    sync.Mutex
	term  bot.Term
	until time.Time
}

// replica is one replica's view of the lease; down makes its calls fail
// as they would with the database out of reach.
type replica struct {
	*lease
	holder string
	down   bool
	// hold, while set, keeps Acquire waiting until it is closed: the test
	// looks at the replica between two of its terms.
	hold chan struct{}
}

var errUnreachable = errors.New("database unreachable")

func (r *replica) setDown(v bool) { r.mu.Lock(); r.down = v; r.mu.Unlock() }

func (r *replica) Acquire(ctx context.Context, ttl time.Duration) (bot.Term, bool, error) {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return bot.Term{}, false, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return bot.Term{}, false, errUnreachable
	}
	now := r.clock.Now()
	if r.term.Holder != r.holder && now.Before(r.until) {
		return bot.Term{}, false, nil
	}
	if r.term.Holder != r.holder || !now.Before(r.until) {
		r.term = bot.Term{Holder: r.holder, Epoch: r.term.Epoch + 1}
	}
	r.until = now.Add(ttl)
	return r.term, true, nil
}

func (r *replica) Release(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errUnreachable
	}
	if r.term.Holder == r.holder {
		r.until = r.clock.Now()
	}
	return nil
}

// work records which replica works when, on the test clock.
type work struct {
	mu  sync.Mutex
	now []string // replicas working now
	log []string // "a+" started, "a-" stopped
	max int
}

func (w *work) run(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		w.mu.Lock()
		w.now = append(w.now, name)
		w.log = append(w.log, name+"+")
		w.max = max(w.max, len(w.now))
		w.mu.Unlock()
		<-ctx.Done()
		w.mu.Lock()
		for i, n := range w.now {
			if n == name {
				w.now = append(w.now[:i], w.now[i+1:]...)
				break
			}
		}
		w.log = append(w.log, name+"-")
		w.mu.Unlock()
		return ctx.Err()
	}
}

func (w *work) working() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.now...)
}

// waitWorking waits (in real time: the work runs on its own goroutine)
// until exactly the replicas in want work.
func (w *work) waitWorking(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := w.working()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("working = %v, want %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *work) maxAtOnce() int { w.mu.Lock(); defer w.mu.Unlock(); return w.max }

type leaderRun struct {
	l      *leader.Leader
	set    *vm.Set
	cancel context.CancelFunc
	done   chan error
}

func startLeader(t *testing.T, clock *bottest.Clock, r *replica, w *work) *leaderRun {
	t.Helper()
	set := metrics.NewSet()
	lr := &leaderRun{
		l: &leader.Leader{Lease: r, Clock: clock, TTL: 9 * time.Second, Every: 3 * time.Second,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(set)},
		set: set, done: make(chan error, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	lr.cancel = cancel
	go func() { lr.done <- lr.l.Run(ctx, w.run(r.holder)) }()
	t.Cleanup(func() { cancel(); <-lr.done })
	return lr
}

func (lr *leaderRun) stop(t *testing.T) {
	t.Helper()
	lr.cancel()
	if err := <-lr.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	lr.done <- nil // for the cleanup
}

// pair is two replicas sharing one lease: a starts first and takes it.
type pair struct {
	clock *bottest.Clock
	w     *work
	ra    *replica // a's view of the lease, to cut it off
	a, b  *leaderRun
}

func startPair(t *testing.T) *pair {
	clock := bottest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	l := &lease{clock: clock}
	p := &pair{clock: clock, w: &work{}, ra: &replica{lease: l, holder: "a"}}
	p.a = startLeader(t, clock, p.ra, p.w)
	clock.WaitIdle(t, 1)
	p.b = startLeader(t, clock, &replica{lease: l, holder: "b"}, p.w)
	return p
}

func TestLeaderOneAtATimeAndHandOverOnStop(t *testing.T) {
	p := startPair(t)
	clock, w, a, b := p.clock, p.w, p.a, p.b
	clock.Run(t, 2, 30*time.Second, time.Second)
	w.waitWorking(t, "a") // a took the lease first and renews it
	if _, leading := b.l.Status(); leading {
		t.Fatal("b says it leads while a holds the lease")
	}
	if term, leading := a.l.Status(); !leading || term.Epoch != 1 {
		t.Fatalf("a: term %+v leading %v, want epoch 1 for 30 s of renewals", term, leading)
	}

	// A graceful stop releases the lease: b takes over at its next try,
	// not after the lease's 9 s.
	a.stop(t)
	took := clock.RunUntil(t, 1, 10*time.Second, time.Second, func() bool { _, ok := b.l.Status(); return ok })
	if took > 3*time.Second {
		t.Fatalf("b took over %s after a stopped, want within one campaign period (3 s)", took)
	}
	if term, _ := b.l.Status(); term.Epoch != 2 || term.Holder != "b" {
		t.Fatalf("b's term = %+v, want epoch 2 held by b", term)
	}
	w.waitWorking(t, "b")
	if w.maxAtOnce() != 1 {
		t.Fatalf("%d replicas worked at once, want 1", w.maxAtOnce())
	}
	assertLeaderMetrics(t, a.set, 0, 1, 1)
	assertLeaderMetrics(t, b.set, 1, 1, 0)
}

func assertLeaderMetrics(t *testing.T, set *vm.Set, leader float64, gained, lost int) {
	t.Helper()
	if typ := metricstest.Type(t, set, "xstatusbot_leader"); typ != "gauge" {
		t.Errorf("TYPE of xstatusbot_leader %q, want gauge", typ)
	}
	if got, want := metricstest.Family(t, set, "xstatusbot_leader"), map[string]float64{"xstatusbot_leader": leader}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("xstatusbot_leader series %v, want %v", got, want)
	}
	changes := map[string]int{"gained": gained, "lost": lost}
	got := map[string]int{}
	for k := range changes {
		v, _ := metricstest.Value(t, set, metrics.Name("xstatusbot_leadership_changes_total", "change", k))
		got[k] = int(v)
	}
	for k, v := range changes {
		if got[k] != v {
			t.Errorf("xstatusbot_leadership_changes_total{change=%q} = %d, want %d", k, got[k], v)
		}
	}
}

// The leader loses the database (or its host is cut off): it stops its
// work before its lease expires, and only then may another replica lead.
func TestLeaderCutOffStepsDownBeforeTheLeaseExpires(t *testing.T) {
	p := startPair(t)
	clock, w, ra, a, b := p.clock, p.w, p.ra, p.a, p.b
	clock.Run(t, 2, 6*time.Second, time.Second)

	ra.setDown(true)
	cut := clock.Now()
	var aStopped, bStarted time.Duration
	clock.RunUntil(t, 2, 30*time.Second, time.Second, func() bool {
		_, aLeads := a.l.Status()
		_, bLeads := b.l.Status()
		if !aLeads && aStopped == 0 {
			aStopped = clock.Now().Sub(cut)
		}
		if bLeads && bStarted == 0 {
			bStarted = clock.Now().Sub(cut)
		}
		return bStarted > 0
	})
	if aStopped == 0 || aStopped >= bStarted {
		t.Fatalf("a stopped %s after the cut, b started %s after: a must stop first", aStopped, bStarted)
	}
	if bStarted > 9*time.Second+3*time.Second {
		t.Fatalf("b took over %s after the cut, want within the lease and one campaign period (12 s)", bStarted)
	}
	if w.maxAtOnce() != 1 {
		t.Fatalf("%d replicas worked at once, want 1", w.maxAtOnce())
	}
	if term, _ := b.l.Status(); term.Epoch != 2 {
		t.Fatalf("b's epoch = %d, want 2: the fence moved", term.Epoch)
	}

	// a's database comes back: a follows, it does not take the lease back.
	ra.setDown(false)
	clock.Run(t, 2, 12*time.Second, time.Second)
	w.waitWorking(t, "b")
}

// SIGKILL: the leader vanishes without releasing; another replica takes
// over once the lease expires.
func TestLeaderKilledIsReplacedWhenTheLeaseExpires(t *testing.T) {
	p := startPair(t)
	clock, ra, a, b := p.clock, p.ra, p.a, p.b
	clock.Run(t, 2, 4*time.Second, time.Second)
	ra.setDown(true) // it can neither renew nor release
	a.cancel()
	<-a.done
	a.done <- nil
	killed := clock.Now()
	took := clock.RunUntil(t, 1, 20*time.Second, time.Second, func() bool { _, ok := b.l.Status(); return ok })
	if took > 12*time.Second {
		t.Fatalf("b took over %s after the kill, want within 12 s (lease 9 s + one period)", took)
	}
	t.Logf("takeover %s after the kill (lease renewed at most 3 s before it)", clock.Now().Sub(killed))
}

func TestLeaderWorkFailingEndsRun(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	r := &replica{lease: &lease{clock: clock}, holder: "a"}
	l := &leader.Leader{Lease: r, Clock: clock, TTL: 9 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	refused := errors.New("telegram: token refused")
	err := l.Run(context.Background(), func(context.Context) error { return refused })
	if !errors.Is(err, refused) {
		t.Fatalf("Run = %v, want the work's error", err)
	}
	if _, leading := l.Status(); leading {
		t.Fatal("still says it leads after its work failed")
	}
}

// hangingLease answers the first Acquire, then hangs every call until its
// context ends, as a renewal stuck behind a stalled database does.
type hangingLease struct {
	calls atomic.Int32
}

func (h *hangingLease) Acquire(ctx context.Context, _ time.Duration) (bot.Term, bool, error) {
	if h.calls.Add(1) == 1 {
		return bot.Term{Holder: "a", Epoch: 1}, true, nil
	}
	<-ctx.Done()
	return bot.Term{}, false, ctx.Err()
}
func (h *hangingLease) Release(context.Context) error { return nil }

// The fence closes TTL−Every after the START of the last successful
// renewal, while a renewal call is still hanging: the dispatcher asks it
// before each send, so nothing is sent past that point.
func TestLeaderFenceClosesWhileARenewalHangs(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	h := &hangingLease{}
	l := &leader.Leader{Lease: h, Clock: clock, TTL: 9 * time.Second, Every: 3 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- l.Run(ctx, func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })
	}()
	defer func() { cancel(); <-done }()
	<-started
	renewedAt := clock.Now()
	if err := l.Fence(clock.Now()); err != nil {
		t.Fatalf("fence right after taking the lease: %v", err)
	}
	clock.WaitIdle(t, 1)
	clock.Advance(3 * time.Second) // the renewal starts, and hangs
	for h.calls.Load() < 2 {
		time.Sleep(time.Millisecond) // polling: the renewal is on Run's goroutine
	}
	clock.Advance(3*time.Second - time.Millisecond)
	if err := l.Fence(clock.Now()); err != nil {
		t.Fatalf("fence %v after the renewal's start: %v, want open", clock.Now().Sub(renewedAt), err)
	}
	clock.Advance(time.Millisecond)
	if err := l.Fence(clock.Now()); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("fence %v after the last renewal's start, with a renewal hanging: %v, want ErrDeposed", clock.Now().Sub(renewedAt), err)
	}
}

// Depose (a store refused a leader write) closes the fence at once and
// stops the work without waiting for the next renewal.
func TestLeaderDeposeStopsAtOnce(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	r := &replica{lease: &lease{clock: clock}, holder: "a"}
	l := &leader.Leader{Lease: r, Clock: clock, TTL: 9 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w := &work{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, w.run("a")) }()
	defer func() { cancel(); <-done }()
	w.waitWorking(t, "a")
	// The next term waits until the deposed one has been looked at: else the
	// replica may lead again before the fence is read.
	hold := make(chan struct{})
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
	l.Depose(fmt.Errorf("claim lost: %w", bot.ErrDeposed))
	if err := l.Fence(clock.Now()); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("fence after Depose: %v", err)
	}
	// No clock advance: the work stops on Depose alone. The replica then
	// campaigns as any other; here the lease is free, so it leads again
	// under a new epoch (its released term is over).
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		stopped := slices.Contains(w.log, "a-")
		w.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the work did not stop on Depose")
		}
		time.Sleep(time.Millisecond) // polling: the work runs on its own goroutine
	}
	if err := l.Fence(clock.Now()); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("fence after the work stopped, before a new term: %v", err)
	}
	close(hold)
	w.waitWorking(t, "a")
	if term, _ := l.Status(); term.Epoch < 2 {
		t.Fatalf("term after Depose %+v: a new term needs a new epoch", term)
	}
}

// A renewal that comes back under a new epoch (the lease lapsed and this
// replica took it again) ends the old term's work and starts a new one,
// keeping the lease: the old term's decisions and claims are over.
func TestLeaderNewEpochRestartsTheWork(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	ls := &lease{clock: clock}
	r := &replica{lease: ls, holder: "a"}
	w := &work{}
	lr := startLeader(t, clock, r, w)
	w.waitWorking(t, "a")
	ls.mu.Lock()
	ls.term.Epoch = 7 // lapsed and taken again, as the store would report it
	ls.mu.Unlock()
	clock.RunUntil(t, 1, 10*time.Second, time.Second, func() bool { term, ok := lr.l.Status(); return ok && term.Epoch == 7 })
	w.waitWorking(t, "a")
	w.mu.Lock()
	log := slices.Clone(w.log)
	w.mu.Unlock()
	if !slices.Equal(log, []string{"a+", "a-", "a+"}) {
		t.Fatalf("work log %v, want the first term's work stopped and a new one started", log)
	}
	ls.mu.Lock()
	held := ls.term.Holder == "a" && clock.Now().Before(ls.until)
	ls.mu.Unlock()
	if !held {
		t.Fatal("the lease was released on a new epoch of this replica's own")
	}
}
