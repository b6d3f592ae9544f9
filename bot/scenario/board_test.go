package scenario_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/probe"
)

// outageAndRecovery runs a short outage: up at t0, failing from t0+20s, announced down at
// t0+30s, healthy again from t0+50s, announced up at t0+60s; the clock ends at t0+70s.
func (e *env) outageAndRecovery() {
	e.rounds(up, up, down, down, down, up, up)
}

func TestIncidentKeepsEveryCauseWithFirstAndLastSeen(t *testing.T) {
	e := newEnv(t)
	e.rounds(up, degraded, degraded, degraded) // api fails from t0+10s; degraded announced at t0+20s
	e.rounds(down, down)                       // web fails too from t0+40s
	e.rounds(degraded)                         // web recovers; api still fails at t0+60s
	incs, err := e.store.Incidents(context.Background(), 10)
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents %+v, %v", incs, err)
	}
	inc := incs[0]
	if inc.Worst != probe.StateDown || !inc.Open() || !inc.Start.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("incident %+v", inc)
	}
	want := map[string][2]time.Duration{
		// Causes are recorded from the round that opened the incident on.
		"api": {20 * time.Second, 60 * time.Second},
		"web": {40 * time.Second, 50 * time.Second},
	}
	if len(inc.Causes) != len(want) {
		t.Fatalf("causes %+v, want api and web", inc.Causes)
	}
	for _, c := range inc.Causes {
		w, ok := want[c.Component]
		if !ok || !c.FirstSeen.Equal(t0.Add(w[0])) || !c.LastSeen.Equal(t0.Add(w[1])) {
			t.Errorf("cause %+v, want first seen t0+%v, last seen t0+%v", c, w[0], w[1])
		}
	}
	if main := inc.MainCauses(1); len(main) != 1 || main[0].Component != "api" {
		t.Errorf("main cause %+v, want api (failing longest)", main)
	}
}

func TestMonitorCallsAfterRoundOnlyForSavedRounds(t *testing.T) {
	e := newEnv(t)
	calls := 0
	mon := monitor.New(monitor.Config{Probe: e.probe.Round, Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: e.store,
		Now: e.clock.Now, Log: quiet(), AfterRound: func() { calls++ }})
	ctx := context.Background()
	for range 3 {
		if err := mon.RunRound(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Fatalf("AfterRound called %d times for 3 rounds", calls)
	}
	e.store.Close()
	if err := mon.RunRound(ctx); err == nil {
		t.Fatal("a round saved on a closed store")
	}
	if calls != 3 {
		t.Fatalf("AfterRound called for a round that was not saved")
	}
}

func TestBoardAfterAnOutage(t *testing.T) {
	e := newEnv(t)
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	if pub.Board() != nil {
		t.Fatal("a board before the first refresh")
	}
	e.outageAndRecovery()
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := pub.Board()
	now := t0.Add(70 * time.Second)
	// Up since the first healthy round (t0+50s), not the confirming one.
	if b == nil || b.State != probe.StateUp || !b.Since.Equal(t0.Add(50*time.Second)) || !b.LastCheck.Equal(t0.Add(60*time.Second)) || !b.ControlOK || !b.Built.Equal(now) {
		t.Fatalf("board %+v", b)
	}
	if len(b.Components) != 2 || b.Components[0].Name != "web" || !b.Components[0].OK || b.Components[0].Latency != 80*time.Millisecond {
		t.Errorf("components %+v", b.Components)
	}
	// Up t0–t0+30s and t0+60s–now, down t0+30s–t0+60s: 40 s up out of 70 s known.
	for name, u := range map[string]bot.Uptime{"24h": b.Uptime24h, "7d": b.Uptime7d, "30d": b.Uptime30d} {
		if u.Up != 40*time.Second || u.Down != 30*time.Second || math.Abs(u.Percent-400.0/7) > 1e-9 || u.NoData != u.Window-70*time.Second {
			t.Errorf("uptime %s %+v", name, u)
		}
	}
	if len(b.Days) != history.BoardDays {
		t.Fatalf("%d days", len(b.Days))
	}
	today := b.Days[len(b.Days)-1]
	if !today.Date.Equal(time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC)) || today.Worst != probe.StateDown || today.Downtime != 30*time.Second {
		t.Errorf("today %+v", today)
	}
	if b.Days[0].Worst != probe.StateUnknown {
		t.Errorf("a day before the install %+v", b.Days[0])
	}
	if len(b.Incidents) != 1 || b.Incidents[0].Worst != probe.StateDown || !b.Incidents[0].Start.Equal(t0.Add(20*time.Second)) || !b.Incidents[0].End.Equal(t0.Add(50*time.Second)) {
		t.Errorf("incidents %+v", b.Incidents)
	}
}

func TestBoardPublisherRunsOnPokes(t *testing.T) {
	e := newEnv(t)
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pub.Run(ctx, quiet()) }()
	defer func() { cancel(); <-done }()

	await(t, "the first board", func() bool { return pub.Board() != nil })
	if b := pub.Board(); b.State != probe.StateUnknown || len(b.Incidents) != 0 {
		t.Fatalf("board of a fresh install %+v", b)
	}
	e.outageAndRecovery()
	for range 5 { // pokes fold together; the board ends up fresh
		pub.Poke()
	}
	await(t, "a board after the outage", func() bool { b := pub.Board(); return b.State == probe.StateUp && len(b.Incidents) == 1 })
}

// await polls cond until it holds or a generous deadline passes.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
