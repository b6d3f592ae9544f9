// Package metrics holds the bot's Prometheus collectors: rounds and
// verdicts, state changes, sends and backlog per platform, leadership, and
// panics recovered.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Metrics are the Prometheus collectors of the service. A nil *Metrics records nothing.
type Metrics struct {
	latency     *prometheus.HistogramVec
	failures    *prometheus.CounterVec
	rounds      *prometheus.CounterVec
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	sends       *prometheus.CounterVec
	sendLatency *prometheus.HistogramVec
	depth       *prometheus.GaugeVec
	oldest      *prometheus.GaugeVec
	platState   *prometheus.GaugeVec
	unrecorded  *prometheus.GaugeVec
	leader      prometheus.Gauge
	leaderships *prometheus.CounterVec
	regions     *prometheus.GaugeVec
	panics      *prometheus.CounterVec
	reports     *prometheus.GaugeVec
	crowd       prometheus.Gauge
}

// New registers the collectors with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xstatusbot_probe_latency_seconds", Help: "Latency of each probe request by target.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 30},
		}, []string{"target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xstatusbot_probe_failures_total", Help: "Failed probe checks by target and failure class.",
		}, []string{"target", "class"}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xstatusbot_rounds_total", Help: "Probe rounds by verdict.",
		}, []string{"verdict"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xstatusbot_state", Help: "1 for X's current announced state, 0 for the others.",
		}, []string{"state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xstatusbot_transitions_total", Help: "State changes by new state, including those the flap rule keeps quiet.",
		}, []string{"to"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xstatusbot_notifications_total", Help: "Notification attempts by platform and outcome (sent, retry, unavailable, rate_limited, no_rights, gone, expired, migrated, panic).",
		}, []string{"platform", "outcome"}),
		sendLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xstatusbot_send_latency_seconds", Help: "Duration of one send call to a platform.",
			Buckets: prometheus.DefBuckets,
		}, []string{"platform"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xstatusbot_outbox_pending", Help: "Undelivered notifications by platform.",
		}, []string{"platform"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xstatusbot_outbox_oldest_age_seconds", Help: "Age of the oldest undelivered notification by platform.",
		}, []string{"platform"}),
	}
	m.platState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xstatusbot_platform_state", Help: "1 for each platform's current state (connecting, ready, unavailable, unauthorized), 0 for the others.",
	}, []string{"platform", "state"})
	m.unrecorded = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xstatusbot_outbox_unrecorded", Help: "Delivery outcomes held in memory because the store refused them.",
	}, []string{"platform"})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "xstatusbot_leader", Help: "1 while this replica holds the leader lease, else 0.",
	})
	m.leaderships = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xstatusbot_leadership_changes_total", Help: "Times this replica became leader (gained) or stopped leading (lost).",
	}, []string{"change"})
	m.regions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xstatusbot_region_verdict", Help: "1 for each fresh region's verdict in the last vote (up, degraded, down, unknown), 0 for the others.",
	}, []string{"region", "verdict"})
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xstatusbot_panics_total", Help: "Panics recovered, by where: the row or item at fault is failed and the process goes on.",
	}, []string{"where"})
	m.reports = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xstatusbot_crowd_reports", Help: "People's reports counted in the last window by kind, as of the last round.",
	}, []string{"kind"})
	m.crowd = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "xstatusbot_crowd_signal", Help: "1 while people's reports raise the crowd signal (X reported degraded), else 0.",
	})
	reg.MustRegister(m.panics, m.reports, m.crowd)
	reg.MustRegister(m.latency, m.failures, m.rounds, m.state, m.transitions, m.sends, m.sendLatency, m.depth, m.oldest,
		m.platState, m.unrecorded, m.leader, m.leaderships, m.regions)
	return m
}

func (m *Metrics) ObserveRound(r probe.Round) {
	if m == nil {
		return
	}
	m.rounds.WithLabelValues(string(r.Verdict)).Inc()
	for _, results := range [][]probe.Result{r.Targets, r.Controls} {
		for _, t := range results {
			m.latency.WithLabelValues(t.Target).Observe(t.Latency.Seconds())
			if !t.OK() {
				m.failures.WithLabelValues(t.Target, string(t.Class)).Inc()
			}
		}
	}
}

func (m *Metrics) SetState(s probe.State) {
	if m == nil {
		return
	}
	for _, st := range []probe.State{probe.StateUnknown, probe.StateUp, probe.StateDegraded, probe.StateDown} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(string(st)).Set(v)
	}
}

// Crowd shows what people reported in the last window.
func (m *Metrics) Crowd(c bot.Crowd) {
	if m == nil {
		return
	}
	m.reports.Reset()
	for _, k := range bot.ReportKinds {
		m.reports.WithLabelValues(string(k)).Set(0)
	}
	for _, k := range c.Kinds {
		m.reports.WithLabelValues(string(k.Kind)).Set(float64(k.Count))
	}
	v := 0.0
	if c.Signal {
		v = 1
	}
	m.crowd.Set(v)
}

// regionVerdicts shows the regions of the last vote; regions no longer
// fresh disappear.
func (m *Metrics) RegionVerdicts(regions []bot.RegionVerdict) {
	if m == nil {
		return
	}
	m.regions.Reset()
	for _, r := range regions {
		for _, v := range []probe.Verdict{probe.VerdictUp, probe.VerdictDegraded, probe.VerdictDown, probe.VerdictUnknown, bot.VerdictSilent} {
			x := 0.0
			if v == r.Verdict {
				x = 1
			}
			m.regions.WithLabelValues(r.Region, string(v)).Set(x)
		}
	}
}

func (m *Metrics) Transition(tr *probe.Transition) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(string(tr.To)).Inc()
}

func (m *Metrics) Send(p bot.Platform, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.sends.WithLabelValues(string(p), outcome).Inc()
	m.sendLatency.WithLabelValues(string(p)).Observe(took.Seconds())
}

func (m *Metrics) Backlog(p bot.Platform, b bot.Backlog, now time.Time) {
	if m == nil {
		return
	}
	m.depth.WithLabelValues(string(p)).Set(float64(b.Pending))
	age := 0.0
	if b.Pending > 0 && !b.Oldest.IsZero() {
		age = now.Sub(b.Oldest).Seconds()
	}
	m.oldest.WithLabelValues(string(p)).Set(age)
}

func (m *Metrics) Platform(p bot.Platform, h bot.PlatformHealth) {
	if m == nil {
		return
	}
	for _, st := range bot.PlatformStates {
		v := 0.0
		if st == h.State {
			v = 1
		}
		m.platState.WithLabelValues(string(p), string(st)).Set(v)
	}
	m.unrecorded.WithLabelValues(string(p)).Set(float64(h.Unrecorded))
}

func (m *Metrics) Leadership(leading bool) {
	if m == nil {
		return
	}
	if leading {
		m.leader.Set(1)
		m.leaderships.WithLabelValues("gained").Inc()
		return
	}
	m.leader.Set(0)
	m.leaderships.WithLabelValues("lost").Inc()
}

// RecoveredPanic counts a panic recovered while handling one item (where:
// "delivery" for a chat's outbox rows).
func (m *Metrics) RecoveredPanic(where string) {
	if m == nil {
		return
	}
	m.panics.WithLabelValues(where).Inc()
}
