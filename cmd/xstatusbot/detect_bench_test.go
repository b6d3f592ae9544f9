package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkDetect measures how soon the real binary, built here, announces
// an outage and its end: it probes a fake X on 127.0.0.1 every second with
// every other probe setting at its default (4 targets given as plain URLs,
// 1 healthy control, console notifier, the flap rule off), while the fake X fails
// BENCH_OUTAGES times (default 10) in each shape, each time at a random
// phase of the round:
//
//   - 503: every answer is HTTP 503;
//
//   - reset: every connection is reset;
//
//   - hang: connections are accepted and never answered;
//
//   - slow: every answer comes 2 s late, past what a round of 1 s allows.
//
//     go test -run '^$' -bench 'Detect$' -benchtime 1x -timeout 30m ./cmd/xstatusbot
//
// Reported per shape: detect-median-s and detect-worst-s (the fault begins →
// the "[DOWN]" console line read from the process's stdout),
// recover-median-s and recover-worst-s (fake X healthy again → "[UP]"),
// rounds (requests to the control) and ticks (the run's length in
// intervals: fewer rounds than ticks would be skipped ticks). The target is two rounds + 1 s (3 s)
// for the worst of each. Only a missing or repeated alert fails the
// benchmark; times never do.
func BenchmarkDetect(b *testing.B) {
	benchDetect(b, detectSetup{every: time.Second, outages: benchOutages(10),
		shapes: []string{"503", "reset", "hang", "slow"}})
}

// BenchmarkDetectDefaults is the same with every setting at its default
// (@every 30s, PROBE_CONFIRM_DELAY 5s, PROBE_TIMEOUT 10s, two rounds each
// way): BENCH_OUTAGES (default 5) outages each of 503 and hang at a random
// phase. It takes about 15 minutes. Targets (README): a 503 within 40 s of
// its start, a hang within 60 s, each recovery within 45 s.
//
//	go test -run '^$' -bench DetectDefaults -benchtime 1x -timeout 60m ./cmd/xstatusbot
func BenchmarkDetectDefaults(b *testing.B) {
	benchDetect(b, detectSetup{every: 30 * time.Second, outages: benchOutages(5), shapes: []string{"503", "hang"}})
}

func benchOutages(def int) int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_OUTAGES")); err == nil && v > 0 {
		return v
	}
	return def
}

// detectSetup is one detection benchmark: the schedule's interval, the
// fault shapes and how many outages of each.
type detectSetup struct {
	every   time.Duration
	outages int
	shapes  []string
}

func benchDetect(b *testing.B, setup detectSetup) {
	b.StopTimer() // only the metrics mean something, not ns/op
	bin := filepath.Join(b.TempDir(), "xstatusbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for i := 0; i < b.N; i++ {
		r := runDetect(b, bin, setup)
		if i == b.N-1 {
			r.report(b, setup.shapes)
		}
	}
}

type detectRun struct {
	detect, recover map[string][]time.Duration
	rounds          int
	// ticks is how many ticks of the schedule the run lasted: rounds below
	// it would be skipped ticks, above it confirming rounds.
	ticks float64
}

// alertLine is a console alert as the benchmark saw it arrive.
type alertLine struct {
	up bool
	at time.Time
}

// breakX puts the fake X in a fault shape, or back to healthy for "up".
func breakX(x *fakex.Server, shape string) {
	x.SetDelay(0)
	switch shape {
	case "503":
		x.Set(fakex.Down503)
	case "reset":
		x.Set(fakex.Reset)
	case "hang":
		x.Set(fakex.Hang)
	case "slow":
		x.Set(fakex.Up)
		x.SetDelay(2 * time.Second)
	default:
		x.Set(fakex.Up)
	}
}

func runDetect(b *testing.B, bin string, setup detectSetup) detectRun {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	u := x.URL()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"PROBE_TARGETS=" + u + "/home," + u + "/2/tweets," + u + "/static," + u + "/media",
		"PROBE_CONTROL_TARGETS=" + ctrl.URL() + "/",
		"HTTP_ADDR=off",
		"DB_PATH=" + filepath.Join(b.TempDir(), "bot.db"),
		"CONSOLE_NOTIFIER=on",
		// Outage after outage within minutes is what the flap rule folds into
		// one "unstable" message; each one is measured here.
		"FLAP_CHANGES=0",
	}
	if setup.every != 30*time.Second {
		env = append(env, "PROBE_SCHEDULE=@every "+setup.every.String())
	}
	cmd := exec.Command(bin)
	cmd.Dir = b.TempDir() // no stray .env
	cmd.Env = env
	logs := &bottest.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	total := setup.outages * len(setup.shapes)
	alerts := make(chan alertLine, 4*total+4)
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		readAlerts(stdout, alerts)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // our own child, by its PID
		read.Wait()
		_ = cmd.Wait()
	}()

	// The first healthy round sets the state silently.
	awaitBench(b, "the first round", func() bool { return ctrl.Hits() >= 1 && x.Hits() >= 4 })
	began := time.Now()
	// An alert this late is a missing alert: three rounds and a hang's two timeouts.
	late := 3*setup.every + 30*time.Second
	next := func(up bool, what string) time.Time {
		select {
		case a := <-alerts:
			if a.up != up {
				b.Fatalf("got %s alert, want the %s; logs:\n%s", word(a.up), what, logs.String())
			}
			return a.at
		case <-time.After(late):
			b.Fatalf("no alert for the %s; logs:\n%s", what, logs.String())
			return time.Time{}
		}
	}
	r := detectRun{detect: map[string][]time.Duration{}, recover: map[string][]time.Duration{}}
	for i := range total {
		shape := setup.shapes[i%len(setup.shapes)] // the shapes take turns
		// A random phase of the round: the fault may begin just after a
		// round's requests, or just before the next.
		time.Sleep(rand.N(setup.every))
		down := time.Now()
		breakX(x, shape)
		r.detect[shape] = append(r.detect[shape], next(false, fmt.Sprintf("%s outage %d", shape, i+1)).Sub(down))

		time.Sleep(rand.N(setup.every))
		back := time.Now()
		breakX(x, "up")
		r.recover[shape] = append(r.recover[shape], next(true, fmt.Sprintf("%s recovery %d", shape, i+1)).Sub(back))
	}
	// Two more healthy rounds show whether any alert came twice.
	n := ctrl.Hits()
	awaitBench(b, "two more rounds", func() bool { return ctrl.Hits() >= n+2 })
	select {
	case a := <-alerts:
		b.Fatalf("an extra %s alert after the last recovery", word(a.up))
	default:
	}
	r.rounds = ctrl.Hits() // the healthy control is asked exactly once a round
	r.ticks = float64(time.Since(began)) / float64(setup.every)
	return r
}

