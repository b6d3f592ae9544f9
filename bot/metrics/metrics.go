// Package metrics holds the bot's Prometheus metrics: rounds and verdicts,
// state changes, sends and backlog per platform, leadership, and panics
// recovered. They live in one *vm.Set per process (NewSet), written in the
// Prometheus text format by github.com/VictoriaMetrics/metrics.
package metrics

import (
	"slices"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// NewSet makes the set of metrics of one process (or of one test). It also
// turns on the library's # HELP and # TYPE lines, a switch of the whole
// process that this code base only ever turns on: Prometheus then knows each
// family's type. The library writes no help text; README.md lists the metrics
// and what they mean.
func NewSet() *vm.Set {
	vm.ExposeMetadata(true)
	return vm.NewSet()
}

// Name is the series name{k="v",...} for the family name and the label
// pairs kv (name, value, name, value...), the form every GetOrCreate of
// github.com/VictoriaMetrics/metrics takes. Labels are sorted by name, as
// Prometheus's own client wrote them. Values are escaped as the text
// format wants (backslash, double quote, line feed), so a value from the
// configuration or from outside cannot break the exposition. Label names
// are the caller's constants. A value must never be a secret.
func Name(name string, kv ...string) string {
	if len(kv) == 0 {
		return name
	}
	if !labelsSorted(kv) {
		pairs := make([][2]string, 0, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			pairs = append(pairs, [2]string{kv[i], kv[i+1]})
		}
		slices.SortStableFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		kv = make([]string, 0, 2*len(pairs))
		for _, p := range pairs {
			kv = append(kv, p[0], p[1])
		}
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		labelEscaper.WriteString(&b, kv[i+1])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func labelsSorted(kv []string) bool {
	for i := 2; i+1 < len(kv); i += 2 {
		if kv[i] < kv[i-2] {
			return false
		}
	}
	return true
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// The buckets of the two latency histograms, in seconds.
var (
	probeBuckets = []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 30}
	sendBuckets  = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10} // Prometheus's default buckets
)

// Metrics are the service's metrics, in one set. A nil *Metrics records nothing.
type Metrics struct {
	set *vm.Set

	mu      sync.Mutex          // guards shown
	shown   map[string][]string // per family replaced as a whole: its series now shown
	leader  *vm.Gauge
	crowdOn *vm.Gauge
}

// New makes the metrics in set.
func New(set *vm.Set) *Metrics {
	return &Metrics{
		set:     set,
		shown:   map[string][]string{},
		leader:  set.GetOrCreateGauge("xstatusbot_leader", nil),
		crowdOn: set.GetOrCreateGauge("xstatusbot_crowd_signal", nil),
	}
}

func (m *Metrics) inc(name string, kv ...string) { m.set.GetOrCreateCounter(Name(name, kv...)).Inc() }

func (m *Metrics) gauge(v float64, name string, kv ...string) {
	m.set.GetOrCreateGauge(Name(name, kv...), nil).Set(v)
}

// replace shows exactly the series of values in family, as a reset of a
// labelled gauge did: the family's other series disappear.
func (m *Metrics) replace(family string, values map[string]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range m.shown[family] {
		if _, ok := values[name]; !ok {
			m.set.UnregisterMetric(name)
		}
	}
	names := make([]string, 0, len(values))
	for name, v := range values {
		m.set.GetOrCreateGauge(name, nil).Set(v)
		names = append(names, name)
	}
	m.shown[family] = names
}

func (m *Metrics) ObserveRound(r probe.Round) {
	if m == nil {
		return
	}
	m.inc("xstatusbot_rounds_total", "verdict", string(r.Verdict))
	for _, results := range [][]probe.Result{r.Targets, r.Controls} {
		for _, t := range results {
			m.set.GetOrCreatePrometheusHistogramExt(Name("xstatusbot_probe_latency_seconds", "target", t.Target), probeBuckets).
				Update(t.Latency.Seconds())
			if !t.OK() {
				m.inc("xstatusbot_probe_failures_total", "target", t.Target, "class", string(t.Class))
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
		m.gauge(v, "xstatusbot_state", "state", string(st))
	}
}

// Crowd shows what people reported in the last window.
func (m *Metrics) Crowd(c bot.Crowd) {
	if m == nil {
		return
	}
	const family = "xstatusbot_crowd_reports"
	values := map[string]float64{}
	for _, k := range bot.ReportKinds {
		values[Name(family, "kind", string(k))] = 0
	}
	for _, k := range c.Kinds {
		values[Name(family, "kind", string(k.Kind))] = float64(k.Count)
	}
	m.replace(family, values)
	v := 0.0
	if c.Signal {
		v = 1
	}
	m.crowdOn.Set(v)
}

// RegionVerdicts shows the regions of the last vote; regions no longer
// fresh disappear.
func (m *Metrics) RegionVerdicts(regions []bot.RegionVerdict) {
	if m == nil {
		return
	}
	const family = "xstatusbot_region_verdict"
	values := map[string]float64{}
	for _, r := range regions {
		for _, v := range []probe.Verdict{probe.VerdictUp, probe.VerdictDegraded, probe.VerdictDown, probe.VerdictUnknown, bot.VerdictSilent} {
			x := 0.0
			if v == r.Verdict {
				x = 1
			}
			values[Name(family, "region", r.Region, "verdict", string(v))] = x
		}
	}
	m.replace(family, values)
}

func (m *Metrics) Transition(tr *probe.Transition) {
	if m == nil {
		return
	}
	m.inc("xstatusbot_transitions_total", "to", string(tr.To))
}

func (m *Metrics) Send(p bot.Platform, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.inc("xstatusbot_notifications_total", "platform", string(p), "outcome", outcome)
	m.set.GetOrCreatePrometheusHistogramExt(Name("xstatusbot_send_latency_seconds", "platform", string(p)), sendBuckets).
		Update(took.Seconds())
}

func (m *Metrics) Backlog(p bot.Platform, b bot.Backlog, now time.Time) {
	if m == nil {
		return
	}
	m.gauge(float64(b.Pending), "xstatusbot_outbox_pending", "platform", string(p))
	age := 0.0
	if b.Pending > 0 && !b.Oldest.IsZero() {
		age = now.Sub(b.Oldest).Seconds()
	}
	m.gauge(age, "xstatusbot_outbox_oldest_age_seconds", "platform", string(p))
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
		m.gauge(v, "xstatusbot_platform_state", "platform", string(p), "state", string(st))
	}
	m.gauge(float64(h.Unrecorded), "xstatusbot_outbox_unrecorded", "platform", string(p))
}

func (m *Metrics) Leadership(leading bool) {
	if m == nil {
		return
	}
	if leading {
		m.leader.Set(1)
		m.inc("xstatusbot_leadership_changes_total", "change", "gained")
		return
	}
	m.leader.Set(0)
	m.inc("xstatusbot_leadership_changes_total", "change", "lost")
}

// RecoveredPanic counts a panic recovered while handling one item (where:
// "delivery" for a chat's outbox rows).
func (m *Metrics) RecoveredPanic(where string) {
	if m == nil {
		return
	}
	m.inc("xstatusbot_panics_total", "where", where)
}
