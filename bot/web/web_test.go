package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/metrics/metricstest"
	"github.com/xstatusbot/xstatusbot/bot/web"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names as the adapters own them: bot names none.
const (
	tgPlatform bot.Platform = "telegram"
	dcPlatform bot.Platform = "discord"
)

type monitor struct{ h bot.Health }

func (m monitor) Health(time.Duration) bot.Health { return m.h }

type delivery struct {
	backlog   map[bot.Platform]bot.Backlog
	platforms map[bot.Platform]bot.PlatformHealth
}

func (d delivery) Backlog(context.Context) (map[bot.Platform]bot.Backlog, error) {
	return d.backlog, nil
}
func (d delivery) Platforms() map[bot.Platform]bot.PlatformHealth { return d.platforms }

func TestHealthz(t *testing.T) {
	for _, tt := range []struct {
		name      string
		health    bot.Health
		platforms map[bot.Platform]bot.PlatformHealth
		code      int
		status    string
		problem   string
		leading   bool
	}{
		{"fresh", bot.Health{State: probe.StateUp, ControlOK: true, LastVerdict: probe.VerdictUp}, nil, 200, "ok", "", true},
		{"follower", bot.Health{State: probe.StateUp, ControlOK: true, LastVerdict: probe.VerdictUp}, nil, 200, "ok", "", false},
		{"stale", bot.Health{State: probe.StateUp, ControlOK: true, Stale: true}, nil, 503, "stale", "no probe round", true},
		{"own network broken", bot.Health{State: probe.StateUp, ControlOK: false, LastVerdict: probe.VerdictUnknown}, nil, 200, "network", "control targets fail", true},
		{"token revoked", bot.Health{State: probe.StateUp, ControlOK: true}, map[bot.Platform]bot.PlatformHealth{
			tgPlatform: {State: bot.PlatformUnauthorized}, dcPlatform: {State: bot.PlatformReady},
		}, 200, "platform", "telegram unauthorized", true},
		{"store refuses writes", bot.Health{State: probe.StateUp, ControlOK: true}, map[bot.Platform]bot.PlatformHealth{
			tgPlatform: {State: bot.PlatformReady, Unrecorded: 2, StoreError: "database is locked"},
		}, 200, "store", "2 held in memory", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := metrics.NewSet()
			d := delivery{backlog: map[bot.Platform]bot.Backlog{tgPlatform: {Pending: 3}}, platforms: tt.platforms}
			srv := httptest.NewServer(web.Handler(monitor{tt.health}, d, leadership{bot.Term{Holder: "a", Epoch: 4}, tt.leading}, time.Minute, reg))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got web.Health
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code || got.Status != tt.status || got.Outbox[tgPlatform].Pending != 3 ||
				!strings.Contains(got.Problem, tt.problem) || len(got.Platforms) != len(tt.platforms) {
				t.Fatalf("%d %+v", resp.StatusCode, got)
			}
			if role := map[bool]string{true: "leader", false: "follower"}[tt.leading]; got.Role != role || got.Epoch != 4 {
				t.Fatalf("role %q epoch %d, want %q and the lease's epoch 4", got.Role, got.Epoch, role)
			}
		})
	}
}

type leadership struct {
	term    bot.Term
	leading bool
}

func (l leadership) Status() (bot.Term, bool) { return l.term, l.leading }

// /metrics serves the set's metrics with their TYPE, then the Go runtime's
// and the process's, as one exposition a scraper parses, even with a label
// value holding a quote, a backslash and a line feed.
func TestMetricsExposition(t *testing.T) {
	set := metrics.NewSet()
	m := metrics.New(set)
	m.Leadership(true)
	hostile := "https://x.com/\"\\\nx"
	m.ObserveRound(probe.Round{Verdict: probe.VerdictDown, Targets: []probe.Result{{Target: hostile, Class: probe.ClassTimeout}}})
	srv := httptest.NewServer(web.Handler(monitor{bot.Health{}}, delivery{}, leadership{}, time.Minute, set))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/metrics")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("%d %s", resp.StatusCode, ct)
	}
	series, err := metricstest.Parse(body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	for name, want := range map[string]float64{
		"xstatusbot_leader": 1, metrics.Name("xstatusbot_probe_failures_total", "target", hostile, "class", "timeout"): 1,
	} {
		if v, ok := series[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := series[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for _, line := range []string{"# TYPE xstatusbot_leader gauge", "# TYPE xstatusbot_probe_failures_total counter"} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("no %q", line)
		}
	}
}
