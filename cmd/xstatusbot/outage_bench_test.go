package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// BenchmarkPlatformReturn measures delivery after a platform outage: X goes
// down while Telegram is unreachable (connections refused) for BENCH_OUTAGE
// (default 3m); then Telegram comes back. It reports the time from Telegram's return to the
// first delivered alert and to the last, through the real dispatcher, the
// real adapter and the fake Bot API, and fails on any lost, duplicated or
// expired alert, never on time.
//
//	go test -run '^$' -bench PlatformReturn -benchtime 1x -timeout 30m ./cmd/xstatusbot
//
// BENCH_OUTAGE_CHATS sets the subscribed chats (default 200).
func BenchmarkPlatformReturn(b *testing.B) {
	outage, err := time.ParseDuration(envOr("BENCH_OUTAGE", "3m"))
	if err != nil {
		b.Fatal(err)
	}
	chats := int(benchEnvFloat(b, "BENCH_OUTAGE_CHATS", 200))
	for range b.N {
		first, all := platformReturn(b, outage, chats)
		b.ReportMetric(first.Seconds(), "first-alert-after-return-s")
		b.ReportMetric(all.Seconds(), "all-after-return-s")
		b.Logf("Telegram unreachable for %s while X went down: first alert %s after its return, all %d chats %s after",
			outage, first.Round(time.Millisecond), chats, all.Round(time.Millisecond))
	}
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

func platformReturn(b *testing.B, outage time.Duration, chats int) (first, all time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bot.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for i := range chats {
		sub := bot.Subscription{Kind: telegram.KindPrivate, Chat: bot.ChatRef{Platform: telegram.Platform, ID: strconv.Itoa(100_000 + i)}, CreatedAt: time.Now()}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
	fake := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{PerSecond: 30, PerChatPerSecond: 1}))
	defer fake.Close()
	svc := command.NewService(store, store, time.Now, log)
	policy := delivery.DefaultPolicy(25) // the defaults: TELEGRAM_RATE_LIMIT, attempts, age, workers
	gate := delivery.NewGate(policy, clock.System{})
	tg := telegram.NewBot(telegram.Options{Token: adapterkit.Secret(fake.Token), Endpoint: fake.Endpoint(), Log: log, Replier: gate}, svc)
	disp := delivery.NewDispatcher(store, []delivery.Channel{{Platform: telegram.Platform, Notifier: tg, Policy: policy, Gate: gate, State: tg.State}},
		clock.System{}, log, metrics.New(metrics.NewSet()))
	prober := &benchProbe{verdict: probe.VerdictUp}
	mon := monitor.New(monitor.Config{Probe: prober.Round, Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1},
		Store: store, Log: log, Changed: disp.Wake})
	if err := mon.Load(ctx); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = tg.Run(ctx) }()
	go func() { defer wg.Done(); disp.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	ready, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := fake.Wait(ready, func() bool { return fake.Stats().GetUpdatesCalls > 0 }); err != nil {
		b.Fatalf("adapter did not connect: %v", err)
	}
	if err := mon.RunRound(ctx); err != nil { // the initial state, not announced
		b.Fatal(err)
	}

	fake.Down()
	prober.set(probe.VerdictDown)
	if err := mon.RunRound(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	time.Sleep(outage) // the outage itself is the measured condition, not a wait for one
	if n := fake.Stats().Sent; n != 0 {
		b.Fatalf("%d messages accepted while Telegram was down", n)
	}
	back := time.Now()
	if err := fake.Up(); err != nil {
		b.Fatal(err)
	}
	for {
		sent := fake.Sent()
		if len(sent) > 0 && first == 0 {
			first = sent[0].At.Sub(back)
		}
		if len(sent) >= chats {
			all = sent[len(sent)-1].At.Sub(back)
			break
		}
		if time.Since(back) > 10*time.Minute {
			b.Fatalf("only %d of %d alerts 10 minutes after Telegram's return", len(sent), chats)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	per := map[int64]int{}
	for _, m := range fake.Sent() {
		per[m.ChatID]++
	}
	for i := range chats {
		if n := per[int64(100_000+i)]; n != 1 {
			b.Fatalf("chat %d got %d alerts, want 1", 100_000+i, n)
		}
	}
	outcomes, err := store.Outcomes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range outcomes {
		if o.Status != bot.StatusSent {
			b.Fatalf("row %+v did not end as sent", o)
		}
	}
	return first, all
}
