package scenario_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// dueWatch is the real store, noting how many chats each Due was told to
// leave out: a Due made while a batch is being started leaves that batch
// out, so a count of at least a batch shows a claim made ahead.
type dueWatch struct {
	delivery.DeliveryStore
	mu      sync.Mutex
	maxBusy int
}

func (w *dueWatch) Due(ctx context.Context, p bot.Platform, now time.Time, limit int, busy map[string]bool) ([]bot.Delivery, error) {
	w.mu.Lock()
	w.maxBusy = max(w.maxBusy, len(busy))
	w.mu.Unlock()
	return w.DeliveryStore.Due(ctx, p, now, limit, busy)
}

// TestFanOutClaimedAheadGoesOutOnceThroughAPause: a fan-out to more chats
// than one claim holds (four per worker: 8 here) goes out batch after
// batch, the next claimed while the previous is being sent. The platform
// goes down in the middle: the batch claimed ahead is let go, the pause's
// trial sends come in between, and once the platform is back every chat
// gets its alert exactly once, none skipped, none twice.
func TestFanOutClaimedAheadGoesOutOnceThroughAPause(t *testing.T) {
	e := newEnv(t)
	tg := newPlatform(e.clock)
	tg.downAfter = 13
	var chats []string
	for i := range 40 {
		chats = append(chats, fmt.Sprintf("c%02d", i))
	}
	e.subscribe(tgPlatform, chats...)
	e.outage()
	p := e.policy
	p.Workers = 2
	p.PerChat = 0 // as Discord's: no per-chat gap would hold back a second send to a chat
	watch := &dueWatch{DeliveryStore: e.store}
	d := delivery.NewDispatcher(watch, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: p}}, e.clock, quiet(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{t: t, clock: e.clock, disp: d, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(l.done); d.Run(ctx) }()
	t.Cleanup(l.stop)

	l.until(time.Minute, time.Second, func() bool { return d.Platforms()[tgPlatform].State == bot.PlatformUnavailable })
	if _, delivered := tg.total(); delivered != 13 {
		t.Fatalf("%d delivered before the platform went down, want 13", delivered)
	}
	// Paused for a minute: a trial send every 4 s goes to a different chat
	// each time, into the batch claimed ahead too.
	l.advance(time.Minute, time.Second)
	tg.setDown(false)
	l.until(time.Minute, 100*time.Millisecond, func() bool { _, n := tg.total(); return n >= len(chats) })
	l.advance(10*time.Second, time.Second)
	for _, c := range chats {
		if n := tg.count(c); n != 1 {
			t.Errorf("chat %s got %d alerts, want exactly 1", c, n)
		}
	}
	for _, o := range e.outcomes() {
		if o.Status != bot.StatusSent {
			t.Errorf("row %+v, want sent", o)
		}
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if watch.maxBusy < 4*p.Workers {
		t.Errorf("no Due left out a whole batch (at most %d chats): nothing was claimed ahead", watch.maxBusy)
	}
}

// The process lifts its memory budget for a fan-out (Working) as soon as a
// batch is claimed, not once all of it is started: a batch is a second of
// sends, and under the idle budget the collector ran all that second (the
// three replicas' first second of a fan-out went at a fifth of the rate).
func TestWorkingIsToldBeforeTheBatchIsSent(t *testing.T) {
	e := newEnv(t)
	tg := newPlatform(e.clock)
	tg.hold = make(chan struct{})
	e.subscribe(tgPlatform, "1", "2", "3")
	e.outage()
	p := e.policy
	p.Workers = 1
	var working sync.WaitGroup
	working.Add(1)
	var once sync.Once
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: p}}, e.clock, quiet(), nil)
	d.Working = func(w bool) {
		if w {
			once.Do(working.Done)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); close(tg.hold); <-done }()
	select {
	case <-tg.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no send started")
	}
	told := make(chan struct{})
	go func() { working.Wait(); close(told) }()
	select {
	case <-told:
	case <-time.After(10 * time.Second):
		t.Fatal("Working was not told while the batch's first send was on its way")
	}
}
