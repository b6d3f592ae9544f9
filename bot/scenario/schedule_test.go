package scenario_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

func TestParseSchedule(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		spec string
		gap  time.Duration
		err  string
	}{
		{"@every 30s", 30 * time.Second, ""},
		{"*/5 * * * *", 5 * time.Minute, ""},
		{"@hourly", time.Hour, ""},
		{"every 30s", 0, "invalid schedule"},
		{"* * * * * *", 0, "invalid schedule"}, // six fields need WithSeconds
		{"@every -1s", 0, "invalid schedule"},
		{"", 0, "invalid schedule"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := monitor.ParseSchedule(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := monitor.Interval(s, now); got != tt.gap {
				t.Fatalf("interval %s, want %s", got, tt.gap)
			}
		})
	}
}

// paced runs monitor.RunSchedule on a manual clock and tells the test when
// each round starts and ends, so the test can move the clock from one
// timer to the next as time would pass.
type paced struct {
	t       *testing.T
	clk     *bottest.Clock
	started chan time.Time
	ended   chan int // the clock's pending timers when the round ended
	stop    func()
}

// runPaced starts the schedule with round as its job; round reports
// whether a change is pending. The first round runs at once.
func runPaced(t *testing.T, clk *bottest.Clock, spec string, confirm time.Duration, round func() bool) *paced {
	s, err := monitor.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := &paced{t: t, clk: clk, started: make(chan time.Time, 1), ended: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pace := monitor.Pace{Schedule: s, ConfirmDelay: confirm, MaxConfirm: 3, Clock: clk, Log: quiet()}
		monitor.RunSchedule(ctx, pace, func() bool {
			p.started <- clk.Now()
			pending := round()
			p.ended <- clk.Waiters()
			return pending
		}, time.Second)
	}()
	p.stop = func() {
		cancel()
		for { // a round waiting on the clock, or the shutdown grace, needs time to pass
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				clk.Advance(time.Second)
			}
		}
	}
	t.Cleanup(p.stop)
	return p
}

// next lets the running round end, then moves the clock timer by timer
// (the requests' deadlines among them) until the schedule starts the next
// round, and returns when that round started.
func (p *paced) next() time.Time {
	p.t.Helper()
	var n int
	select {
	case n = <-p.ended:
	case <-time.After(30 * time.Second):
		p.t.Fatal("the round did not end")
	}
	// The schedule's own timer comes on top of what the round left.
	p.clk.WaitIdle(p.t, n+1)
	for {
		select {
		case at := <-p.started:
			return at
		default:
		}
		at, ok := p.clk.Next()
		if !ok {
			select {
			case at := <-p.started:
				return at
			case <-time.After(30 * time.Second):
				p.t.Fatal("no timer pending and no round started")
			}
		}
		p.clk.Advance(at.Sub(p.clk.Now()))
		select {
		case at := <-p.started:
			return at
		case <-time.After(20 * time.Millisecond): // a timer of a request already over: nothing woke
		}
	}
}

func (p *paced) first() time.Time {
	p.t.Helper()
	select {
	case at := <-p.started:
		return at
	case <-time.After(30 * time.Second):
		p.t.Fatal("the first round did not start")
		return time.Time{}
	}
}

// TestConfirmingRoundComesAfterTheConfirmDelay: @every 30s with a 5 s
// confirmation delay. X fails from 40 s on: the round of the 60 s tick sees
// it, the confirming round 5 s later (not at the 90 s tick) makes it down,
// and the schedule resumes at 90 s. The same for the recovery. The alert
// gives the time of the first failing round.
func TestConfirmingRoundComesAfterTheConfirmDelay(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	shape := func(at time.Duration) probe.Verdict {
		if at >= 40*time.Second && at < 100*time.Second {
			return down
		}
		return up
	}
	p := runPaced(t, e.clock, "@every 30s", 5*time.Second, func() bool {
		e.probe.verdict = shape(e.clock.Now().Sub(t0))
		if err := e.mon.RunRound(context.Background()); err != nil {
			t.Error(err)
		}
		e.flush()
		return e.mon.Undecided()
	})
	starts := []time.Time{p.first()}
	for range 7 {
		starts = append(starts, p.next())
	}
	p.stop()
	want := []time.Duration{0, 30 * time.Second, 60 * time.Second, 65 * time.Second, 90 * time.Second,
		120 * time.Second, 125 * time.Second, 150 * time.Second}
	if got := offsets(starts, t0); !slices.Equal(got, want) {
		t.Fatalf("rounds at %v, want %v", got, want)
	}
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down", "back up")
	if m := e.tg.To("1")[0].Msg; !strings.Contains(m.PlainText(), "Since 2026-01-30 09:01:00 UTC") {
		t.Fatalf("the alert should give the first failing round (09:01:00), not the confirmation: %q", m.PlainText())
	}
	if m := e.tg.To("1")[1].Msg; !strings.Contains(m.PlainText(), "(09:01:00 UTC – 09:02:00 UTC)") {
		t.Fatalf("recovery %q", m.PlainText())
	}
}