// readAlerts timestamps each console alert line as it arrives. It never
// blocks on out, so the pipe keeps draining even after a failed run.
func readAlerts(r io.Reader, out chan<- alertLine) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a := alertLine{at: time.Now()}
		switch line := sc.Text(); {
		case strings.Contains(line, "[DOWN]"):
		case strings.Contains(line, "[UP]"):
			a.up = true
		default:
			continue
		}
		select {
		case out <- a:
		default:
		}
	}
}

func word(up bool) string {
	if up {
		return "an UP"
	}
	return "a DOWN"
}

func awaitBench(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r detectRun) report(b *testing.B, shapes []string) {
	med, worst := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		if len(s)%2 == 1 {
			return s[len(s)/2].Seconds()
		}
		return (s[len(s)/2-1] + s[len(s)/2]).Seconds() / 2
	}, func(ds []time.Duration) float64 { return slices.Max(ds).Seconds() }
	for _, shape := range shapes {
		b.ReportMetric(med(r.detect[shape]), shape+"-detect-median-s")
		b.ReportMetric(worst(r.detect[shape]), shape+"-detect-worst-s")
		b.ReportMetric(med(r.recover[shape]), shape+"-recover-median-s")
		b.ReportMetric(worst(r.recover[shape]), shape+"-recover-worst-s")
		b.Logf("%s: detect %v", shape, r.detect[shape])
		b.Logf("%s: recover %v", shape, r.recover[shape])
	}
	b.ReportMetric(float64(r.rounds), "rounds")
	b.ReportMetric(r.ticks, "ticks")
}

// BenchmarkMemory measures the README's memory promise: the stripped real binary probes
// 4 targets and 1 control on a fake X on 127.0.0.1 every second, with 10,000
// Telegram subscriptions in its database (no token: they are only stored),
// for BENCH_MEMORY_SECONDS (default 60); then VmRSS and VmHWM of the process
// are read from /proc. Target: at most 20 MB. The binary is built as
// `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w"`, with BENCH_TAGS as
// -tags (nopostgres: the single-machine build).
//
//	go test -run '^$' -bench Memory -benchtime 1x ./cmd/xstatusbot
func BenchmarkMemory(b *testing.B) {
	b.StopTimer()
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("BENCH_MEMORY_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "xstatusbot")
	// BENCH_TAGS=nopostgres measures the single-machine build without the PostgreSQL driver.
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+os.Getenv("BENCH_TAGS"), "-o", bin, ".")
	// Static, as the project has no cgo: a cgo-enabled build links libc
	// dynamically for the net package's resolver, about 1.4 MB more resident.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "bot.db")
	seedSubscriptions(b, db, 10000)
	for i := 0; i < b.N; i++ {
		rss, hwm := runMemory(b, bin, db, time.Duration(secs)*time.Second)
		b.ReportMetric(rss, "VmRSS-MB")
		b.ReportMetric(hwm, "VmHWM-MB")
	}
}

func seedSubscriptions(b *testing.B, path string, n int) {
	ctx := context.Background()
	store, err := store.OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for i := range n {
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: telegram.Platform, ID: strconv.Itoa(100000 + i)}, Kind: telegram.KindPrivate, CreatedAt: time.Now()}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
}

func runMemory(b *testing.B, bin, db string, d time.Duration) (rss, hwm float64) {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	u := x.URL()
	cmd := exec.Command(bin)
	cmd.Dir = b.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"PROBE_SCHEDULE=@every 1s",
		"PROBE_TARGETS=" + u + "/home," + u + "/2/tweets," + u + "/static," + u + "/media",
		"PROBE_CONTROL_TARGETS=" + ctrl.URL() + "/",
		"HTTP_ADDR=off",
		"DB_PATH=" + db,
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} { // to compare collector settings
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	logs := &bottest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // our own child, by its PID
		_ = cmd.Wait()
	}()
	awaitBench(b, "the first round", func() bool { return ctrl.Hits() >= 1 })
	time.Sleep(d) // the figure is defined after this much probing
	if ctrl.Hits() < int(d/time.Second)/2 {
		b.Fatalf("only %d rounds in %s; logs:\n%s", ctrl.Hits(), d, logs.String())
	}
	rss, hwm = vmMemory(b, cmd.Process.Pid)
	b.Logf("%d rounds; %s", ctrl.Hits(), logs.String()[:min(len(logs.String()), 2000)])
	return rss, hwm
}
