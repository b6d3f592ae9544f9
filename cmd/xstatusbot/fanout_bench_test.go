package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/discord"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// BenchmarkFanOut measures fan-out: one real transition, saved by
// a real monitor.Monitor into a real SQLite store, fanned out to thousands of
// subscribed chats by a real delivery.Dispatcher through the real Telegram and
// Discord adapters, connected (Run) to their in-process fakes on 127.0.0.1.
// The fakes enforce their rate limits with 429s.
//
//	go test -run '^$' -bench FanOut -benchtime 1x ./cmd/xstatusbot
//
// Settings (read only here, from the environment):
//
//	BENCH_TELEGRAM_RATE   configured Telegram rate, msgs/s (TELEGRAM_RATE_LIMIT); default 1000
//	BENCH_DISCORD_RATE    configured Discord rate, msgs/s (DISCORD_RATE_LIMIT); default 50
//	BENCH_TELEGRAM_CHATS  subscribed Telegram chats; default 10000 (1 in 5 a group)
//	BENCH_DISCORD_CHATS   subscribed Discord channels; default 1000
//	BENCH_TELEGRAM_LIMIT  the fake's overall limit, msgs/s; default ceil(BENCH_TELEGRAM_RATE)
//	BENCH_DISCORD_LIMIT   the fake's global limit, requests/s; default ceil(BENCH_DISCORD_RATE)
//	BENCH_WORKERS         DELIVERY_WORKERS; default 16, the bot's default
//
// The fakes' limits are AT the configured rates by default (no headroom), so
// any burst above the configured rate is answered with a 429 and the 429
// count shows how well the dispatcher keeps to its own rate. The Telegram
// fake also enforces 1 msg/s per chat and 20 msgs/min per group (Telegram's
// own limits); Discord's fake has a token bucket (burst = limit).
//
// Reported: deliver-s (from the start of the monitor's round to the last
// message accepted by a fake), per platform msgs/s over the sending span
// (first to last accepted message) and its ratio to the configured rate
// (target ≥ 0.95), lost (subscribed chats without a message), dup (chats
// with more than one), 429s per platform, and peak-RSS-MB (VmHWM of the whole
// test process: bot, SQLite and both fakes). Lost and duplicated messages
// fail the benchmark; times never do. A 429 in the last second of a leg
// stretches that leg by its retry_after (1 s) plus up to the dispatcher's
// PollEvery, which shows in a short run's ratio (10 s at 1000/s → ≈0.91).
func BenchmarkFanOut(b *testing.B) {
	cfg := benchSettings(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := runFanOut(b, cfg)
		if i == b.N-1 {
			r.report(b, cfg)
		}
	}
}

type fanOutSettings struct {
	tgRate, dcRate   float64
	tgChats, dcChats int
	tgLimit, dcLimit int
	workers          int
}

func benchSettings(b *testing.B) fanOutSettings {
	s := fanOutSettings{
		tgRate:  benchEnvFloat(b, "BENCH_TELEGRAM_RATE", 1000),
		dcRate:  benchEnvFloat(b, "BENCH_DISCORD_RATE", 50),
		tgChats: int(benchEnvFloat(b, "BENCH_TELEGRAM_CHATS", 10000)),
		dcChats: int(benchEnvFloat(b, "BENCH_DISCORD_CHATS", 1000)),
		workers: int(benchEnvFloat(b, "BENCH_WORKERS", 16)),
	}
	s.tgLimit = int(benchEnvFloat(b, "BENCH_TELEGRAM_LIMIT", math.Ceil(s.tgRate)))
	s.dcLimit = int(benchEnvFloat(b, "BENCH_DISCORD_LIMIT", math.Ceil(s.dcRate)))
	if s.tgRate <= 0 || s.dcRate <= 0 || s.tgChats < 0 || s.dcChats < 0 || s.tgLimit < 1 || s.dcLimit < 1 || s.workers < 1 {
		b.Fatalf("bad benchmark settings: %+v", s)
	}
	return s
}

func benchEnvFloat(b *testing.B, name string, def float64) float64 {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return f
}

// fanOutResult is what one fan-out measured.
type fanOutResult struct {
	save, total         time.Duration // the round with its outbox rows; start to last message
	tgFirst, tgLast     time.Duration // first and last accepted Telegram message, from start
	dcFirst, dcLast     time.Duration
	tgSent, dcSent      int // messages accepted by the fakes
	lost, dup, stray    int
	notSent             map[bot.DeliveryStatus]int // outbox rows that did not end as sent
	tg429, dc429        int64
	tgCalls, dcRequests int64
	rssMB               float64
	statusAnswer        time.Duration // from /status sent during the fan-out to its answer
}