// checkedMonitor is a monitor on e's store that probes through a real
// checker on e's clock: a fake X as its one target, another as its control.
func checkedMonitor(t *testing.T, e *env, interval time.Duration, withControl bool) (mon *monitor.Monitor, x, ctrl *fakex.Server) {
	x, ctrl = fakex.New(), fakex.New()
	t.Cleanup(x.Close)
	t.Cleanup(ctrl.Close)
	c := &probe.Checker{Client: &http.Client{}, Timeout: 10 * time.Second, RetryDelay: time.Second, Interval: interval, Clock: e.clock}
	targets := []probe.Target{{Name: "web", URL: x.URL()}}
	var controls []probe.Target
	if withControl {
		controls = []probe.Target{{Name: "ctrl", URL: ctrl.URL()}}
	}
	mon = monitor.New(monitor.Config{
		Probe:   func(ctx context.Context) probe.Round { return c.Round(ctx, targets, controls) },
		Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: e.store, Now: e.clock.Now, Log: quiet(),
	})
	if err := mon.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return mon, x, ctrl
}

// TestConfirmingRoundChecksTheOwnNetwork: the confirming round runs the
// control check too. X resets every connection from the 30 s tick on; in the
// confirming round 5 s later the bot's own network is broken as well (the
// control resets too): that round says nothing, X is not declared down on
// it; the next confirming round, network back, confirms the outage.
func TestConfirmingRoundChecksTheOwnNetwork(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	mon, x, ctrl := checkedMonitor(t, e, 30*time.Second, true)
	var verdicts []probe.Verdict
	var controlHits []int
	p := runPaced(t, e.clock, "@every 30s", 5*time.Second, func() bool {
		if err := mon.RunRound(context.Background()); err != nil {
			t.Error(err)
		}
		verdicts = append(verdicts, mon.LastRound().Verdict)
		controlHits = append(controlHits, ctrl.Hits())
		return mon.Undecided()
	})
	starts := []time.Time{p.first()}
	n := <-p.ended // X changes between rounds
	x.Set(fakex.Reset)
	p.ended <- n
	starts = append(starts, p.next()) // 30 s: X fails
	n = <-p.ended
	ctrl.Set(fakex.Reset)
	p.ended <- n
	starts = append(starts, p.next()) // 35 s: the own network fails too
	n = <-p.ended
	if h := mon.Health(time.Hour); h.State != probe.StateUp || h.ControlOK {
		t.Fatalf("after a confirming round with the own network down: %+v, want still up, control failing", h)
	}
	ctrl.Set(fakex.Up)
	p.ended <- n
	starts = append(starts, p.next()) // 40 s: X still fails, network fine
	starts = append(starts, p.next()) // the schedule again
	p.stop()
	want := []time.Duration{0, 30 * time.Second, 35 * time.Second, 40 * time.Second, 60 * time.Second}
	if got := offsets(starts, t0); !slices.Equal(got, want) {
		t.Fatalf("rounds at %v, want %v", got, want)
	}
	wantVerdicts := []probe.Verdict{up, down, unknown, down, down}
	if len(verdicts) != len(wantVerdicts) {
		t.Fatalf("verdicts %v, want %v", verdicts, wantVerdicts)
	}
	for i := range wantVerdicts {
		if verdicts[i] != wantVerdicts[i] {
			t.Fatalf("verdicts %v, want %v", verdicts, wantVerdicts)
		}
	}
	if controlHits[2] <= controlHits[1] || controlHits[3] <= controlHits[2] {
		t.Fatalf("control requests after each round %v: the confirming rounds must check the own network", controlHits)
	}
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down")
	if m := e.tg.To("1")[0].Msg; !strings.Contains(m.PlainText(), "Since 2026-01-30 09:00:30 UTC") {
		t.Fatalf("alert %q, want the first failing round, 09:00:30", m.PlainText())
	}
}

