package metrics_test

import (
	"strings"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
	"github.com/xstatusbot/xstatusbot/probe"
)

func TestName(t *testing.T) {
	for _, tt := range []struct {
		kv   []string
		want string
	}{
		{nil, `m`},
		{[]string{"a", "x"}, `m{a="x"}`},
		{[]string{"a", "x", "b", "y"}, `m{a="x",b="y"}`},
		{[]string{"platform", "p", "outcome", "sent"}, `m{outcome="sent",platform="p"}`},
		{[]string{"target", "https://x.com/a\"b\\c\nd"}, `m{target="https://x.com/a\"b\\c\nd"}`},
	} {
		got := metrics.Name("m", tt.kv...)
		if got != tt.want {
			t.Errorf("Name(m, %q) = %s, want %s", tt.kv, got, tt.want)
		}
		if err := vm.ValidateMetric(got); err != nil {
			t.Errorf("Name(m, %q) = %s: %v", tt.kv, got, err)
		}
	}
}

// A value from the configuration with a quote, a backslash and a line feed
// stays inside its label: the scrape parses, one line per sample.
func TestHostileLabelValuesKeepTheExpositionParseable(t *testing.T) {
	set := metrics.NewSet()
	m := metrics.New(set)
	hostile := "https://x.com/\"}\\\nfake_series 1"
	m.ObserveRound(probe.Round{Verdict: probe.VerdictDown, Targets: []probe.Result{
		{Target: hostile, Latency: 70 * time.Millisecond, Class: probe.ClassTimeout},
	}})
	m.RegionVerdicts([]bot.RegionVerdict{{Region: hostile, Verdict: probe.VerdictDown}})
	m.Send(bot.Platform(hostile), "sent", time.Second)
	text := metricstest.Text(set)
	series, err := metricstest.Parse(text)
	if err != nil {
		t.Fatalf("%v in\n%s", err, text)
	}
	if _, ok := series["fake_series"]; ok {
		t.Fatalf("a label value wrote a series of its own:\n%s", text)
	}
	failures := metrics.Name("xstatusbot_probe_failures_total", "target", hostile, "class", "timeout")
	if series[failures] != 1 {
		t.Errorf("%s = %v, want 1 in\n%s", failures, series[failures], text)
	}
	bucket := strings.TrimSuffix(metrics.Name("xstatusbot_probe_latency_seconds_bucket", "target", hostile), "}") + `,le="0.1"}`
	if series[bucket] != 1 {
		t.Errorf("%s = %v, want 1 in\n%s", bucket, series[bucket], text)
	}
	for family, typ := range map[string]string{
		"xstatusbot_probe_latency_seconds": "histogram", "xstatusbot_probe_failures_total": "counter",
		"xstatusbot_region_verdict": "gauge", "xstatusbot_leader": "gauge",
	} {
		if got := metricstest.Type(t, set, family); got != typ {
			t.Errorf("TYPE of %s = %q, want %q", family, got, typ)
		}
	}
}

// The probe latency histogram keeps its buckets, in Prometheus's le form.
func TestProbeLatencyBuckets(t *testing.T) {
	set := metrics.NewSet()
	metrics.New(set).ObserveRound(probe.Round{Verdict: probe.VerdictUp, Targets: []probe.Result{{Target: "t", Latency: 2500 * time.Millisecond}}})
	series := metricstest.Series(t, set)
	for le, want := range map[string]float64{"0.05": 0, "1": 0, "2": 0, "3": 1, "30": 1, "+Inf": 1} {
		name := `xstatusbot_probe_latency_seconds_bucket{target="t",le="` + le + `"}` // le last, as Prometheus writes it
		if v, ok := series[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if n := series[`xstatusbot_probe_latency_seconds_count{target="t"}`]; n != 1 {
		t.Errorf("count %v, want 1", n)
	}
}

// Regions no longer in the vote disappear, as do report kinds no longer
// counted beyond the known ones.
func TestReplacedFamiliesDropOldSeries(t *testing.T) {
	set := metrics.NewSet()
	m := metrics.New(set)
	m.RegionVerdicts([]bot.RegionVerdict{{Region: "eu", Verdict: probe.VerdictUp}, {Region: "us", Verdict: probe.VerdictDown}})
	m.RegionVerdicts([]bot.RegionVerdict{{Region: "eu", Verdict: probe.VerdictDown}})
	series := metricstest.Series(t, set)
	if v, ok := series[`xstatusbot_region_verdict{region="eu",verdict="down"}`]; !ok || v != 1 {
		t.Errorf("eu down = %v (present %v), want 1", v, ok)
	}
	for name := range series {
		if strings.Contains(name, `region="us"`) {
			t.Errorf("%s still shown after us left the vote", name)
		}
	}
	m.Crowd(bot.Crowd{Kinds: []bot.KindCount{{Kind: "odd", Count: 2}}, Signal: true})
	m.Crowd(bot.Crowd{})
	series = metricstest.Series(t, set)
	if _, ok := series[`xstatusbot_crowd_reports{kind="odd"}`]; ok {
		t.Error("a kind no longer counted is still shown")
	}
	if v, ok := series[metrics.Name("xstatusbot_crowd_reports", "kind", string(bot.ReportKinds[0]))]; !ok || v != 0 {
		t.Errorf("known kind = %v (present %v), want 0", v, ok)
	}
	if series["xstatusbot_crowd_signal"] != 0 {
		t.Error("crowd signal still on")
	}
}
