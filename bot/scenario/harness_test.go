// Package scenario_test runs the parts together, wired as cmd wires them,
// in one process: a scripted probe, the monitor, the SQLite store, the
// command service and the dispatcher with recording notifiers, on a manual
// clock. Each test is a story a user would tell ("X went down twice, my muted
// chat heard once"); the packages' own tests cover their parts alone.
package scenario_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Platform names as the adapters own them: bot names none.
const (
	tgPlatform bot.Platform = "telegram"
	dcPlatform bot.Platform = "discord"
)

// t0 lies in the past so tests that run the dispatcher on the real clock find rows due.
var t0 = time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC)

// script is a probe whose next verdicts are set by the test.
type script struct {
	clock   *bottest.Clock
	verdict probe.Verdict
}

func (s *script) Round(ctx context.Context) probe.Round {
	r := probe.Round{Start: s.clock.Now(), Verdict: s.verdict}
	switch s.verdict {
	case probe.VerdictDown:
		r.Targets = []probe.Result{{Target: "web", Class: probe.ClassTimeout, Detail: "timeout after 10s"}, {Target: "api", Class: probe.ClassStatus, Status: 503, Detail: "HTTP 503"}}
	case probe.VerdictDegraded:
		r.Targets = []probe.Result{{Target: "web", Latency: 80 * time.Millisecond}, {Target: "api", Class: probe.ClassStatus, Status: 503, Detail: "HTTP 503"}}
	case probe.VerdictUnknown:
		r.Targets = []probe.Result{{Target: "web", Class: probe.ClassConnect, Detail: "network unreachable"}}
		r.Controls = []probe.Result{{Target: "ctrl", Class: probe.ClassConnect, Detail: "network unreachable"}}
	default:
		r.Targets = []probe.Result{{Target: "web", Latency: 80 * time.Millisecond}, {Target: "api", Latency: 120 * time.Millisecond, Status: 401}}
	}
	return r
}

// sent is one message a fake notifier delivered.
type sent struct {
	Chat string
	Msg  bot.Message
	ID   string
}

// recorder is a Notifier that records messages and fails on demand.
type recorder struct {
	mu    sync.Mutex
	sent  []sent
	calls map[string]int
	// fail returns the error for the n-th call (1-based) to a chat, or nil.
	fail func(chat string, n int) error
}

func (r *recorder) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[chat]++
	if r.fail != nil {
		if err := r.fail(chat, r.calls[chat]); err != nil {
			return "", err
		}
	}
	id := fmt.Sprintf("%s-%d", chat, len(r.sent)+1)
	r.sent = append(r.sent, sent{chat, m, id})
	return id, nil
}

func (r *recorder) To(chat string) []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sent
	for _, s := range r.sent {
		if s.Chat == chat {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) Calls(chat string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[chat]
}

// env is a monitor, dispatcher and service on a real SQLite store.
type env struct {
	t      *testing.T
	path   string
	clock  *bottest.Clock
	probe  *script
	store  *store.Store
	mon    *monitor.Monitor
	disp   *delivery.Dispatcher
	svc    *command.Service
	tg, dc *recorder
	policy delivery.Policy
	// opts are the store's options, used by start.
	opts []store.Option
	// flapChanges and flapWindow are the monitor's flap rule (0: off).
	flapChanges int
	flapWindow  time.Duration
	// metrics, if set, are the monitor's.
	metrics *metrics.Metrics
	// tally counts people's reports: 5 within 10 minutes raise the signal.
	tally *crowd.Tally
	// replicas: other processes share the store (each round reads their
	// reports back); otherwise the monitor is alone on it, as main wires SQLite.
	replicas bool
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, path: filepath.Join(t.TempDir(), "bot.db"), clock: bottest.NewClock(t0), tg: &recorder{}, dc: &recorder{}}
	e.probe = &script{clock: e.clock, verdict: probe.VerdictUp}
	e.policy = delivery.Policy{PerChat: time.Second, Workers: 4, MaxAttempts: 4, MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: time.Minute}
	e.start()
	return e
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start opens the store and builds the service as a fresh process would.
func (e *env) start() {
	s, err := store.OpenSQLite(context.Background(), e.path, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = s
	e.t.Cleanup(func() { s.Close() })
	e.tally = crowd.NewTally(crowd.Rule{Reports: 5, Window: 10 * time.Minute}) // a fresh process counts afresh
	e.mon = monitor.New(monitor.Config{Probe: e.probe.Round, Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2}, Store: s, Now: e.clock.Now, Log: quiet(),
		FlapChanges: e.flapChanges, FlapWindow: e.flapWindow, Metrics: e.metrics, Crowd: e.tally, Reports: s, Alone: !e.replicas})
	if err := e.mon.Load(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.disp = delivery.NewDispatcher(s, []delivery.Channel{
		{Platform: tgPlatform, Notifier: e.tg, Policy: e.policy},
		{Platform: dcPlatform, Notifier: e.dc, Policy: e.policy},
	}, e.clock, quiet(), nil)
	e.svc = command.NewService(s, s, e.clock.Now, quiet(), command.WithReports(s, e.tally))
}

// restart closes the store and starts again on the same file.
func (e *env) restart() {
	e.store.Close()
	e.start()
}

func (e *env) subscribe(p bot.Platform, ids ...string) {
	for _, id := range ids {
		reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: p, ID: id}, Kind: "private", Private: true, Name: "subscribe"})
		if !strings.Contains(reply.Title, "Subscribed") {
			e.t.Fatalf("subscribe %s: %q", id, reply.Title)
		}
	}
}

// rounds runs one round per verdict, 10 s apart.
func (e *env) rounds(verdicts ...probe.Verdict) {
	for _, v := range verdicts {
		e.probe.verdict = v
		if err := e.mon.RunRound(context.Background()); err != nil {
			e.t.Fatal(err)
		}
		e.clock.Advance(10 * time.Second)
	}
}

func (e *env) flush() {
	if err := e.disp.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) outcomes() []store.Outcome {
	out, err := e.store.Outcomes(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

const (
	up       = probe.VerdictUp
	down     = probe.VerdictDown
	degraded = probe.VerdictDegraded
	unknown  = probe.VerdictUnknown
)
