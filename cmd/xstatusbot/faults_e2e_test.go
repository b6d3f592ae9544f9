package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/bot/web"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestRealBinaryFaults is the fault suite against the real program:
// built with go build, run with os/exec, stopped by its PID. Each subtest
// breaks one precondition the way production does and checks that every
// subscriber still hears of the outage exactly once. The binary is built
// once and shared; the subtests run one after the other to keep the load of
// two concurrent CI runs on two cores modest.
func TestRealBinaryFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	t.Run("sigterm with sends in flight", func(t *testing.T) { testSigtermMidSend(t, bin) })
	t.Run("telegram token revoked while running", func(t *testing.T) { testTokenRevoked(t, bin, "telegram") })
	t.Run("discord token revoked while running", func(t *testing.T) { testTokenRevoked(t, bin, "discord") })
	t.Run("telegram down beyond the retry budget", func(t *testing.T) { testTelegramLongOutage(t, bin) })
	t.Run("malformed dotenv with a token", func(t *testing.T) { testMalformedDotenv(t, bin) })
	t.Run("sigkill during a fan-out", func(t *testing.T) { testKillDuringFanOut(t, bin) })
}

// buildBinary builds the program into a temporary directory, once per test.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "xstatusbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the built program in dir with only env (and PATH) as its
// environment. The *instance it returns works with the in-process helpers
// (health, rounds, stop): its cancel sends SIGTERM, once, as a second signal
// racing the exit would turn a clean stop into a death by signal; its done
// carries the exit code. Cleanup stops it and, should it hang, kills it.
func startBinary(t testing.TB, bin, dir string, env map[string]string) *instance {
	t.Helper()
	in := &instance{stdout: &bottest.Buffer{}, stderr: &bottest.Buffer{}, addr: env["HTTP_ADDR"], done: make(chan int, 1)}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = in.stdout, in.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.pid = cmd.Process.Pid
	var signalled sync.Once
	in.cancel = func() { signalled.Do(func() { _ = cmd.Process.Signal(syscall.SIGTERM) }) }
	exited := make(chan struct{})
	in.kill = func() {
		in.once.Do(func() { // a killed bot has nothing left to stop
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			<-in.done
		})
	}
	go func() {
		_ = cmd.Wait()
		in.done <- cmd.ProcessState.ExitCode()
		close(exited)
	}()
	t.Cleanup(func() {
		in.stop(t)
		_ = cmd.Process.Kill() // only if stop timed out; a no-op on an exited process
		<-exited
	})
	return in
}

// running reports whether the process has not exited yet; only meaningful
// before stop, which takes the exit code from done.
func running(in *instance) bool { return len(in.done) == 0 }

// fakes are the services the real program meets in a test: X and a control
// target to probe, Telegram, and Discord when asked for. All are closed when
// the test ends.
type fakes struct {
	x, ctrl *fakex.Server
	tg      *telegramtest.Server
	dc      *discordtest.Server // nil unless startFakes was asked for it
}

// startFakes starts them, the fake Discord only when discord is true.
func startFakes(t testing.TB, discord bool) *fakes {
	t.Helper()
	f := &fakes{x: fakex.New(), ctrl: fakex.New(), tg: telegramtest.New()}
	t.Cleanup(f.x.Close)
	t.Cleanup(f.ctrl.Close)
	t.Cleanup(f.tg.Close)
	if discord {
		f.dc = discordtest.New()
		t.Cleanup(f.dc.Close)
	}
	return f
}

// env is botEnv with the program pointed at the fake Telegram, and at the
// fake Discord when there is one.
func (f *fakes) env(t testing.TB) map[string]string {
	env := botEnv(t, f.x, f.ctrl)
	withTelegram(env, f.tg.Endpoint())
	if f.dc != nil {
		withDiscord(env, f.dc)
	}
	return env
}

func withTelegram(env map[string]string, endpoint string) {
	env["TELEGRAM_BOT_TOKEN"] = telegramtest.DefaultToken
	env["TELEGRAM_API_ENDPOINT"] = endpoint
}

