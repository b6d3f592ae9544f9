package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkOutageStorm is an outage as a popular bot lives it: the real
// binary (go build, os/exec) on SQLite with BENCH_TELEGRAM_CHATS subscribed
// Telegram chats (default 10,000, one in five a group) announces that X is
// down, while BENCH_STORM_USERS people (default 500), each in a private chat
// of their own, send /status every 2 s and one more person floods /status
// at 20 a second, half in a private chat and half in a group of their own.
// The Telegram fake enforces its overall limit (at the configured rate),
// 1 message/s per chat and 20/min per group, with 429s.
//
//	go test -run '^$' -bench OutageStorm -benchtime 1x ./cmd/xstatusbot
//
// It reads BENCH_TELEGRAM_RATE (TELEGRAM_RATE_LIMIT, default 1000),
// BENCH_TELEGRAM_CHATS, BENCH_TELEGRAM_LIMIT, BENCH_WORKERS as
// BenchmarkFanOut does, and BENCH_STORM_USERS. Reported: alert-ratio (alerts
// per second over the alerts' span, over the configured rate), all-ratio
// (alerts and answers together over the same span), status-p50-s and
// status-p95-s (from a /status sent during the fan-out to the first answer
// in that chat after it), unanswered (such asks with no answer after them),
// the flooder's answers and slow-down notes, lost and duplicated alerts
// (either fails the benchmark) and peak-RSS-MB of the bot's process (VmHWM).
func BenchmarkOutageStorm(b *testing.B) {
	cfg := benchSettings(b)
	cfg.dcChats = 0
	users := int(benchEnvFloat(b, "BENCH_STORM_USERS", 500))
	bin := buildBinary(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := runOutageStorm(b, bin, cfg, users)
		if i == b.N-1 {
			r.report(b, cfg, users)
		}
	}
}

// Ids of the people asking: the crowd's private chats, the flooder's chats.
const (
	stormUserBase  = 900_000_000
	stormFlooder   = 990_000_000
	stormFloodChat = -1_009_900_000_000
)

type stormResult struct {
	alerts, answers          int // answers: sent within the alerts' span
	alertFirst, alertLast    time.Time
	lost, dup                int
	latencies                []time.Duration
	asked, unanswered        int
	floodAsked, floodAnswers int
	slowDown                 int
	tg429                    int64
	rssMB                    float64
}

