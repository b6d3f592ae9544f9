package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// waitFor polls cond until it holds or the deadline passes; the deadline only
// bounds a hung test, it measures nothing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

// waitWithin is waitFor with a deadline of its own, for conditions that
// include a lease expiring and a fan-out going on at a configured rate.
func waitWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type instance struct {
	stdout, stderr *bottest.Buffer
	addr           string
	cancel         context.CancelFunc
	kill           func() // SIGKILL, for a real binary; waits for the exit
	pid            int    // the process, for a real binary; 0 in-process
	done           chan int
	once           sync.Once
}

func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	in := &instance{stdout: &bottest.Buffer{}, stderr: &bottest.Buffer{}, addr: freeAddr(t), done: make(chan int, 1)}
	env["HTTP_ADDR"] = in.addr
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- run(ctx, nil, lookupFrom(env), in.stdout, in.stderr) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

func (in *instance) stop(t testing.TB) {
	in.once.Do(func() {
		in.cancel()
		select {
		case code := <-in.done:
			if code != 0 {
				t.Errorf("exit code %d; stderr:\n%s", code, in.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Error("bot did not stop")
		}
	})
}

func botEnv(t testing.TB, x, ctrl *fakex.Server) map[string]string {
	return map[string]string{
		"PROBE_SCHEDULE":        "@every 1s",
		"PROBE_TARGETS":         "web=" + x.URL() + "/home,api=" + x.URL() + "/2/tweets",
		"PROBE_CONTROL_TARGETS": "control=" + ctrl.URL() + "/",
		"PROBE_TIMEOUT":         "300ms",
		"PROBE_RETRY_DELAY":     "10ms",
		"DB_PATH":               filepath.Join(t.TempDir(), "bot.db"),
		"LOG_LEVEL":             "debug",
	}
}

// health fetches /healthz.
func (in *instance) health(t *testing.T) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + in.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("healthz is not JSON: %v", err)
	}
	return resp.StatusCode, h
}

func (in *instance) rounds() int { return strings.Count(in.stderr.String(), "msg=round ") }

func TestEndToEndOutageAndRecovery(t *testing.T) {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	in := start(t, botEnv(t, x, ctrl))
	waitFor(t, "initial state", func() bool { return strings.Contains(in.stderr.String(), "initial state established") })

	if code, health := in.health(t); code != 200 || health["state"] != "up" {
		t.Fatalf("healthz %d %v", code, health)
	}

	x.Set(fakex.Down503)
	waitFor(t, "down alert", func() bool { return strings.Contains(in.stdout.String(), "[DOWN]") })
	x.Set(fakex.Up)
	waitFor(t, "recovery", func() bool { return strings.Contains(in.stdout.String(), "[UP]") })
	n := in.rounds()
	waitFor(t, "three more rounds", func() bool { return in.rounds() >= n+3 })

	out := in.stdout.String()
	if strings.Count(out, "[DOWN]") != 1 || strings.Count(out, "[UP]") != 1 || strings.Count(out, "[") != 2 {
		t.Fatalf("want exactly one down and one up alert, got:\n%s", out)
	}
	if !strings.Contains(out, "web: HTTP 503") || !strings.Contains(out, "It was down for") {
		t.Fatalf("alerts lack causes or duration:\n%s", out)
	}
	resp, err := http.Get("http://" + in.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`xstatusbot_transitions_total{to="down"} 1`, `xstatusbot_notifications_total{outcome="sent",platform="console"} 2`, `xstatusbot_rounds_total{verdict="down"}`, `xstatusbot_probe_latency_seconds_bucket{target="web"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The status page's JSON, wired to the board the rounds refresh, knows
	// the outage that just ended.
	var status struct {
		State     string `json:"state"`
		Days      []any  `json:"days"`
		Incidents []struct {
			Ongoing bool   `json:"ongoing"`
			Worst   string `json:"worst"`
		} `json:"incidents"`
	}
	waitFor(t, "the outage on the status board", func() bool {
		resp, err := http.Get("http://" + in.addr + "/api/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&status) == nil &&
			len(status.Incidents) == 1 && !status.Incidents[0].Ongoing
	})
	if status.State != "up" || len(status.Days) != 90 || status.Incidents[0].Worst != "down" {
		t.Fatalf("/api/status after the outage: %+v", status)
	}
	resp, err = http.Get("http://" + in.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
		t.Fatalf("status page: %d\n%s", resp.StatusCode, page)
	}
}

func TestEndToEndOwnNetworkDownAnnouncesNothing(t *testing.T) {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	in := start(t, botEnv(t, x, ctrl))
	waitFor(t, "initial state", func() bool { return strings.Contains(in.stderr.String(), "initial state established") })
	x.Set(fakex.Down503)
	ctrl.Set(fakex.Down503)
	waitFor(t, "ignored rounds", func() bool { return strings.Count(in.stderr.String(), "own network check failed") >= 4 })
	if _, health := in.health(t); health["control_ok"] != false || health["status"] != "network" || health["state"] != "up" {
		t.Fatalf("healthz %v", health)
	}
	if out := in.stdout.String(); out != "" {
		t.Fatalf("announced while the bot's own network was down:\n%s", out)
	}
}

func TestRestartAnnouncesNothingTwice(t *testing.T) {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	env := botEnv(t, x, ctrl)
	in := start(t, env)
	waitFor(t, "initial state", func() bool { return strings.Contains(in.stderr.String(), "initial state established") })
	x.Set(fakex.Down503)
	waitFor(t, "down alert", func() bool { return strings.Contains(in.stdout.String(), "[DOWN]") })
	in.stop(t)

	// X recovers while the bot is stopped.
	x.Set(fakex.Up)
	in2 := start(t, env)
	waitFor(t, "recovery", func() bool { return strings.Contains(in2.stdout.String(), "[UP]") })
	n := in2.rounds()
	waitFor(t, "three more rounds", func() bool { return in2.rounds() >= n+3 })
	if out := in2.stdout.String(); strings.Contains(out, "[DOWN]") || strings.Count(out, "[UP]") != 1 {
		t.Fatalf("after restart:\n%s", out)
	}
	if strings.Contains(in2.stderr.String(), "initial state established") {
		t.Fatal("restart treated as a first start")
	}
}

// TestDemo runs the newcomer's demo as they would and checks it tells the whole story.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes about 20 seconds")
	}
	var stdout, stderr bottest.Buffer
	if code := run(context.Background(), []string{"demo"}, lookupFrom(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("demo exit code %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"taking fake X down", "[DOWN] 🔴 X is down", "web: HTTP 503", "outage detected and announced", "[UP] 🟢 X is back up", "It was down for", "demo over"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "[DOWN]") != 1 || strings.Count(out, "[UP]") != 1 {
		t.Errorf("want one down and one up alert:\n%s", out)
	}
}

// established waits until the leader has established X's initial state as
// up: a change before that is not announced.
func established(t testing.TB, in *instance) {
	t.Helper()
	waitFor(t, "the initial state", func() bool { return healthOf(t, in).State == "up" })
}