// statusUser asks /status in the middle of the fan-out.
const statusUser = 777

func runFanOut(b *testing.B, cfg fanOutSettings) fanOutResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	telegram.SetLibraryLogger(log)

	store, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bot.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()

	// Subscriptions, through the store as the commands make them.
	tgIDs, dcIDs := subscribeChats(b, ctx, store, cfg)

	tgFake := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{
		PerSecond: cfg.tgLimit, PerChatPerSecond: 1, PerGroupPerMinute: 20,
	}))
	defer tgFake.Close()
	dcFake := discordtest.New(discordtest.WithGlobalRateLimit(cfg.dcLimit))
	defer dcFake.Close()

	// Wiring as in serve (run.go), minus the web server and the schedule.
	counters := metrics.New(metrics.NewSet())
	svc := command.NewService(store, store, time.Now, log)
	policy := func(rate float64) delivery.Policy {
		p := delivery.DefaultPolicy(rate)
		p.Workers = cfg.workers
		return p
	}
	tgPolicy := policy(cfg.tgRate)
	tgGate := delivery.NewGate(tgPolicy, clock.System{}) // shared with command answers, as in run.go
	tg := telegram.NewBot(telegram.Options{Token: adapterkit.Secret(tgFake.Token), Endpoint: tgFake.Endpoint(), Log: log, Replier: tgGate}, svc)
	dc := discord.NewBot(discord.Options{Token: adapterkit.Secret(dcFake.Token), APIURL: dcFake.URL, Log: log}, svc)
	dcPolicy := policy(cfg.dcRate)
	dcPolicy.PerChat = 0 // as in run.go: discordgo keeps Discord's per-route buckets
	disp := delivery.NewDispatcher(store, []delivery.Channel{
		{Platform: telegram.Platform, Notifier: tg, Policy: tgPolicy, Gate: tgGate},
		{Platform: discord.Platform, Notifier: dc, Policy: dcPolicy},
	}, clock.System{}, log, counters)

	prober := &benchProbe{verdict: probe.VerdictUp}
	mon := monitor.New(monitor.Config{
		Probe:   prober.Round,
		Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1},
		Store:   store,
		Log:     log,
		Metrics: counters,
		Changed: disp.Wake,
	})
	if err := mon.Load(ctx); err != nil {
		b.Fatal(err)
	}

	var wg sync.WaitGroup
	runErr := make(chan error, 2)
	for _, r := range []func(context.Context) error{tg.Run, dc.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r(ctx); err != nil {
				runErr <- err
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); disp.Run(ctx) }()
	stop := func() {
		cancel()
		wg.Wait()
	}
	defer stop()

	// Both adapters connected: Telegram polls; Discord has registered its commands.
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	err = tgFake.Wait(readyCtx, func() bool { return tgFake.Stats().GetUpdatesCalls > 0 })
	if err == nil {
		err = dcFake.WaitOverwrites(readyCtx, 1)
	}
	readyCancel()
	if err != nil {
		select {
		case rerr := <-runErr:
			err = rerr
		default:
		}
		b.Fatalf("adapters did not connect: %v", err)
	}
	// The first round only establishes the initial state (not announced).
	if err := mon.RunRound(ctx); err != nil {
		b.Fatal(err)
	}
	tgBase, dcBase := tgFake.Stats(), dcFake.RateLimitedCount()
	dcReqBase := dcFake.Requests()

	// The measured part: X goes down; the monitor saves the change with one
	// outbox row per subscriber and wakes the dispatcher.
	prober.set(probe.VerdictDown)
	b.StartTimer()
	start := time.Now()
	if err := mon.RunRound(ctx); err != nil {
		b.Fatal(err)
	}
	saved := time.Since(start)

	// Wait until every row is delivered and recorded. No deadline: only a
	// stall (no progress for a minute) fails, since a hang is a bug, not a time.
	// A quarter into the Telegram leg, someone asks /status: its answer goes
	// ahead of the fan-out rows.
	wantTG, wantDC := int64(len(tgIDs)), len(dcIDs)
	var statusAsked time.Time
	progress, lastChange := int64(-1), time.Now()
	for {
		tgN := tgFake.Stats().Sent - tgBase.Sent
		if statusAsked.IsZero() && wantTG > 0 && tgN >= wantTG/4 {
			statusAsked = time.Now()
			tgFake.Private(telegramtest.User{ID: statusUser}, "/status")
		} else if !statusAsked.IsZero() {
			tgN -= int64(len(tgFake.SentTo(statusUser)))
		}
		dcN := int64(0)
		for _, n := range dcFake.MessageCounts() {
			dcN += int64(n)
		}
		if tgN >= wantTG && dcN >= int64(wantDC) {
			bl, err := disp.Backlog(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if bl[telegram.Platform].Pending == 0 && bl[discord.Platform].Pending == 0 {
				break
			}
		}
		if tgN+dcN != progress {
			progress, lastChange = tgN+dcN, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			bl, _ := disp.Backlog(ctx)
			b.Fatalf("fan-out stalled: telegram %d/%d, discord %d/%d delivered, backlog %+v", tgN, wantTG, dcN, wantDC, bl)
		}
		select {
		case err := <-runErr:
			b.Fatalf("adapter stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	b.StopTimer()
	stop()

	// Count what the fakes received, per subscribed chat.
	res := fanOutResult{save: saved, notSent: map[bot.DeliveryStatus]int{}}
	perTG := map[string]int{}
	first, last := time.Time{}, time.Time{}
	for _, m := range tgFake.Sent() {
		if m.ChatID == statusUser {
			res.statusAnswer = sinceOrZero(statusAsked, m.At)
			continue
		}
		perTG[strconv.FormatInt(m.ChatID, 10)]++
		first, last = earliest(first, m.At), latest(last, m.At)
		res.tgSent++
	}
	res.tgFirst, res.tgLast = sinceOrZero(start, first), sinceOrZero(start, last)
	perDC := dcFake.MessageCounts()
	first, last = time.Time{}, time.Time{}
	for id := range perDC {
		for _, m := range dcFake.Messages(id) {
			first, last = earliest(first, m.At), latest(last, m.At)
			res.dcSent++
		}
	}
	res.dcFirst, res.dcLast = sinceOrZero(start, first), sinceOrZero(start, last)
	res.total = max(res.tgLast, res.dcLast)
	res.lost, res.dup, res.stray = countDelivery(tgIDs, perTG)
	l, d, s := countDelivery(dcIDs, perDC)
	res.lost, res.dup, res.stray = res.lost+l, res.dup+d, res.stray+s

	outcomes, err := store.Outcomes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range outcomes {
		if o.Status != bot.StatusSent {
			res.notSent[o.Status]++
		}
	}
	if len(outcomes) != len(tgIDs)+len(dcIDs) {
		b.Errorf("outbox has %d rows, want one per subscriber (%d)", len(outcomes), len(tgIDs)+len(dcIDs))
	}
	tgStats := tgFake.Stats()
	res.tg429, res.tgCalls = tgStats.RateLimited-tgBase.RateLimited, tgStats.SendCalls-tgBase.SendCalls
	res.dc429, res.dcRequests = dcFake.RateLimitedCount()-dcBase, dcFake.Requests()-dcReqBase
	res.rssMB = peakRSSMB(b, "self")

	// Correctness, not timing.
	if res.lost != 0 || res.dup != 0 || res.stray != 0 || len(res.notSent) != 0 {
		b.Fatalf("fan-out not exactly once: lost %d, duplicated %d, to unsubscribed chats %d, rows not sent %v",
			res.lost, res.dup, res.stray, res.notSent)
	}
	return res
}

// subscribeChats subscribes the Telegram chats (one in five a group with a
// supergroup id, one in ten in French) and the Discord channels (ten per server).
func subscribeChats(b *testing.B, ctx context.Context, store subscriber, cfg fanOutSettings) (tgIDs, dcIDs []string) {
	at := time.Now().Add(-time.Hour)
	lang := func(i int) string {
		if i%10 == 3 {
			return "fr"
		}
		return "en"
	}
	for i := range cfg.tgChats {
		sub := bot.Subscription{Kind: telegram.KindPrivate, Lang: lang(i), CreatedAt: at}
		id := int64(100_000_000 + i)
		if i%5 == 0 {
			sub.Kind, id = telegram.KindGroup, -1_001_000_000_000-int64(i)
		}
		sub.Chat = bot.ChatRef{Platform: telegram.Platform, ID: strconv.FormatInt(id, 10)}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
		tgIDs = append(tgIDs, sub.Chat.ID)
	}
	for i := range cfg.dcChats {
		sub := bot.Subscription{
			Chat:  bot.ChatRef{Platform: discord.Platform, ID: strconv.FormatInt(1_300_000_000_000_000_000+int64(i), 10)},
			Kind:  discord.KindServer,
			Group: strconv.FormatInt(1_100_000_000_000_000_000+int64(i/10), 10),
			Lang:  lang(i), CreatedAt: at,
		}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
		dcIDs = append(dcIDs, sub.Chat.ID)
	}
	return tgIDs, dcIDs
}

// subscriber is the part of a store subscribeChats needs (SQLite or PostgreSQL).
type subscriber interface {
	Subscribe(ctx context.Context, sub bot.Subscription) (bool, error)
}

// countDelivery compares the messages per chat with the subscribed chats.
func countDelivery(subscribed []string, got map[string]int) (lost, dup, stray int) {
	want := make(map[string]bool, len(subscribed))
	for _, id := range subscribed {
		want[id] = true
		switch n := got[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup++
		}
	}
	for id := range got {
		if !want[id] {
			stray++
		}
	}
	return lost, dup, stray
}

func (r fanOutResult) report(b *testing.B, cfg fanOutSettings) {
	rate := func(n int, first, last time.Duration) float64 {
		if n < 2 || last <= first {
			return 0
		}
		return float64(n-1) / (last - first).Seconds()
	}
	tgRate, dcRate := rate(r.tgSent, r.tgFirst, r.tgLast), rate(r.dcSent, r.dcFirst, r.dcLast)
	b.ReportMetric(r.total.Seconds(), "deliver-s")
	b.ReportMetric(tgRate, "tg-msgs/s")
	b.ReportMetric(tgRate/cfg.tgRate, "tg-ratio")
	b.ReportMetric(dcRate, "dc-msgs/s")
	b.ReportMetric(dcRate/cfg.dcRate, "dc-ratio")
	b.ReportMetric(float64(r.lost), "lost")
	b.ReportMetric(float64(r.dup), "dup")
	b.ReportMetric(float64(r.tg429), "tg-429s")
	b.ReportMetric(float64(r.dc429), "dc-429s")
	b.ReportMetric(r.rssMB, "peak-RSS-MB")
	b.ReportMetric(r.statusAnswer.Seconds(), "status-answer-s")
	b.Logf("fan-out of one transition: %d Telegram chats + %d Discord channels delivered in %.2fs (round saved in %s); "+
		"telegram %.1f msgs/s of %g configured (%.3f, fake limit %d/s, %d 429s, %d calls, span %.2f–%.2fs); "+
		"discord %.1f msgs/s of %g configured (%.3f, fake limit %d/s, %d 429s, %d requests, span %.2f–%.2fs); "+
		"lost %d, duplicated %d; workers %d; peak RSS %.0f MB (whole test process); /status during the fan-out answered in %s",
		r.tgSent, r.dcSent, r.total.Seconds(), r.save.Round(time.Millisecond),
		tgRate, cfg.tgRate, tgRate/cfg.tgRate, cfg.tgLimit, r.tg429, r.tgCalls, r.tgFirst.Seconds(), r.tgLast.Seconds(),
		dcRate, cfg.dcRate, dcRate/cfg.dcRate, cfg.dcLimit, r.dc429, r.dcRequests, r.dcFirst.Seconds(), r.dcLast.Seconds(),
		r.lost, r.dup, cfg.workers, r.rssMB, r.statusAnswer.Round(time.Millisecond))
}

// benchProbe is the probe func: a round with the verdict set by the benchmark.
type benchProbe struct {
	mu      sync.Mutex
	verdict probe.Verdict
}

func (p *benchProbe) set(v probe.Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.verdict = v
}

func (p *benchProbe) Round(context.Context) probe.Round {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := probe.Round{Start: time.Now(), Verdict: p.verdict}
	if p.verdict == probe.VerdictDown {
		r.Targets = []probe.Result{
			{Target: "web", Class: probe.ClassTimeout, Detail: "timeout after 10s"},
			{Target: "api", Class: probe.ClassStatus, Status: 503, Detail: "HTTP 503"},
		}
	} else {
		r.Targets = []probe.Result{{Target: "web", Latency: 80 * time.Millisecond}, {Target: "api", Latency: 120 * time.Millisecond, Status: 401}}
	}
	return r
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sinceOrZero(start, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(start)
}

// peakRSSMB is VmHWM of process proc ("self": all of this one, bot, SQLite
// and fakes; or a pid), in MB.
func peakRSSMB(b *testing.B, proc string) float64 {
	f, err := os.Open("/proc/" + proc + "/status")
	if err != nil {
		b.Logf("peak RSS unavailable: %v", err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
