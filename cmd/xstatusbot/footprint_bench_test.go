package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkFootprint measures what the real binary costs the machine, CPU
// and memory together, beside a reference run at the same time on the same
// machine: a minimal plain HTTP prober (testdata/plainprober, built here)
// probing the same URLs every second. Both are built stripped and static
// (the bot with BENCH_TAGS as -tags), started against one fake X on
// 127.0.0.1, and left a few seconds to settle; then, for BENCH_FOOTPRINT_SECONDS
// each (default 60):
//
//   - idle: the fake X healthy;
//   - busy: 8 outages, one per eighth of the phase, the fake X failing for
//     the first half of it (503, connections reset, hangs, 2 s late answers, in
//     turn) and healthy for the second.
//
// CPU is utime+stime of /proc/PID/stat over the phase, reported per minute
// (s/min) for the bot and the reference, and their ratio. Memory is the bot's
// VmRSS at the end of each phase and its VmHWM at the end. Two setups run:
//
//   - one: 1 target, no control, no subscriber — what was measured against
//     Gatus from outside;
//   - four: 4 targets and 1 control, 10,000 Telegram subscriptions (stored
//     only: no token), as BenchmarkMemory — the resident memory target's
//     setting. Its busy phase fans each change out to 10,000 outbox rows.
//
// The bot runs with its defaults otherwise (the console notifier, the flap
// rule); the alerts the console prints in the busy phase are counted, and
// none at all fails the benchmark. Targets: the bot at most 20 MB resident
// and no more CPU a minute than the reference (about 0.15 s on the project's
// machine), idle and busy.
//
// With BENCH_PPROF_DIR set, the bot is built with -tags pprof and each
// phase's CPU profile and the heap at its end are written there
// (<setup>-<phase>.cpu.pprof, .heap.pprof); the profiler's own cost then
// shows in the CPU figures, which are not the figures for the README.
//
//	go test -run '^$' -bench Footprint -benchtime 1x -timeout 30m ./cmd/xstatusbot
func BenchmarkFootprint(b *testing.B) {
	b.StopTimer()
	phase := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("BENCH_FOOTPRINT_SECONDS")); err == nil && v > 0 {
		phase = time.Duration(v) * time.Second
	}
	if phase < 48*time.Second {
		b.Fatalf("BENCH_FOOTPRINT_SECONDS=%d: at least 48, for 8 outages of 3 s or more at 1 s rounds", int(phase/time.Second))
	}
	profiles := os.Getenv("BENCH_PPROF_DIR")
	dir := b.TempDir()
	tags := os.Getenv("BENCH_TAGS")
	if profiles != "" {
		tags = strings.TrimPrefix(tags+",pprof", ",")
	}
	bin := buildStatic(b, filepath.Join(dir, "xstatusbot"), ".", tags)
	ref := buildStatic(b, filepath.Join(dir, "plainprober"), "./testdata/plainprober", "")
	seeded := filepath.Join(dir, "seeded.db")
	seedSubscriptions(b, seeded, 10000)
	for _, s := range []footprintSetup{{name: "one", targets: 1}, {name: "four", targets: 4, control: true, db: seeded}} {
		b.Run(s.name, func(b *testing.B) {
			for range b.N {
				runFootprint(b, bin, ref, s, phase, profiles)
			}
		})
	}
}

// footprintSetup is what the bot probes and how many subscribers it holds.
type footprintSetup struct {
	name    string
	targets int
	control bool
	db      string // a seeded database to start from; "": an empty one
}

func buildStatic(b *testing.B, out, pkg, tags string) string {
	b.Helper()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+tags, "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, o)
	}
	return out
}