// TestNoTickSkippedWhileXHangs: @every 1s, PROBE_TIMEOUT 10 s, X accepts
// connections and never answers. Each request is cut at 90% of the second,
// every round starts on its tick, and the outage is announced at the second
// failing round, one second after the first.
func TestNoTickSkippedWhileXHangs(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	// No control target: the test moves the clock to each request's deadline
	// once X has the request, and a control answer still on its way would be
	// cut with it.
	mon, x, _ := checkedMonitor(t, e, time.Second, false)
	var rounds []probe.Round
	p := runPaced(t, e.clock, "@every 1s", time.Second, func() bool {
		if err := mon.RunRound(context.Background()); err != nil {
			t.Error(err)
		}
		rounds = append(rounds, *mon.LastRound())
		return mon.Undecided()
	})
	starts := []time.Time{p.first()}
	n := <-p.ended // X hangs from the second round on
	x.Set(fakex.Hang)
	p.ended <- n
	for i := range 5 {
		starts = append(starts, p.next())
		await(t, "X has the request", func() bool { return x.Hits() == i+2 })
		e.clock.WaitIdle(t, 1) // its deadline
		e.clock.Advance(900 * time.Millisecond)
	}
	p.stop()
	want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}
	if got := offsets(starts, t0); !slices.Equal(got, want) {
		t.Fatalf("rounds at %v, want one every second: %v", got, want)
	}
	for _, r := range rounds[1:] {
		if r.Verdict != down || r.Duration != 900*time.Millisecond || r.Targets[0].Detail != "timeout after 900ms" {
			t.Fatalf("round %+v, want down after 900ms with a timeout", r)
		}
	}
	e.flush()
	wantTitles(t, "1", e.tg.To("1"), "X is down")
	if m := e.tg.To("1")[0].Msg; !strings.Contains(m.PlainText(), "Since 2026-01-30 09:00:01 UTC") {
		t.Fatalf("alert %q", m.PlainText())
	}
}

// TestRunSchedulePanicsAndShutdown: the first round runs at once, a
// panicking round neither kills the process nor stops later rounds, and the
// schedule returns once ctx ends.
func TestRunSchedulePanicsAndShutdown(t *testing.T) {
	clk := bottest.NewClock(t0)
	n := 0
	p := runPaced(t, clk, "@every 1s", time.Second, func() bool {
		n++
		if n == 1 {
			panic("first round explodes")
		}
		return false
	})
	p.first()
	// The panicking round never reports its end: wait for the schedule's timer.
	clk.WaitIdle(t, 1)
	clk.Advance(time.Second)
	if at := p.first(); at.Sub(t0) != time.Second {
		t.Fatalf("second round at %s, want 1s", at.Sub(t0))
	}
	<-p.ended
	p.stop()
}

// TestWavesGiveTheSameMessagesWithFastConfirmation replays waves (X down for
// a minute, up for a minute, for 20 minutes, then down for good) through the
// schedule, @every 30s, with and without fast confirmation: the chats get
// the same messages — the first changes, one "unstable", one "settled" —
// fast confirmation only makes them come sooner.
func TestWavesGiveTheSameMessagesWithFastConfirmation(t *testing.T) {
	waves := func(at time.Duration) probe.Verdict {
		if at < 45*time.Second || (at < 20*time.Minute+45*time.Second && (at-45*time.Second)%(2*time.Minute) >= time.Minute) {
			return up
		}
		return down
	}
	firstDown := map[time.Duration]time.Duration{}
	for _, confirm := range []time.Duration{0, 5 * time.Second} {
		e := newEnv(t)
		e.flapChanges, e.flapWindow = 4, 30*time.Minute
		e.restart()
		e.subscribe(tgPlatform, "1")
		p := runPaced(t, e.clock, "@every 30s", confirm, func() bool {
			e.probe.verdict = waves(e.clock.Now().Sub(t0))
			if err := e.mon.RunRound(context.Background()); err != nil {
				t.Error(err)
			}
			e.flush()
			return e.mon.Undecided()
		})
		p.first()
		for e.clock.Now().Before(t0.Add(55 * time.Minute)) {
			p.next()
		}
		p.stop()
		wantTitles(t, "1", e.tg.To("1"), "X is down", "back up", "X is down", "back up", "X is unstable", "X has settled: down")
		firstDown[confirm] = e.tg.To("1")[0].Msg.Time.Sub(t0)
	}
	// Down from 45 s: seen at the 60 s tick, confirmed at 65 s rather than 90 s.
	if firstDown[0] != 90*time.Second || firstDown[5*time.Second] != 65*time.Second {
		t.Fatalf("first alert at %v, want 1m30s at the schedule's pace and 1m05s with fast confirmation", firstDown)
	}
}

// TestLongRoundIsFollowedAtOnceNotStacked: a round that overruns two ticks
// (a slow database, say) is followed by one round as soon as it ends — the
// ticks it covered are not dropped, and not run one after the other either
// — and then by the schedule's next tick.
func TestLongRoundIsFollowedAtOnceNotStacked(t *testing.T) {
	clk := bottest.NewClock(t0)
	n := 0
	p := runPaced(t, clk, "@every 1s", time.Second, func() bool {
		if n++; n == 2 {
			clk.Advance(2500 * time.Millisecond) // the round takes 2.5 s
		}
		return false
	})
	starts := []time.Time{p.first()}
	for range 4 {
		starts = append(starts, p.next())
	}
	p.stop()
	want := []time.Duration{0, time.Second, 3500 * time.Millisecond, 4 * time.Second, 5 * time.Second}
	if got := offsets(starts, t0); !slices.Equal(got, want) {
		t.Fatalf("rounds at %v, want %v", got, want)
	}
}
