package scenario_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/store"
)

var errPlatformDown = &bot.SendError{Class: bot.Unavailable, Err: errors.New("dial tcp 127.0.0.1:443: connect: connection refused")}

// platform is a Notifier standing for a chat service that can be taken down
// (every call fails as unreachable) and made slow (a send blocks until
// released, and counts as delivered even if the caller gave up, as real
// services do once they have the request).
type platform struct {
	clock *bottest.Clock

	mu      sync.Mutex
	down    bool
	calls   int
	callsAt []time.Time
	got     map[string][]bot.Message
	hold    chan struct{}    // non-nil: sends block until it is closed
	chatErr map[string]error // a chat whose every send fails with this
	panics  map[string]bool  // a chat whose every send panics (rendering it, say)
	chatAt  map[string][]time.Time
	held    chan struct{} // receives once per send that is blocked
	// downAfter, when set, takes the platform down once it has delivered
	// that many messages (until setDown(false)).
	downAfter int
}

func newPlatform(clock *bottest.Clock) *platform {
	return &platform{clock: clock, got: map[string][]bot.Message{}, held: make(chan struct{}, 1024)}
}

func (p *platform) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	p.mu.Lock()
	p.calls++
	p.callsAt = append(p.callsAt, p.clock.Now())
	if p.downAfter > 0 && p.deliveredLocked() >= p.downAfter {
		p.down, p.downAfter = true, 0
	}
	down, hold, chatErr, panics := p.down, p.hold, p.chatErr[chat], p.panics[chat]
	if p.chatAt == nil {
		p.chatAt = map[string][]time.Time{}
	}
	p.chatAt[chat] = append(p.chatAt[chat], p.clock.Now())
	p.mu.Unlock()
	if down {
		return "", errPlatformDown
	}
	if chatErr != nil {
		return "", chatErr
	}
	if panics {
		var lines []string
		_ = lines[len(m.Lines)+1] // an index out of range, as a rendering bug would make
	}
	if hold != nil {
		p.held <- struct{}{}
		<-hold
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got[chat] = append(p.got[chat], m)
	if err := ctx.Err(); err != nil {
		return "", err // delivered, but the caller hung up before the answer
	}
	return fmt.Sprintf("%s-%d", chat, len(p.got[chat])), nil
}

func (p *platform) setDown(v bool) { p.mu.Lock(); p.down = v; p.mu.Unlock() }

// breakChat makes every send to chat fail with err (nil: work again).
func (p *platform) breakChat(chat string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.chatErr == nil {
		p.chatErr = map[string]error{}
	}
	p.chatErr[chat] = err
}

// attempts is when each send to chat was tried, on the clock.
func (p *platform) attempts(chat string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.chatAt[chat]...)
}

func (p *platform) count(chat string) int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got[chat]) }

func (p *platform) total() (calls, delivered int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.deliveredLocked()
}

// deliveredLocked counts the messages delivered; p.mu must be held.
func (p *platform) deliveredLocked() int {
	n := 0
	for _, ms := range p.got {
		n += len(ms)
	}
	return n
}

// loop runs a dispatcher's real loop on the env's manual clock.
type loop struct {
	t      *testing.T
	clock  *bottest.Clock
	disp   *delivery.Dispatcher
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *env) runLoop(chans ...delivery.Channel) *loop {
	d := delivery.NewDispatcher(e.store, chans, e.clock, quiet(), e.metrics)
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{t: e.t, clock: e.clock, disp: d, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(l.done); d.Run(ctx) }()
	e.t.Cleanup(l.stop)
	return l
}

func (l *loop) stop() {
	l.cancel()
	<-l.done
}

// The loop and the progress reporter both wait on the clock when idle.
const idleTimers = 2

func (l *loop) idle() { l.clock.WaitIdle(l.t, idleTimers) }

// settled: the loop sleeps with no chat in flight and the reporter waits
// too. Counting timers alone is not enough: a worker that has not run yet
// holds none, and a sleep cut short by a wake-up leaves its timer behind,
// so the clock would run ahead of the loop.
func (l *loop) settled() bool { return l.disp.Settled() && l.clock.Waiters() >= idleTimers }

