package telegram

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// TestAlertsFlowWhileOneUserFloodsStatus: one user types /status eight
// times a second, half in a private chat, half in a group, while an outage
// is fanned out to 150 chats at Telegram's default 25 messages/s, through
// one gate shared by the dispatcher and this adapter's answers, against a
// fake enforcing 1 message/s per chat. Every subscriber gets the down alert
// in about the time the alerts' four fifths of the rate take (150 ÷ 20 =
// 7.5 s; before, answers went first and none had it within 45 s), and the
// flooder still gets answers.
func TestAlertsFlowWhileOneUserFloodsStatus(t *testing.T) {
	const (
		rate        = 25
		subscribers = 150
		flooder     = int64(777)
		group       = int64(-1009999)
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gate := delivery.NewGate(delivery.Policy{Rate: rate, PerChat: time.Second}, nil)
	fake := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{PerSecond: rate + 5, PerChatPerSecond: 1}))
	t.Cleanup(fake.Close)
	store := adaptertest.Store(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), Endpoint: fake.Endpoint(), Log: quiet, PollTimeout: time.Second, Replier: gate},
		command.NewService(store, store, time.Now, quiet))
	actx, acancel := context.WithCancel(ctx)
	done := runAdapter(actx, a)
	defer func() { acancel(); <-done }()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := fake.Wait(wctx, func() bool { return a.State() == bot.PlatformReady }); err != nil {
		t.Fatal(err)
	}
	for i := range subscribers {
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: Platform, ID: strconv.Itoa(200000 + i)}, Kind: "private", CreatedAt: time.Now()}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}

	// The flood starts before the outage and goes on through the fan-out.
	fctx, fstop := context.WithCancel(ctx)
	var flood sync.WaitGroup
	flood.Add(1)
	go func() {
		defer flood.Done()
		tick := time.NewTicker(time.Second / 8)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
			}
			if i%2 == 0 {
				fake.Private(telegramtest.User{ID: flooder}, "/status")
			} else {
				fake.Group(group, telegramtest.User{ID: flooder}, "/status")
			}
		}
	}()
	defer func() { fstop(); flood.Wait() }()
	if err := fake.Wait(wctx, func() bool { return len(fake.SentTo(flooder)) > 0 }); err != nil {
		t.Fatal("the flooder was never answered before the outage")
	}

	verdict := probe.VerdictUp
	mon := monitor.New(monitor.Config{
		Probe: func(context.Context) probe.Round {
			return probe.Round{Start: time.Now(), Verdict: verdict, Targets: []probe.Result{{Target: "web", Status: 503, Class: probe.ClassStatus}}}
		},
		Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1}, Store: store, Log: quiet,
	})
	if err := mon.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []probe.Verdict{probe.VerdictUp, probe.VerdictDown} {
		verdict = v
		if err := mon.RunRound(ctx); err != nil {
			t.Fatal(err)
		}
	}
	policy := delivery.DefaultPolicy(rate)
	disp := delivery.NewDispatcher(store, []delivery.Channel{{Platform: Platform, Notifier: a, Policy: policy, Gate: gate}}, clock.System{}, quiet, nil)
	answeredBefore := len(fake.SentTo(flooder)) + len(fake.SentTo(group))
	start := time.Now()
	dctx, dcancel := context.WithCancel(ctx)
	ddone := make(chan struct{})
	go func() { defer close(ddone); disp.Run(dctx) }()
	defer func() { dcancel(); <-ddone }()

	alerted := func() int {
		n := 0
		for i := range subscribers {
			if len(fake.SentTo(int64(200000+i))) > 0 {
				n++
			}
		}
		return n
	}
	limit, lcancel := context.WithTimeout(ctx, 45*time.Second)
	defer lcancel()
	if err := fake.Wait(limit, func() bool { return alerted() == subscribers }); err != nil {
		t.Fatalf("%d of %d subscribers had the down alert within 45 s while one user flooded /status", alerted(), subscribers)
	}
	took := time.Since(start)
	answered := len(fake.SentTo(flooder)) + len(fake.SentTo(group)) - answeredBefore
	t.Logf("150 alerts in %s during the flood; the flooder got %d answers meanwhile", took.Round(10*time.Millisecond), answered)
	if answered == 0 {
		t.Errorf("the flooder got no answer during a %s fan-out: answers must keep their share", took.Round(time.Millisecond))
	}
	for i := range subscribers {
		if n := len(fake.SentTo(int64(200000 + i))); n != 1 {
			t.Fatalf("subscriber %d got %d alerts, want 1", i, n)
		}
	}
}