// withTelegramRate sets TELEGRAM_RATE_LIMIT, with TELEGRAM_PAID_BROADCAST=on
// when the rate is above Telegram's free one: the bot refuses such a rate
// without paid broadcast.
func withTelegramRate(env map[string]string, rate float64) {
	env["TELEGRAM_RATE_LIMIT"] = strconv.FormatFloat(rate, 'f', -1, 64)
	if rate > telegram.FreeRate {
		env["TELEGRAM_PAID_BROADCAST"] = "on"
	}
}

func withDiscord(env map[string]string, dc *discordtest.Server) {
	env["DISCORD_BOT_TOKEN"] = discordtest.DefaultToken
	env["DISCORD_API_URL"] = dc.URL
}

// subscribeTelegram subscribes chats 5000… (the ids countAll and chatsWith
// read) and waits for every confirmation.
func subscribeTelegram(t *testing.T, in *instance, tg *telegramtest.Server, chats int) {
	t.Helper()
	waitFor(t, "telegram connected", func() bool { return strings.Contains(in.stderr.String(), "telegram connected") })
	for i := range chats {
		tg.Private(telegramtest.User{ID: int64(5000 + i)}, "/subscribe")
	}
	waitFor(t, "telegram subscriptions confirmed", func() bool { return countAll(tg, chats, "✅") == chats })
}