func (l *loop) advance(d, step time.Duration) { l.clock.RunIdle(l.t, l.settled, d, step) }
func (l *loop) until(max, step time.Duration, cond func() bool) time.Duration {
	return l.clock.RunIdleUntil(l.t, l.settled, max, step, cond)
}

// TestPlatformDownForMinutesLosesNothing: a platform unreachable for three
// minutes while X goes down: no alert expires (attempts are not spent), the
// paused platform gets a few probes, not a flood, and the backlog flows
// within 5 s of its return, once per chat.
func TestPlatformDownForMinutesLosesNothing(t *testing.T) {
	e := newEnv(t)
	tg := newPlatform(e.clock)
	tg.setDown(true)
	chats := []string{"1", "2", "3", "4", "5"}
	e.subscribe(tgPlatform, chats...)
	e.outage()
	l := e.runLoop(delivery.Channel{Platform: tgPlatform, Notifier: tg, Policy: e.policy})
	l.advance(3*time.Minute, time.Second)

	calls, delivered := tg.total()
	if delivered != 0 {
		t.Fatalf("delivered %d while the platform was down", delivered)
	}
	// Three failures pause it (sends already in flight fail too), then one
	// probe after 1 s, 2 s, then every 4 s: once settled, never faster.
	tg.mu.Lock()
	at := append([]time.Time(nil), tg.callsAt...)
	tg.mu.Unlock()
	for i := 1; i < len(at); i++ {
		if at[i].Sub(at[0]) > 10*time.Second && at[i].Sub(at[i-1]) < delivery.DefaultTrialMax {
			t.Fatalf("calls %s and %s into the outage: probes closer than %s", at[i-1].Sub(at[0]), at[i].Sub(at[0]), delivery.DefaultTrialMax)
		}
	}
	// Each chat may be tried once before the pause, then the probes.
	if calls > len(chats)+2+180/int(delivery.DefaultTrialMax/time.Second)+2 {
		t.Fatalf("%d calls to a platform down for 3 minutes, want a probe every 4 s at most", calls)
	}
	if h := l.disp.Platforms()[tgPlatform]; h.State != bot.PlatformUnavailable || h.PausedSince.IsZero() {
		t.Fatalf("platform health %+v, want unavailable and paused", h)
	}
	for _, o := range e.outcomes() {
		if o.Status != bot.StatusPending || o.Attempts >= e.policy.MaxAttempts {
			t.Fatalf("row %+v: the outage spent its attempts", o)
		}
	}

	tg.setDown(false)
	first := l.until(10*time.Second, 100*time.Millisecond, func() bool { _, n := tg.total(); return n > 0 })
	if first > 5*time.Second {
		t.Fatalf("first alert %s after the platform came back, want within 5 s", first)
	}
	l.until(time.Minute, 100*time.Millisecond, func() bool { _, n := tg.total(); return n == len(chats) })
	l.advance(time.Minute, time.Second)
	for _, c := range chats {
		if n := tg.count(c); n != 1 {
			t.Fatalf("chat %s got %d alerts, want 1", c, n)
		}
	}
	if h := l.disp.Platforms()[tgPlatform]; h.State != bot.PlatformReady {
		t.Fatalf("platform health %+v after recovery, want ready", h)
	}
}

// TestOneBrokenChatDoesNotPauseThePlatform: a chat whose sends always fail
// as unavailable, among healthy ones, is retried on its own backoff while
// the others are delivered.
func TestOneBrokenChatDoesNotPauseThePlatform(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, _ int) error {
		if chat == "broken" {
			return errPlatformDown
		}
		return nil
	}
	e.subscribe(tgPlatform, "broken", "a", "b", "c", "d")
	e.outage()
	for range 120 { // an hour, looked at every 30 s
		e.flush()
		e.clock.Advance(30 * time.Second)
	}
	for _, c := range []string{"a", "b", "c", "d"} {
		if n := len(e.tg.To(c)); n != 1 {
			t.Fatalf("healthy chat %s got %d, want 1", c, n)
		}
	}
	// Its wait doubles up to BackoffMax (1 min here), attempts untouched.
	if n := e.tg.Calls("broken"); n < 2 || n > 70 {
		t.Fatalf("broken chat tried %d times in an hour, want retries that slow down (at most ~1 a minute)", n)
	}
	for _, o := range e.outcomes() {
		if o.Chat.ID == "broken" && (o.Status != bot.StatusPending || o.Attempts != 0) {
			t.Fatalf("broken chat's row %+v: want pending with no attempt spent (it expires by age only)", o)
		}
	}
}

