// Package monitor turns probe rounds into X's announced state: the vote of
// the vantage points, the hysteresis tracker, the flap rule and the incident
// being recorded, saved with its outbox rows in one transaction; and the
// schedule that runs the rounds, with confirming rounds after a disagreeing
// one.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Config wires a Monitor.
type Config struct {
	// Probe runs one round of checks.
	Probe   func(ctx context.Context) probe.Round
	Tracker probe.Tracker
	Store   bot.StateStore
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Changed is called after a change and its outbox rows are saved, to wake delivery.
	Changed func()
	// AfterRound is called after each saved round, outside the monitor's
	// lock, so the public board can be rebuilt; it must not block.
	AfterRound func()
	// FlapChanges and FlapWindow are the flap rule: more than FlapChanges
	// changes within FlapWindow make X unstable (one message instead of one
	// per change) until it holds one state for FlapWindow. Zero turns it off.
	FlapChanges int
	FlapWindow  time.Duration

	// Region is this replica's vantage point (PROBE_REGION).
	Region string
	// Vantage keeps every region's latest round: each round is
	// recorded there and the leader votes over the fresh ones. Nil: this
	// monitor's own round alone decides.
	Vantage bot.VantageStore
	// Fresh is how old another region's round may be and still vote: two
	// probe intervals.
	Fresh time.Duration
	// Leading tells whether this replica decides state changes, and under
	// which lease epoch. Nil: always leading, epoch 0.
	Leading func() (epoch int64, leading bool)

	// Crowd counts people's reports (/report); its signal counts as a
	// degraded verdict when the probes pass. Nil: the probes alone decide.
	Crowd *crowd.Tally
	// Reports is where every replica's reports are read back each round;
	// nil: the tally counts only what this process adds to it.
	Reports bot.ReportStore
	// Alone says this process is the only one on its store (SQLite): every
	// report reaches Crowd through it, so Reports is read back at the first
	// round only (what a restart left in the window), and for the usual rate.
	Alone bool
}

// Monitor turns probe rounds into saved state, incidents and queued alerts.
type Monitor struct {
	cfg Config

	mu       sync.Mutex
	status   probe.Status
	incident *bot.Incident // the open incident, nil when X is up
	last     *probe.Round  // the last round decided (by any leader)
	probed   *probe.Round  // this replica's last round, for its own health
	started  time.Time
	flap     bot.Flap
	recent   []probe.Transition  // announced changes, oldest first, at most RecentChanges
	regions  []bot.RegionVerdict // the last vote's breakdown, nil when the regions agreed
	// synced says memory holds what the store held when this monitor last
	// loaded or decided, under lease epoch epoch.
	synced bool
	epoch  int64
	crowd  bot.Crowd // the last round's reading of people's reports

	crowdMu     sync.Mutex // serialises reading reports back
	reportsRead time.Time  // when reports were last read back
	usualAt     time.Time  // when the usual rate was last computed
}

// New builds a Monitor; call Load before the first round.
func New(cfg Config) *Monitor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	if cfg.AfterRound == nil {
		cfg.AfterRound = func() {}
	}
	if cfg.Leading == nil {
		cfg.Leading = func() (int64, bool) { return 0, true }
	}
	return &Monitor{cfg: cfg, started: cfg.Now()}
}

// Load restores the state saved by a previous run.
func (m *Monitor) Load(ctx context.Context) error {
	saved, err := m.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restore(saved)
	m.synced = true
	m.cfg.Log.Info("state restored", "state", m.status.State, "since", m.status.Since, "open_incident", m.incident != nil)
	return nil
}

// restore replaces memory with saved; the caller holds mu.
func (m *Monitor) restore(saved bot.Saved) {
	m.status, m.last = saved.Status, saved.LastRound
	m.flap, m.recent = saved.Flap, saved.Recent
	m.incident = nil
	if saved.Incident != nil && saved.Incident.Open() {
		inc := *saved.Incident
		m.incident = &inc
	}
	m.cfg.Metrics.SetState(m.status.State)
}

// RunRound probes once and records the outcome. A round cut short by ctx is
// discarded. Every replica records its own round for the vote; the leader
// decides from the vote, a follower only loads what the leader saved.
func (m *Monitor) RunRound(ctx context.Context) error {
	round := m.cfg.Probe(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("round interrupted: %w", err)
	}
	m.cfg.Metrics.ObserveRound(round)
	people := m.readCrowd(ctx, round.Start)
	m.cfg.Metrics.Crowd(people)
	m.mu.Lock()
	m.probed, m.crowd = &round, people
	m.mu.Unlock()
	own := bot.RegionRound{Region: m.cfg.Region, At: round.Start, Verdict: round.Verdict, Causes: bot.CausesOf(round)}
	if m.cfg.Vantage != nil {
		if err := m.cfg.Vantage.RecordRegion(ctx, own); err != nil {
			// The leader still counts this round from memory; only the others miss it.
			m.cfg.Log.Warn("record this region's round", "err", err, "region", own.Region)
		}
	}
	epoch, leading := m.cfg.Leading()
	var err error
	if leading {
		err = m.decide(ctx, round, own, epoch, people)
	} else {
		err = m.follow(ctx, own)
	}
	if err != nil {
		return err
	}
	m.cfg.AfterRound()
	return nil
}