// subscribeDiscord subscribes channels as a member allowed to, and returns their ids.
func subscribeDiscord(t *testing.T, dc *discordtest.Server, channels int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dc.WaitConnected(ctx); err != nil {
		t.Fatalf("discord never connected: %v", err)
	}
	var ids []string
	for i := range channels {
		ch := strconv.Itoa(310000000000000000 + i)
		// One admin per channel: one person is held to the command limit.
		id, err := dc.Interact(discordtest.InteractionSpec{Name: "subscribe", GuildID: "310000000000000100", ChannelID: ch,
			Permissions: discordgo.PermissionManageChannels, UserID: strconv.Itoa(710000000000000000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		if ia, err := dc.WaitAnswered(ctx, id); err != nil || !strings.Contains(ia.Text(), "Subscribed") {
			t.Fatalf("discord /subscribe in %s answered %q, %v", ch, ia.Text(), err)
		}
		ids = append(ids, ch)
	}
	return ids
}

// healthOf reads /healthz into its type, for the per-platform fields.
func healthOf(t testing.TB, in *instance) web.Health {
	t.Helper()
	h, err := readHealth(in)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// readHealth is healthOf for a process that may not listen yet.
func readHealth(in *instance) (web.Health, error) {
	var h web.Health
	resp, err := http.Get("http://" + in.addr + "/healthz")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("healthz is not JSON: %w", err)
	}
	return h, nil
}

// metric returns the value of one series of /metrics, e.g.
// `xstatusbot_platform_state{platform="discord",state="unauthorized"}`, and
// whether the series is there at all.
func metric(t testing.TB, in *instance, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + in.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f, true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0, false
}

func noSecrets(t *testing.T, in *instance) {
	t.Helper()
	out := in.stdout.String() + in.stderr.String()
	for _, secret := range []string{telegramtest.DefaultToken, discordtest.DefaultToken} {
		if strings.Contains(out, secret) {
			t.Error("a token appears in the output")
		}
	}
}

// slowAnswers stands between the bot and the Telegram fake. While holding,
// a sendMessage is passed on at once (the fake records the message, even
// should the bot hang up) and its answer is kept until release: a send the
// platform accepted but the bot has not heard back from.
type slowAnswers struct {
	base    http.RoundTripper
	holding atomic.Bool
	held    atomic.Int32
	release chan struct{}
	once    sync.Once
}

func (s *slowAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	if !s.holding.Load() || !strings.EqualFold(path.Base(r.URL.Path), "sendMessage") {
		return s.base.RoundTrip(r)
	}
	resp, err := s.base.RoundTrip(r.WithContext(context.WithoutCancel(r.Context())))
	if err != nil {
		return nil, err
	}
	s.held.Add(1)
	<-s.release
	return resp, nil
}

func (s *slowAnswers) releaseAll() { s.once.Do(func() { close(s.release) }) }

// slowTelegram starts the proxy in front of tg; its Endpoint goes to
// TELEGRAM_API_ENDPOINT.
func slowTelegram(t *testing.T, tg *telegramtest.Server) (*slowAnswers, string) {
	target, err := url.Parse(tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowAnswers{base: http.DefaultTransport, release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = slow
	rp.ErrorLog = log.New(io.Discard, "", 0) // a bot that hung up is part of the test
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	t.Cleanup(slow.releaseAll) // runs first: Close waits for the held handlers
	return slow, srv.URL + "/bot%s/%s"
}

// testSigtermMidSend stops the bot while Telegram has accepted alerts it has
// not answered yet: the sends must finish and be recorded, so that after a
// restart on the same database every chat has exactly one alert.
func testSigtermMidSend(t *testing.T, bin string) {
	f := startFakes(t, false)
	x, tg := f.x, f.tg
	slow, endpoint := slowTelegram(t, tg)
	const chats, workers = 12, 4
	env := f.env(t)
	env["HTTP_ADDR"] = freeAddr(t)
	withTelegram(env, endpoint)
	env["DELIVERY_WORKERS"] = strconv.Itoa(workers)
	env["DELIVERY_SHUTDOWN_GRACE"] = "60s" // the test releases the answers well before; a loaded machine may be slow
	dir := t.TempDir()

	first := startBinary(t, bin, dir, env)
	subscribeTelegram(t, first, tg, chats)
	slow.holding.Store(true)
	x.Set(fakex.Down503)
	waitFor(t, "a full set of sends in flight", func() bool {
		return slow.held.Load() == workers && countAll(tg, chats, "🔴") == workers
	})

	first.cancel()
	// The HTTP endpoints close as soon as the signal is handled: from then on
	// the sends in flight run on the shutdown's time.
	waitFor(t, "the bot to begin its shutdown", func() bool {
		resp, err := http.Get("http://" + first.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	if !running(first) {
		t.Fatalf("the bot exited before the answers to its sends came:\n%s", first.stderr.String())
	}
	slow.holding.Store(false)
	slow.releaseAll()
	first.stop(t) // exit code 0, or the test fails
	if t.Failed() {
		return
	}
	if got := countAll(tg, chats, "🔴"); got != workers {
		t.Fatalf("%d alerts sent by the stopping bot, want the %d in flight only", got, workers)
	}

	env["HTTP_ADDR"] = freeAddr(t)
	second := startBinary(t, bin, dir, env)
	waitFor(t, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	n := second.rounds()
	waitFor(t, "three more rounds", func() bool { return second.rounds() >= n+3 })
	for i := range chats {
		if got := countPrefix(tg.SentTo(int64(5000+i)), "🔴"); got != 1 {
			t.Errorf("chat %d got %d down alerts, want 1", 5000+i, got)
		}
	}
	noSecrets(t, first)
	noSecrets(t, second)
}

// testTokenRevoked runs both chat adapters and revokes the token of one,
// named by revoked, while the bot runs: that platform is reported
// unauthorized once and its alerts wait; the other platform and probing go on.
func testTokenRevoked(t *testing.T, bin, revoked string) {
	f := startFakes(t, true)
	x, tg, dc := f.x, f.tg, f.dc
	env := f.env(t)
	env["HTTP_ADDR"] = freeAddr(t)
	const maxAttempts = 2
	env["DELIVERY_MAX_ATTEMPTS"] = strconv.Itoa(maxAttempts) // rows spending attempts would expire at once
	in := startBinary(t, bin, t.TempDir(), env)

	const chats, channels = 3, 2
	subscribeTelegram(t, in, tg, chats)
	ids := subscribeDiscord(t, dc, channels)
	waiting := chats
	if revoked == "telegram" {
		tg.RevokeToken()
	} else {
		waiting = channels
		dc.RevokeToken()
	}
	waitFor(t, revoked+" unauthorized in /healthz", func() bool {
		return healthOf(t, in).Platforms[bot.Platform(revoked)].State == bot.PlatformUnauthorized
	})
	stateSeries := `xstatusbot_platform_state{platform="` + revoked + `",state="unauthorized"}`
	waitFor(t, revoked+" unauthorized in /metrics", func() bool { v, _ := metric(t, in, stateSeries); return v == 1 })

	x.Set(fakex.Down503)
	waitFor(t, "the other platform's alerts", func() bool {
		if revoked == "telegram" {
			return len(dc.Messages(ids[0])) == 1 && len(dc.Messages(ids[1])) == 1
		}
		return chatsWith(tg, chats, "🔴") == chats
	})
	// Old code spent an attempt per refused send and expired the rows after
	// maxAttempts: wait until delivery has tried more often than that.
	unavailable := `xstatusbot_notifications_total{outcome="unavailable",platform="` + revoked + `"}`
	waitFor(t, "delivery to try the revoked platform more often than the attempts allow", func() bool {
		v, _ := metric(t, in, unavailable)
		return v > maxAttempts
	})
	n := in.rounds()
	waitFor(t, "three more rounds", func() bool { return in.rounds() >= n+3 })

	if !running(in) {
		t.Fatalf("the bot exited:\n%s", in.stderr.String())
	}
	h := healthOf(t, in)
	if got := h.Outbox[bot.Platform(revoked)].Pending; got != waiting {
		t.Errorf("%d %s alerts pending, want %d (health %+v)", got, revoked, waiting, h)
	}
	if v, ok := metric(t, in, `xstatusbot_notifications_total{outcome="expired",platform="`+revoked+`"}`); ok {
		t.Errorf("%v %s alerts expired", v, revoked)
	}
	if got := countAll(tg, chats, "🔴"); revoked == "telegram" && got != 0 {
		t.Errorf("telegram received %d alerts with a revoked token", got)
	} else if revoked == "discord" && got != chats {
		t.Errorf("telegram chats got %d alerts, want %d", got, chats)
	}
	want := 1
	if revoked == "discord" {
		want = 0
	}
	for _, ch := range ids {
		if got := len(dc.Messages(ch)); got != want {
			t.Errorf("discord channel %s got %d alerts, want %d", ch, got, want)
		}
	}
	var errorLines []string
	for line := range strings.Lines(in.stderr.String()) {
		if strings.Contains(line, "level=ERROR") {
			errorLines = append(errorLines, line)
		}
	}
	if len(errorLines) != 1 || !strings.Contains(errorLines[0], "platform="+revoked) {
		t.Errorf("want exactly one error line, about %s; got %d:\n%s", revoked, len(errorLines), strings.Join(errorLines, ""))
	}
	noSecrets(t, in)
}

// testTelegramLongOutage keeps Telegram unreachable while X goes down for
// longer than DELIVERY_MAX_ATTEMPTS lets a chat error last, then brings it
// back: every chat must get its alert, once.
func testTelegramLongOutage(t *testing.T, bin string) {
	f := startFakes(t, false)
	x, tg := f.x, f.tg
	env := f.env(t)
	env["HTTP_ADDR"] = freeAddr(t)
	const maxAttempts = 2
	env["DELIVERY_MAX_ATTEMPTS"] = strconv.Itoa(maxAttempts)
	in := startBinary(t, bin, t.TempDir(), env)
	const chats = 8
	subscribeTelegram(t, in, tg, chats)

	tg.Down()
	x.Set(fakex.Down503)
	waitFor(t, "telegram paused with every alert waiting", func() bool {
		h := healthOf(t, in)
		return h.Platforms[telegram.Platform].State == bot.PlatformUnavailable && h.Outbox[telegram.Platform].Pending == chats
	})
	// Each probe of the paused platform is a send of a waiting row: once
	// there were more than maxAttempts of them, the outage has outlasted what
	// the old retry budget allowed any row.
	unavailable := `xstatusbot_notifications_total{outcome="unavailable",platform="telegram"}`
	paused, _ := metric(t, in, unavailable)
	waitFor(t, "more probes than a row's attempts", func() bool {
		v, _ := metric(t, in, unavailable)
		return v > paused+maxAttempts
	})
	if h := healthOf(t, in); h.Outbox[telegram.Platform].Pending != chats {
		t.Fatalf("%d alerts pending during the outage, want %d", h.Outbox[telegram.Platform].Pending, chats)
	}
	if got := countAll(tg, chats, "🔴"); got != 0 {
		t.Fatalf("%d alerts reached a Telegram that was down", got)
	}
	if err := tg.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every chat's alert after Telegram's return", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	n := in.rounds()
	waitFor(t, "three more rounds", func() bool { return in.rounds() >= n+3 })
	if got := countAll(tg, chats, "🔴"); got != chats {
		t.Errorf("%d alerts for %d chats", got, chats)
	}
	if v, ok := metric(t, in, `xstatusbot_notifications_total{outcome="expired",platform="telegram"}`); ok {
		t.Errorf("%v alerts expired", v)
	}
	noSecrets(t, in)
}

// testMalformedDotenv starts the binary in a directory whose .env holds a
// token and a malformed line: it must refuse to start (exit 2) and name the
// file and line without showing any of the file.
func testMalformedDotenv(t *testing.T, bin string) {
	dir := t.TempDir()
	const token = "123456:AAHsecretTOKENvalueFromDotenv"
	body := "# bot settings papaya\nTELEGRAM_BOT_TOKEN=" + token + "\nLOG_LEVEL=info\nthis is not a setting mango\nHTTP_ADDR=off\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Should the file ever parse, the bot must not run for real: nothing
	// listens, nothing is probed outside 127.0.0.1, and the context ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP_ADDR=off", "PROBE_TARGETS=http://127.0.0.1:1/",
		"PROBE_CONTROL_TARGETS=", "DB_PATH=" + filepath.Join(dir, "bot.db")}
	var stdout, stderr bottest.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), ".env") || !strings.Contains(stderr.String(), "line 4") {
		t.Errorf("stderr does not name .env and line 4:\n%s", stderr.String())
	}
	out := stdout.String() + stderr.String()
	for _, content := range []string{token, "AAHsecret", "papaya", "mango", "TELEGRAM_BOT_TOKEN", "LOG_LEVEL"} {
		if strings.Contains(out, content) {
			t.Errorf("output shows the file's content %q:\n%s", content, out)
		}
	}
}

// testKillDuringFanOut kills the real binary with SIGKILL in the middle of a
// fan-out to 60 Telegram chats, restarts it on the same database and checks
// every chat gets its alert, and that only sends in flight at the moment of
// death (at most DELIVERY_WORKERS) can have been repeated.
func testKillDuringFanOut(t *testing.T, bin string) {
	f := startFakes(t, false)
	x, tg := f.x, f.tg
	env := f.env(t)
	env["TELEGRAM_RATE_LIMIT"] = "15" // slow enough to kill it halfway
	env["DELIVERY_WORKERS"] = "4"
	env["HTTP_ADDR"] = "off"
	dir := t.TempDir() // no stray .env; the database lives here across the restart

	const chats = 60
	first := startBinary(t, bin, dir, env)
	waitFor(t, "telegram connected", func() bool { return strings.Contains(first.stderr.String(), "telegram connected") })
	for i := range chats {
		tg.Private(telegramtest.User{ID: int64(5000 + i)}, "/subscribe")
	}
	waitFor(t, "all subscribed", func() bool { return countAll(tg, chats, "✅") == chats })

	x.Set(fakex.Down503)
	waitFor(t, "part of the fan-out", func() bool { return countAll(tg, chats, "🔴") >= chats/3 })
	first.kill()
	before := countAll(tg, chats, "🔴")
	if before >= chats {
		t.Fatalf("the fan-out finished before the kill (%d alerts); nothing was tested", before)
	}

	second := startBinary(t, bin, dir, env)
	waitFor(t, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	rounds := func() int { return strings.Count(second.stderr.String(), "msg=round ") }
	n := rounds()
	waitFor(t, "three more rounds", func() bool { return rounds() >= n+3 })

	total := countAll(tg, chats, "🔴")
	if dups := total - chats; dups > 4 {
		t.Fatalf("%d duplicate alerts after the kill, want at most 4 (the sends in flight)", dups)
	}
	t.Logf("%d alerts before the kill, %d after the restart, %d duplicates", before, total-before, total-chats)
}

func countAll(tg *telegramtest.Server, chats int, prefix string) int {
	n := 0
	for i := range chats {
		n += countPrefix(tg.SentTo(int64(5000+i)), prefix)
	}
	return n
}

func chatsWith(tg *telegramtest.Server, chats int, prefix string) int {
	n := 0
	for i := range chats {
		if countPrefix(tg.SentTo(int64(5000+i)), prefix) > 0 {
			n++
		}
	}
	return n
}