func runOutageStorm(b *testing.B, bin string, cfg fanOutSettings, users int) stormResult {
	ctx := context.Background()
	dir := b.TempDir()
	db := filepath.Join(dir, "bot.db")
	store, err := store.OpenSQLite(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	tgIDs, _ := subscribeChats(b, ctx, store, cfg)
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}

	tg := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{
		PerSecond: cfg.tgLimit, PerChatPerSecond: 1, PerGroupPerMinute: 20,
	}))
	b.Cleanup(tg.Close)
	x, ctrl := fakex.New(), fakex.New()
	b.Cleanup(x.Close)
	b.Cleanup(ctrl.Close)
	env := botEnv(b, x, ctrl)
	env["DB_PATH"] = db
	env["HTTP_ADDR"] = freeAddr(b)
	env["LOG_LEVEL"] = "warn"
	env["PROBE_DOWN_AFTER"] = "1"
	withTelegramRate(env, cfg.tgRate)
	env["DELIVERY_WORKERS"] = strconv.Itoa(cfg.workers)
	withTelegram(env, tg.Endpoint())
	in := startBinary(b, bin, dir, env)
	waitFor(b, "telegram polling", func() bool { return tg.Stats().GetUpdatesCalls > 0 })
	established(b, in)
	base := tg.Stats()

	// The crowd asks from the moment X fails, each at a random phase of 2 s.
	var mu sync.Mutex
	asks := map[int64][]time.Time{}
	stopAsking := make(chan struct{})
	var askers sync.WaitGroup
	ask := func(chat int64, push func()) {
		push()
		mu.Lock()
		asks[chat] = append(asks[chat], time.Now())
		mu.Unlock()
	}
	askers.Add(2)
	go func() {
		defer askers.Done()
		next := make([]time.Time, users)
		now := time.Now()
		for i := range next {
			next[i] = now.Add(time.Duration(rand.Int64N(int64(2 * time.Second))))
		}
		for {
			select {
			case <-stopAsking:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now()
			for i := range next {
				if now.Before(next[i]) {
					continue
				}
				next[i] = next[i].Add(2 * time.Second)
				id := int64(stormUserBase + i)
				ask(id, func() { tg.Private(telegramtest.User{ID: id}, "/status") })
			}
		}
	}()
	go func() {
		defer askers.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stopAsking:
				return
			case <-tick.C:
			}
			flooder := telegramtest.User{ID: stormFlooder}
			if n%2 == 0 {
				ask(stormFlooder, func() { tg.Private(flooder, "/status") })
			} else {
				ask(stormFloodChat, func() { tg.Group(stormFloodChat, flooder, "/status") })
			}
		}
	}()
	stop := func() {
		select {
		case <-stopAsking:
		default:
			close(stopAsking)
		}
		askers.Wait()
	}
	defer stop()

	b.StartTimer()
	x.Set(fakex.Down503)
	subscribed := make(map[int64]bool, len(tgIDs))
	for _, id := range tgIDs {
		n, _ := strconv.ParseInt(id, 10, 64)
		subscribed[n] = true
	}
	// No deadline: only a stall (no progress for a minute) fails. The fake
	// counts answers too; the outbox having nothing pending ends the wait.
	progress, lastChange := int64(-1), time.Now()
	for {
		n := tg.Stats().Sent - base.Sent
		if n >= int64(len(tgIDs)) && healthOf(b, in).Outbox[telegram.Platform].Pending == 0 {
			break
		}
		if n != progress {
			progress, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			b.Fatalf("fan-out stalled at %d messages for %d chats; logs:\n%s", n, len(tgIDs), in.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	stop()
	// Answers to the last asks are still on their way: a few seconds.
	time.Sleep(5 * time.Second)
	res := stormResult{rssMB: peakRSSMB(b, strconv.Itoa(in.pid))}

	per := map[string]int{}
	answers := map[int64][]time.Time{}
	for _, m := range tg.Sent() {
		if subscribed[m.ChatID] {
			per[strconv.FormatInt(m.ChatID, 10)]++
			res.alertFirst, res.alertLast = earliest(res.alertFirst, m.At), latest(res.alertLast, m.At)
			res.alerts++
			continue
		}
		answers[m.ChatID] = append(answers[m.ChatID], m.At)
		if m.ChatID == stormFlooder || m.ChatID == stormFloodChat {
			if isSlowDown(m.Plain) {
				res.slowDown++
			} else {
				res.floodAnswers++
			}
		}
	}
	var stray int
	res.lost, res.dup, stray = countDelivery(tgIDs, per)
	if res.lost != 0 || res.dup != 0 || stray != 0 {
		b.Fatalf("alerts not exactly once: lost %d, duplicated %d, to unsubscribed chats %d", res.lost, res.dup, stray)
	}
	for chat, times := range asks {
		got := answers[chat]
		slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
		for _, at := range times {
			if at.Before(res.alertFirst) || at.After(res.alertLast) {
				continue // only asks made while alerts were being sent
			}
			if chat == stormFlooder || chat == stormFloodChat {
				res.floodAsked++
				continue
			}
			res.asked++
			i, _ := slices.BinarySearchFunc(got, at, func(a, t time.Time) int { return a.Compare(t) })
			if i == len(got) {
				res.unanswered++
				continue
			}
			res.latencies = append(res.latencies, got[i].Sub(at))
		}
	}
	for _, got := range answers {
		for _, at := range got {
			if !at.Before(res.alertFirst) && !at.After(res.alertLast) {
				res.answers++ // over the alerts' span, as the ratios are
			}
		}
	}
	res.tg429 = tg.Stats().RateLimited - base.RateLimited
	return res
}

func (r stormResult) report(b *testing.B, cfg fanOutSettings, users int) {
	span := r.alertLast.Sub(r.alertFirst).Seconds()
	alertRate, allRate := 0.0, 0.0
	if span > 0 {
		alertRate = float64(r.alerts-1) / span
		allRate = float64(r.alerts-1+r.answers) / span
	}
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	b.ReportMetric(alertRate/cfg.tgRate, "alert-ratio")
	b.ReportMetric(allRate/cfg.tgRate, "all-ratio")
	b.ReportMetric(pct(0.5).Seconds(), "status-p50-s")
	b.ReportMetric(pct(0.95).Seconds(), "status-p95-s")
	b.ReportMetric(float64(r.unanswered), "unanswered")
	b.ReportMetric(float64(r.floodAnswers), "flood-answers")
	b.ReportMetric(float64(r.lost), "lost")
	b.ReportMetric(float64(r.dup), "dup")
	b.ReportMetric(r.rssMB, "peak-RSS-MB")
	b.Logf("outage storm: %d alerts in %.2fs (%.1f/s of %g configured: %.3f; with answers %.3f; fake limit %d/s, %d 429s); "+
		"%d people asked /status %d times during the fan-out: p50 %s, p95 %s, %d unanswered; "+
		"the flooder asked %d times, got %d answers and %d slow-down notes; lost %d, duplicated %d; peak RSS %.1f MB",
		r.alerts, span, alertRate, cfg.tgRate, alertRate/cfg.tgRate, allRate/cfg.tgRate, cfg.tgLimit, r.tg429,
		users, r.asked, pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), r.unanswered,
		r.floodAsked, r.floodAnswers, r.slowDown, r.lost, r.dup, r.rssMB)
}

// isSlowDown tells the short note a person gets for commands beyond their
// limit from a /status answer, in either language.
func isSlowDown(text string) bool {
	return strings.Contains(text, "too fast") || strings.Contains(text, "trop vite")
}