// TestSigtermMidSendFinishesAndRecords: the stop comes while a send is in
// flight on a slow platform: the send completes (the stop does not cancel
// it), its outcome is recorded, and a restart sends nothing again.
func TestSigtermMidSendFinishesAndRecords(t *testing.T) {
	e := newEnv(t)
	tg := newPlatform(e.clock)
	tg.hold = make(chan struct{})
	e.subscribe(tgPlatform, "1")
	e.outage()
	l := e.runLoop(delivery.Channel{Platform: tgPlatform, Notifier: tg, Policy: e.policy})
	select {
	case <-tg.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no send started")
	}
	l.cancel()     // SIGTERM
	close(tg.hold) // the platform answers after the stop
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("dispatcher did not stop")
	}
	if n := tg.count("1"); n != 1 {
		t.Fatalf("got %d, want 1", n)
	}
	out := e.outcomes()
	if len(out) != 1 || out[0].Status != bot.StatusSent {
		t.Fatalf("outcome %+v, want sent", out)
	}
	e.restart()
	tg.hold = nil
	e.disp = delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: e.policy}}, e.clock, quiet(), nil)
	e.flush()
	if n := tg.count("1"); n != 1 {
		t.Fatalf("after restart chat got %d, want still 1", n)
	}
}

// stuckSend is a platform that never answers: the send returns only when
// its context is cancelled.
var stuckSend = bot.NotifierFunc(func(ctx context.Context, chat string, m bot.Message) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
})

// TestShutdownGraceBoundsAStuckSend: a send that never returns is cancelled
// once the grace is over, and the row stays pending for the next run.
func TestShutdownGraceBoundsAStuckSend(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.outage()
	l := e.runLoop(delivery.Channel{Platform: tgPlatform, Notifier: stuckSend, Policy: e.policy})
	l.idle()
	l.cancel()
	// The grace runs on the manual clock: the send stays until it passes.
	l.idle()
	select {
	case <-l.done:
		t.Fatal("stopped before the grace was over")
	case <-time.After(50 * time.Millisecond):
	}
	l.clock.Advance(delivery.DefaultShutdownGrace)
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a stuck send held the stop past the grace")
	}
	out := e.outcomes()
	if len(out) != 1 || out[0].Status != bot.StatusPending || out[0].Attempts != 0 {
		t.Fatalf("outcome %+v, want pending with no attempt spent", out)
	}
}

// TestStoreRefusingWritesNeverResends: another connection holds SQLite's
// write lock past busy_timeout while alerts go out. The platform accepts
// them, the store cannot record them: they are kept in memory and never sent
// again, the episode is logged once, /healthz sees it, and once the lock is
// released the outcomes are written and nothing more is sent, also after a
// restart.
func TestStoreRefusingWritesNeverResends(t *testing.T) {
	e := newEnv(t)
	e.opts = []store.Option{store.WithBusyTimeout(20 * time.Millisecond)}
	e.restart()
	tg := newPlatform(e.clock)
	chats := []string{"1", "2", "3"}
	e.subscribe(tgPlatform, chats...)
	e.outage()

	locker, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(20)")
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()

	logs := &bottest.Buffer{}
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: e.policy}}, e.clock,
		slog.New(slog.NewTextHandler(logs, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	e.clock.RunUntil(t, idleTimers, time.Minute, time.Second, func() bool { _, n := tg.total(); return n == len(chats) })
	e.clock.Run(t, idleTimers, 2*time.Minute, time.Second) // the store keeps refusing
	h := d.Platforms()[tgPlatform]
	if h.Unrecorded != len(chats) || h.StoreError == "" {
		t.Fatalf("health %+v, want %d outcomes held and the store error", h, len(chats))
	}
	for _, o := range e.outcomes() {
		if o.Status != bot.StatusPending {
			t.Fatalf("row %+v recorded through a held lock?", o)
		}
	}

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	e.clock.RunUntil(t, idleTimers, time.Minute, time.Second, func() bool { return d.Platforms()[tgPlatform].Unrecorded == 0 })
	for _, o := range e.outcomes() {
		if o.Status != bot.StatusSent {
			t.Fatalf("row %+v not recorded as sent after the lock was released", o)
		}
	}
	for _, c := range chats {
		if n := tg.count(c); n != 1 {
			t.Fatalf("chat %s got %d alerts, want exactly 1", c, n)
		}
	}
	if n := strings.Count(logs.String(), "store failing"); n != 1 {
		t.Fatalf("%d 'store failing' lines, want one per episode:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "store recovered") {
		t.Fatalf("no recovery line:\n%s", logs)
	}
	cancel()
	<-done
	e.restart()
	e.disp = delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: e.policy}}, e.clock, quiet(), nil)
	e.flush()
	if _, n := tg.total(); n != len(chats) {
		t.Fatalf("%d alerts after a restart, want still %d", n, len(chats))
	}
}