func runFootprint(b *testing.B, bin, ref string, s footprintSetup, phase time.Duration, profiles string) {
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	u := x.URL()
	urls := []string{u + "/home", u + "/2/tweets", u + "/static", u + "/media"}[:s.targets]
	controls := ""
	if s.control {
		controls = ctrl.URL() + "/"
	}
	db := filepath.Join(b.TempDir(), "bot.db")
	if s.db != "" {
		copyFile(b, s.db, db)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"PROBE_SCHEDULE=@every 1s",
		"PROBE_TARGETS=" + strings.Join(urls, ","),
		"PROBE_CONTROL_TARGETS=" + controls,
		"HTTP_ADDR=off",
		"DB_PATH=" + db,
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} { // to compare collector settings
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	pprofAddr := ""
	if profiles != "" {
		pprofAddr = freeAddr(b)
		env = append(env, "XSTATUSBOT_PPROF_ADDR="+pprofAddr)
	}
	botCmd := exec.Command(bin)
	botCmd.Dir, botCmd.Env = b.TempDir(), env
	logs := &bottest.Buffer{}
	botCmd.Stderr = logs
	stdout, err := botCmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var alerts alertCount
	refArgs := urls
	if s.control {
		refArgs = append(refArgs, controls)
	}
	refCmd := exec.Command(ref, refArgs...)
	refCmd.Stdout, refCmd.Stderr = io.Discard, io.Discard
	for _, c := range []*exec.Cmd{botCmd, refCmd} {
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			_ = c.Process.Signal(syscall.SIGTERM) // our own children, by their PIDs
			_ = c.Wait()
		}()
	}
	go alerts.read(stdout)

	// Start-up (migrations, the first board) is not what a minute costs.
	awaitBench(b, "the first round", func() bool { return x.Hits() >= 2*s.targets })
	time.Sleep(5 * time.Second)

	measure := func(name string, during func()) (bot, reference float64) {
		var prof sync.WaitGroup
		if profiles != "" {
			prof.Add(1)
			go func() {
				defer prof.Done()
				secs := max(1, int(phase/time.Second)-1)
				fetchProfile(b, pprofAddr, fmt.Sprintf("profile?seconds=%d", secs), filepath.Join(profiles, s.name+"-"+name+".cpu.pprof"))
			}()
		}
		bot0, ref0 := cpuTime(b, botCmd.Process.Pid), cpuTime(b, refCmd.Process.Pid)
		start := time.Now()
		during()
		bot1, ref1 := cpuTime(b, botCmd.Process.Pid), cpuTime(b, refCmd.Process.Pid)
		perMin := time.Minute.Seconds() / time.Since(start).Seconds()
		prof.Wait()
		if profiles != "" {
			fetchProfile(b, pprofAddr, "heap", filepath.Join(profiles, s.name+"-"+name+".heap.pprof"))
		}
		return (bot1 - bot0).Seconds() * perMin, (ref1 - ref0).Seconds() * perMin
	}

	idleBot, idleRef := measure("idle", func() { time.Sleep(phase) })
	rssIdle, _ := vmMemory(b, botCmd.Process.Pid)
	if a := alerts.total(); a != 0 {
		b.Fatalf("%d alerts while X was healthy; logs:\n%s", a, logs.String())
	}
	shapes := []string{"503", "reset", "hang", "slow"}
	busyBot, busyRef := measure("busy", func() {
		start, slot := time.Now(), phase/8
		for i := range 8 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * slot)))
			breakX(x, shapes[i%len(shapes)])
			time.Sleep(slot / 2)
			breakX(x, "up")
		}
		time.Sleep(time.Until(start.Add(phase)))
	})
	rssBusy, hwm := vmMemory(b, botCmd.Process.Pid)
	if alerts.total() == 0 {
		b.Fatalf("no alert in the busy phase: it was not busy; logs:\n%s", logs.String())
	}

	b.ReportMetric(idleBot, "cpu-idle-s/min")
	b.ReportMetric(idleRef, "ref-cpu-idle-s/min")
	b.ReportMetric(busyBot, "cpu-busy-s/min")
	b.ReportMetric(busyRef, "ref-cpu-busy-s/min")
	b.ReportMetric(idleBot/max(idleRef, 0.01), "idle-x-ref")
	b.ReportMetric(busyBot/max(busyRef, 0.01), "busy-x-ref")
	b.ReportMetric(rssIdle, "VmRSS-idle-MB")
	b.ReportMetric(rssBusy, "VmRSS-busy-MB")
	b.ReportMetric(hwm, "VmHWM-MB")
	b.ReportMetric(float64(alerts.total()), "alerts")
	refRSS, _ := vmMemory(b, refCmd.Process.Pid)
	b.ReportMetric(refRSS, "ref-VmRSS-MB")
}

// consoleAlert is the first line of an alert the console prints.
var consoleAlert = regexp.MustCompile(`^\S+ \[(DOWN|DEGRADED|UP|INFO)\] `)

// alertCount counts the console's alert lines.
type alertCount struct {
	mu sync.Mutex
	n  int
}

func (a *alertCount) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if consoleAlert.MatchString(sc.Text()) {
			a.mu.Lock()
			a.n++
			a.mu.Unlock()
		}
	}
}

func (a *alertCount) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// cpuTime is the user and system time the process pid has used, from
// /proc/PID/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: fields count from after it.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		b.Fatalf("short /proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// vmMemory is VmRSS and VmHWM of pid, in MB (MiB, as /proc's kB are KiB).
func vmMemory(b *testing.B, pid int) (rss, hwm float64) {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// fetchProfile saves what the bot's pprof endpoint serves at path.
func fetchProfile(b *testing.B, addr, path, file string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+path, nil)
	if err != nil {
		b.Error(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Errorf("profile %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		b.Errorf("profile %s: %v", path, err)
	}
}
