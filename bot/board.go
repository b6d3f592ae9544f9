package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Span is a stretch of time X spent in one announced state, as recorded
// round after round. State probe.StateUnknown marks time the bot could not
// tell (unknown verdicts: its own network down); time between spans is time
// it was not running. Both are "no data", left out of uptime percentages.
type Span struct {
	State probe.State
	From  time.Time
	To    time.Time
}

// Uptime is how X fared over one window ending now.
type Uptime struct {
	Window   time.Duration
	Up       time.Duration
	Degraded time.Duration
	Down     time.Duration
	NoData   time.Duration
	// Percent is Up / (Up + Degraded + Down) × 100; negative when there is
	// no data at all in the window.
	Percent float64
}

// Day is one cell of the status page's 90-day bar.
type Day struct {
	Date time.Time // midnight UTC
	// Worst is the day's worst state; probe.StateUnknown when the day has no data.
	Worst    probe.State
	Downtime time.Duration // time degraded or down
	NoData   time.Duration
}

// Component is one target's last result, for the board.
type Component struct {
	Name    string
	OK      bool
	Latency time.Duration
	// Slow marks a success slower than the probe's slow threshold.
	Slow   bool
	Detail string
}

// Board is the public status: what /status, the status page and its JSON
// show (bot/web renders its own JSON document from it). It is rebuilt after
// each round and read without touching the database or the monitor's lock.
//
// Since is when the state began: the first round of the streak that led
// to it (an outage's first failing round), not its confirmation.
type Board struct {
	State      probe.State
	Since      time.Time
	LastCheck  time.Time
	ControlOK  bool
	Components []Component
	// Uptime over the last 24 h, 7 days and 30 days.
	Uptime24h, Uptime7d, Uptime30d Uptime
	// Days are the last 90 days, oldest first.
	Days []Day
	// Incidents are the latest incidents, newest first.
	Incidents []Incident
	// Regions is what each vantage point saw in the last vote when they
	// disagreed; nil when they agreed or there is one.
	Regions []RegionVerdict
	// Built is when the board was made.
	Built time.Time
	// Every is how often X is checked (the schedule's interval); 0 when not known.
	Every time.Duration
}

// HistoryStore reads time in state and past incidents.
type HistoryStore interface {
	// Spans returns the time in state overlapping [from, to), clipped to it, oldest first.
	Spans(ctx context.Context, from, to time.Time) ([]Span, error)
	// Incidents returns up to limit incidents, newest first.
	Incidents(ctx context.Context, limit int) ([]Incident, error)
}

// Board sizes.
const (
	BoardDays = 90
	// BoardIncidents is how many incidents the board holds: what
	// /api/incidents can serve; the page and /api/status show the first
	// ShownIncidents.
	BoardIncidents = 100
	ShownIncidents = 20
)

// boardSource is what the board takes from the monitor, which holds it in
// memory: the state and the last round.
type boardSource interface {
	Health(maxAge time.Duration) Health
	LastRound() *probe.Round
}

// BoardPublisher keeps the latest Board in memory, so readers (the status
// page, /status) never wait on the database or the monitor's lock.
type BoardPublisher struct {
	// Every is how often X is checked, shown on the board; set it before Run.
	Every time.Duration

	store  HistoryStore
	health boardSource
	clock  Clock

	mu    sync.Mutex // one build at a time, so an older board never replaces a newer one
	board atomic.Pointer[Board]
	poke  chan struct{}
}

// NewBoardPublisher builds a publisher; the first Refresh makes the first board.
func NewBoardPublisher(store HistoryStore, health boardSource, clock Clock) *BoardPublisher {
	return &BoardPublisher{store: store, health: health, clock: clock, poke: make(chan struct{}, 1)}
}

// Board returns the latest board, nil before the first Refresh. It never blocks.
func (p *BoardPublisher) Board() *Board { return p.board.Load() }

// Refresh builds a board from the store and the monitor and publishes it.
// On error the previous board stays.
func (p *BoardPublisher) Refresh(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	// One read covers the 90-day bar and every uptime window.
	spans, err := p.store.Spans(ctx, firstDay(now, BoardDays), now)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	incidents, err := p.store.Incidents(ctx, BoardIncidents)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	h := p.health.Health(0) // staleness is the health check's business, not the board's
	b := &Board{
		State: h.State, Since: h.Since, LastCheck: h.LastRound, ControlOK: h.ControlOK, Every: p.Every,
		Components: []Component{},
		Days:       Days(spans, now, BoardDays),
		Incidents:  incidents,
		Built:      now,
	}
	u := UptimesOf(spans, now)
	b.Uptime24h, b.Uptime7d, b.Uptime30d = u.H24, u.D7, u.D30
	if b.State == "" {
		b.State = probe.StateUnknown
	}
	if v, ok := p.health.(interface{ Regions() []RegionVerdict }); ok {
		b.Regions = v.Regions()
	}
	if v, ok := p.health.(interface{ Began() time.Time }); ok {
		if began := v.Began(); !began.IsZero() {
			b.Since = began
		}
	}
	if r := p.health.LastRound(); r != nil {
		for _, t := range r.Targets {
			b.Components = append(b.Components, Component{Name: t.Target, OK: t.OK(), Latency: t.Latency, Slow: t.Slow, Detail: t.Detail})
		}
	}
	p.board.Store(b)
	return nil
}

// Poke asks Run for a refresh without waiting: pokes that come while one is
// pending fold into it. Wire monitor.Config.AfterRound to it.
func (p *BoardPublisher) Poke() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// Run refreshes the board once, then after every Poke, until ctx ends. A
// failed refresh is logged and the previous board kept.
func (p *BoardPublisher) Run(ctx context.Context, log *slog.Logger) {
	for {
		if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
			log.Warn("status board not refreshed; the previous one stays", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-p.poke:
		}
	}
}
