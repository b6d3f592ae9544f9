package discord

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkHeaderless429: an alert fans out to 500 channels through the real
// dispatcher while the fake answers every request with Cloudflare's 429 (HTML,
// no X-RateLimit-* header, no Retry-After) for 20 s, then recovers. It reports
// the requests Discord received during those 20 s and the time from the
// recovery to the last delivery, and fails unless every channel then has
// exactly one message.
//
//	go test -run '^$' -bench Headerless -benchtime 1x ./bot/discord
func BenchmarkHeaderless429(b *testing.B) {
	const (
		channels = 500
		fault    = 20 * time.Second
	)
	for range b.N {
		requests, recovery := runHeaderless(b, channels, fault)
		b.ReportMetric(float64(requests), "requests/20s-of-429")
		b.ReportMetric(recovery.Seconds(), "s-recovery-to-all-sent")
	}
}

func runHeaderless(b *testing.B, channels int, fault time.Duration) (requests int64, recovery time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	store := adaptertest.Store(b)
	ids := make([]string, channels)
	for i := range ids {
		ids[i] = strconv.FormatInt(1_300_000_000_000_000_000+int64(i), 10)
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: Platform, ID: ids[i]}, Kind: KindServer, Group: guild, Lang: "en", CreatedAt: time.Now()}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}

	fake := discordtest.New()
	b.Cleanup(fake.Close)
	svc := command.NewService(store, store, time.Now, log)
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), APIURL: fake.URL, Log: log}, svc)
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			b.Errorf("Run: %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := fake.WaitOverwrites(wctx, 1); err != nil {
		b.Fatalf("adapter never ready: %v", err)
	}

	// As run.go wires Discord: the default policy at DISCORD_RATE_LIMIT=50,
	// no per-chat gap (discordgo keeps Discord's per-route buckets).
	policy := delivery.DefaultPolicy(50)
	policy.PerChat = 0
	disp := delivery.NewDispatcher(store, []delivery.Channel{{Platform: Platform, Notifier: a, Policy: policy}}, clock.System{}, log, nil)
	dctx, dcancel := context.WithCancel(ctx)
	ddone := make(chan struct{})
	go func() { defer close(ddone); disp.Run(dctx) }()
	defer func() { dcancel(); <-ddone }()

	x := fakex.New()
	defer x.Close()
	checker := &probe.Checker{Client: &http.Client{}, Timeout: 5 * time.Second, RetryDelay: 10 * time.Millisecond}
	targets := []probe.Target{{Name: "web", URL: x.URL() + "/"}}
	mon := monitor.New(monitor.Config{
		Probe:   func(ctx context.Context) probe.Round { return checker.Round(ctx, targets, nil) },
		Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1},
		Store:   store, Log: log, Changed: disp.Wake,
	})
	if err := mon.Load(ctx); err != nil {
		b.Fatal(err)
	}
	rounds := func(n int) {
		for range n {
			if err := mon.RunRound(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	rounds(2) // the first state, up, is not announced

	b.ResetTimer()
	fake.FailAll(discordtest.Cloudflare429(0))
	before := fake.Requests()
	x.Set(fakex.Down503)
	rounds(2) // one outbox row per channel
	time.Sleep(fault)
	requests = fake.Requests() - before
	fake.Recover()
	back := time.Now()

	dl, dcancelWait := context.WithTimeout(ctx, 3*time.Minute)
	defer dcancelWait()
	if err := fake.WaitMessages(dl, channels); err != nil {
		b.Fatalf("after the recovery only %d of %d channels got the alert", len(fake.MessageCounts()), channels)
	}
	recovery = time.Since(back)
	b.StopTimer()
	// Everything is recorded once the outbox is empty; then count.
	for {
		bl, err := store.Backlog(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if bl[Platform].Pending == 0 {
			break
		}
		select {
		case <-dl.Done():
			b.Fatalf("outbox never drained: %+v", bl)
		case <-time.After(20 * time.Millisecond):
		}
	}
	counts := fake.MessageCounts()
	for _, id := range ids {
		if counts[id] != 1 {
			b.Errorf("channel %s got %d messages, want exactly 1", id, counts[id])
		}
	}
	if len(counts) != channels {
		b.Errorf("%d channels got messages, want %d", len(counts), channels)
	}
	b.Logf("%d requests (%d answered 429) during %s of headerless 429s; all %d channels had their one alert %.1fs after the recovery",
		requests, fake.RateLimitedCount(), fault, channels, recovery.Seconds())
	return requests, recovery
}