// ballot votes over the fresh rounds of every region, own in place of
// whatever the store holds for this region.
func (m *Monitor) ballot(ctx context.Context, own bot.RegionRound) (ballot, error) {
	if m.cfg.Vantage == nil {
		return vote([]bot.RegionRound{own}), nil
	}
	rounds, err := m.cfg.Vantage.Regions(ctx, own.At, m.cfg.Fresh)
	if err != nil {
		return ballot{}, fmt.Errorf("read the regions' rounds: %w", err)
	}
	rounds = slices.DeleteFunc(rounds, func(r bot.RegionRound) bool { return r.Region == own.Region })
	b := vote(append(rounds, own))
	m.cfg.Metrics.RegionVerdicts(b.all)
	return b, nil
}

// decide steps the tracker with the vote and saves the round.
func (m *Monitor) decide(ctx context.Context, round probe.Round, own bot.RegionRound, epoch int64, people bot.Crowd) error {
	b, err := m.ballot(ctx, own)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regions = b.regions
	if !m.synced || epoch != m.epoch {
		// Another leader may have saved rounds since memory was last in step
		// with the store: deciding from memory would announce its changes again.
		saved, err := m.cfg.Store.Load(ctx)
		if err != nil {
			return fmt.Errorf("load the state before deciding: %w", err)
		}
		m.restore(saved)
		m.synced, m.epoch = true, epoch
		m.cfg.Log.Info("leading: state loaded", "epoch", epoch, "state", m.status.State, "since", m.status.Since)
	}
	round.Verdict = b.verdict // the round keeps its own results; the vote is its verdict
	round.Verdict, b.causes = withCrowd(round.Verdict, b.causes, people)
	err = m.record(ctx, round, b)
	if errors.Is(err, bot.ErrDeposed) {
		m.synced = false
	}
	return err
}

// follow loads the leader's state, so /status, the board and /healthz show
// it, and the breakdown of the regions as they stand.
func (m *Monitor) follow(ctx context.Context, own bot.RegionRound) error {
	saved, err := m.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load the leader's state: %w", err)
	}
	b, err := m.ballot(ctx, own)
	if err != nil {
		m.cfg.Log.Warn("regions not read; /status shows no breakdown", "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restore(saved)
	m.synced, m.regions = false, b.regions
	m.cfg.Log.Debug("following", "state", m.status.State, "own_verdict", own.Verdict)
	return nil
}

// record steps the tracker with the voted round and saves it with what it
// changed; the caller holds mu.
func (m *Monitor) record(ctx context.Context, round probe.Round, b ballot) error {
	next, tr := m.cfg.Tracker.Step(m.status, round.Verdict, round.Start)
	snap := &bot.Snapshot{Round: round, Status: next}
	causes := b.causes
	inc := m.advanceIncident(round, tr, causes)
	snap.Incident = inc
	recent, flap := m.recent, m.flap
	if tr != nil && !tr.Initial {
		recent = append(slices.Clone(recent), *tr)
		recent = recent[max(0, len(recent)-bot.RecentChanges):]
		snap.Change, flap = m.flapRule(*tr, causes, recent, flap)
	}
	if flap.Unstable() && snap.Change == nil && next.State != probe.StateUnknown && m.cfg.FlapWindow > 0 &&
		!round.Start.Before(next.Since.Add(m.cfg.FlapWindow)) {
		snap.Change = &bot.Change{Kind: bot.ChangeSettled, Flaps: flap.Changes, FlapSince: flap.Since,
			Transition: probe.Transition{From: next.State, To: next.State, At: round.Start, Began: next.Since}}
		flap, recent = bot.Flap{}, nil
	}
	if snap.Change != nil {
		snap.Change.Regions = b.regions
	}
	snap.Flap = &flap
	if err := m.cfg.Store.SaveRound(ctx, snap); err != nil {
		// Nothing changed in memory either: the next round retries the same step.
		return err
	}
	m.status, m.last = next, &round
	m.flap, m.recent = *snap.Flap, recent
	if inc != nil { // opened, updated or closed this round
		m.incident = nil
		if inc.Open() {
			m.incident = inc
		}
	}
	m.log(round, tr, causes)
	m.cfg.Metrics.SetState(next.State)
	if tr != nil && !tr.Initial { // counted even when the flap rule keeps it quiet
		m.cfg.Metrics.Transition(tr)
	}
	if ch := snap.Change; ch != nil && ch.Kind != bot.ChangeTransition {
		m.cfg.Log.Info("flapping", "kind", ch.Kind, "state", next.State, "since", ch.FlapSince, "changes", ch.Flaps)
	}
	if snap.Change != nil || snap.Queued > 0 {
		m.cfg.Changed()
	}
	return nil
}

func (m *Monitor) log(round probe.Round, tr *probe.Transition, causes []bot.Cause) {
	l := m.cfg.Log
	switch {
	case round.Verdict == probe.VerdictUnknown:
		l.Warn("own network check failed: round says nothing about X and is ignored",
			"control_ok", round.ControlOK(), "failing", len(round.Failing()))
	case tr != nil && tr.Initial:
		l.Info("initial state established (not announced)", "state", tr.To)
	case tr != nil:
		l.Info("state changed", "from", tr.From, "to", tr.To, "failing", len(causes))
	default:
		l.Debug("round", "verdict", round.Verdict, "duration", round.Duration, "failing", len(causes))
	}
}