// The dispatcher tells when delivery starts and when it has gone idle, once
// per fan-out, not once per message: the process lifts its memory budget
// for that time (cmd/xstatusbot).
func TestWorkingIsToldAtTheStartAndTheEndOfAFanOut(t *testing.T) {
	e := newEnv(t)
	tg := newPlatform(e.clock)
	chats := []string{"1", "2", "3", "4", "5", "6", "7", "8"}
	e.subscribe(tgPlatform, chats...)
	var (
		mu  sync.Mutex
		got []bool
	)
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: tg, Policy: e.policy}}, e.clock, quiet(), nil)
	d.Working = func(w bool) { mu.Lock(); got = append(got, w); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	l := &loop{t: t, clock: e.clock, disp: d, cancel: cancel, done: done}
	transitions := func() []bool { mu.Lock(); defer mu.Unlock(); return append([]bool(nil), got...) }

	l.advance(5*time.Second, time.Second)
	if w := transitions(); len(w) != 0 {
		t.Fatalf("Working told %v with nothing to send", w)
	}
	e.outage()
	d.Wake()
	l.until(time.Minute, time.Second, func() bool { _, n := tg.total(); return n == len(chats) })
	l.advance(5*time.Second, time.Second)
	if w := transitions(); len(w) != 2 || !w[0] || w[1] {
		t.Fatalf("Working told %v over one fan-out to %d chats, want [true false]", w, len(chats))
	}
}

// A deposed leader's dispatcher lets the send already on its way finish and
// records it: the platform may have taken the message, and a row left
// pending would be sent again by the next leader once this replica hands
// its claims back. Nothing new starts after the stop.
func TestDeposedStopRecordsTheSendInFlight(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1", "2")
	e.outage()
	started, release := make(chan string, 2), make(chan struct{})
	slow := bot.NotifierFunc(func(ctx context.Context, chat string, m bot.Message) (string, error) {
		started <- chat
		select {
		case <-release:
			return "m-" + chat, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	p := e.policy
	p.Workers = 1
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: slow, Policy: p}}, e.clock, quiet(), nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(nil); <-done }()
	var first string
	select {
	case first = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no send started")
	}
	cancel(fmt.Errorf("lease lost: %w", bot.ErrDeposed))
	select {
	case <-done:
		t.Fatal("a deposed dispatcher returned with its send in flight unrecorded")
	case <-time.After(100 * time.Millisecond): // it waits for the send (on the grace timer)
	}
	close(release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher did not return once its send finished")
	}
	select {
	case other := <-started:
		t.Fatalf("chat %s was sent to after the stop", other)
	default:
	}
	for _, o := range e.outcomes() {
		switch {
		case o.Chat.ID == first && (o.Status != bot.StatusSent || o.MessageID != "m-"+first):
			t.Fatalf("the send in flight ended %+v, want recorded as sent", o)
		case o.Chat.ID != first && (o.Status != bot.StatusPending || o.Attempts != 0):
			t.Fatalf("the chat not started ended %+v, want pending with no attempt spent", o)
		}
	}
}
