// Package history is what the bot remembers of X: time in each state as
// spans, uptime over 24 h, 7 and 30 days, the 90-day bar, and the board —
// the public status that /status, the page and its JSON read from memory.
package history

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/probe"
)

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
	Health(maxAge time.Duration) bot.Health
	LastRound() *probe.Round
}

// Publisher keeps the latest Board in memory, so readers (the status
// page, /status) never wait on the database or the monitor's lock.
type Publisher struct {
	// Every is how often X is checked, shown on the board; set it before Run.
	Every time.Duration

	store  bot.HistoryStore
	health boardSource
	clock  clock.Clock

	mu    sync.Mutex // one build at a time, so an older board never replaces a newer one
	board atomic.Pointer[bot.Board]
	poke  chan struct{}
}

// NewPublisher builds a publisher; the first Refresh makes the first board.
func NewPublisher(store bot.HistoryStore, health boardSource, clock clock.Clock) *Publisher {
	return &Publisher{store: store, health: health, clock: clock, poke: make(chan struct{}, 1)}
}

// Board returns the latest board, nil before the first Refresh. It never blocks.
func (p *Publisher) Board() *bot.Board { return p.board.Load() }

// Refresh builds a board from the store and the monitor and publishes it.
// On error the previous board stays.
func (p *Publisher) Refresh(ctx context.Context) error {
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
	b := &bot.Board{
		State: h.State, Since: h.Since, LastCheck: h.LastRound, ControlOK: h.ControlOK, Every: p.Every,
		Components: []bot.Component{},
		Days:       Days(spans, now, BoardDays),
		Incidents:  incidents,
		Built:      now,
	}
	u := UptimesOf(spans, now)
	b.Uptime24h, b.Uptime7d, b.Uptime30d = u.H24, u.D7, u.D30
	if b.State == "" {
		b.State = probe.StateUnknown
	}
	if v, ok := p.health.(interface{ Crowd() bot.Crowd }); ok {
		b.Crowd = v.Crowd()
	}
	if v, ok := p.health.(interface{ Regions() []bot.RegionVerdict }); ok {
		b.Regions = v.Regions()
	}
	if v, ok := p.health.(interface{ Began() time.Time }); ok {
		if began := v.Began(); !began.IsZero() {
			b.Since = began
		}
	}
	if r := p.health.LastRound(); r != nil {
		for _, t := range r.Targets {
			b.Components = append(b.Components, bot.Component{Name: t.Target, OK: t.OK(), Latency: t.Latency, Slow: t.Slow, Detail: t.Detail})
		}
	}
	p.board.Store(b)
	return nil
}

// Poke asks Run for a refresh without waiting: pokes that come while one is
// pending fold into it. Wire monitor.Config.AfterRound to it.
func (p *Publisher) Poke() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// Run refreshes the board once, then after every Poke, until ctx ends. A
// failed refresh is logged and the previous board kept.
func (p *Publisher) Run(ctx context.Context, log *slog.Logger) {
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
