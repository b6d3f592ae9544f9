package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// fanOut is the wiring of run.go for one Telegram fan-out: the adapter, a
// gate shared by the dispatcher and the command answers, a real store with
// chats subscribed, the monitor that turns an outage into outbox rows.
type fanOut struct {
	fake  *telegramtest.Server
	store *store.Store
	a     *Bot
	gate  *delivery.Gate
	rate  float64
	logs  *logBuffer
	chats int
}

func newFanOut(tb testing.TB, chats int, rate float64, paid bool, limits telegramtest.Limits) *fanOut {
	tb.Helper()
	fake := telegramtest.New(telegramtest.WithLimits(limits))
	tb.Cleanup(fake.Close)
	st := adaptertest.Store(tb)
	logs := newLogBuffer()
	gate := delivery.NewGate(delivery.DefaultPolicy(rate), nil)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), Endpoint: fake.Endpoint(), Log: logs.logger(), PollTimeout: time.Second,
		Replier: gate, PaidBroadcast: paid}, command.NewService(st, st, time.Now, quiet))
	ctx, cancel := context.WithCancel(context.Background())
	done := runAdapter(ctx, a)
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if err := fake.Wait(wctx, func() bool { return a.State() == bot.PlatformReady }); err != nil {
		tb.Fatal(err)
	}
	for i := range chats {
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: Platform, ID: strconv.Itoa(300000 + i)}, Kind: KindPrivate, CreatedAt: time.Now()}
		if _, err := st.Subscribe(context.Background(), sub); err != nil {
			tb.Fatal(err)
		}
	}
	return &fanOut{fake: fake, store: st, a: a, gate: gate, rate: rate, logs: logs, chats: chats}
}

// run puts X down (one outbox row per chat) and delivers until every chat
// has a message or limit passes; it returns how long that took, after
// stopping the dispatcher (sends in flight finish first).
func (f *fanOut) run(tb testing.TB, limit time.Duration) time.Duration {
	tb.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	verdict := probe.VerdictUp
	mon := monitor.New(monitor.Config{
		Probe: func(context.Context) probe.Round {
			return probe.Round{Start: time.Now(), Verdict: verdict, Targets: []probe.Result{{Target: "web", Status: 503, Class: probe.ClassStatus}}}
		},
		Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1}, Store: f.store, Log: quiet,
	})
	if err := mon.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	for _, v := range []probe.Verdict{probe.VerdictUp, probe.VerdictDown} {
		verdict = v
		if err := mon.RunRound(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	policy := delivery.DefaultPolicy(f.rate)
	disp := delivery.NewDispatcher(f.store, []delivery.Channel{{Platform: Platform, Notifier: f.a, Policy: policy, Gate: f.gate}}, clock.System{}, quiet, nil)
	start := time.Now()
	dctx, dcancel := context.WithCancel(ctx)
	ddone := make(chan struct{})
	go func() { defer close(ddone); disp.Run(dctx) }()
	wctx, wcancel := context.WithTimeout(ctx, limit)
	defer wcancel()
	err := f.fake.Wait(wctx, func() bool { return len(f.fake.Chats()) == f.chats })
	took := time.Since(start)
	dcancel()
	<-ddone
	if err != nil {
		tb.Fatalf("%d of %d chats alerted within %s: %v", len(f.fake.Chats()), f.chats, limit, err)
	}
	return took
}

// TestStarsRunOutMidFanOut: 200 chats at the paid rate; the bot's Stars
// run out after about 100 paid alerts. Every chat gets its alert exactly
// once: the refused ones go out unpaid at once, the rest unpaid at the
// free pace; one error line says so.
func TestStarsRunOutMidFanOut(t *testing.T) {
	const chats = 200
	f := newFanOut(t, chats, PaidRate, true, telegramLimits)
	f.fake.RefusePaidAfter(100, telegramtest.NotEnoughStars())
	took := f.run(t, time.Minute)
	st := f.fake.Stats()
	t.Logf("%d alerts in %s: %d paid, %d paid tries refused, %d answered 429", chats, took.Round(time.Millisecond), st.PaidSent, st.PaidRefused, st.RateLimited)
	for i := range chats {
		if got := f.fake.SentTo(int64(300000 + i)); len(got) != 1 {
			t.Fatalf("chat %d got %d alerts, want 1", 300000+i, len(got))
		}
	}
	if st.PaidSent < 100 || st.PaidSent >= chats || st.PaidRefused == 0 {
		t.Errorf("stats %+v: want paid alerts until the Stars ran out, unpaid after", st)
	}
	if n := strings.Count(f.logs.String(), "paid broadcast refused"); n != 1 {
		t.Errorf("%d lines say the paid broadcast was refused, want 1:\n%s", n, f.logs.String())
	}
}

// TestPaidFanOutMeetsThePaidLimitNotTheFreeOne: 3,000 alerts sent at once
// within one second of the fake's clock (frozen). Paid, the fake takes
// 1,000 (its paid limit) and answers the rest 429; unpaid, it takes 30.
func TestPaidFanOutMeetsThePaidLimitNotTheFreeOne(t *testing.T) {
	const chats = 3000
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		paid                    bool
		sent, limited, paidSent int64
	}{
		{true, PaidRate, chats - PaidRate, PaidRate},
		{false, FreeRate, chats - FreeRate, 0},
	} {
		t.Run(fmt.Sprintf("paid %v", tc.paid), func(t *testing.T) {
			h := newHarnessWith(t, []telegramtest.Option{telegramtest.WithLimits(telegramLimits), telegramtest.WithClock(func() time.Time { return frozen })},
				nil, func() time.Time { return t0 }, func(a *Bot) {
					if tc.paid {
						withPaid(a)
					}
				})
			h.connected()
			var sent, limited, other atomic.Int64
			var wg sync.WaitGroup
			next := atomic.Int64{}
			for range 32 {
				wg.Go(func() {
					for i := next.Add(1); i <= chats; i = next.Add(1) {
						_, err := h.a.Send(context.Background(), strconv.FormatInt(400000+i, 10), bot.Message{Title: "x"})
						var se *bot.SendError
						switch {
						case err == nil:
							sent.Add(1)
						case errors.As(err, &se) && se.Class == bot.RateLimited:
							limited.Add(1)
						default:
							other.Add(1)
						}
					}
				})
			}
			wg.Wait()
			st := h.fake.Stats()
			if sent.Load() != tc.sent || limited.Load() != tc.limited || other.Load() != 0 || st.PaidSent != tc.paidSent {
				t.Errorf("%d sent, %d rate-limited, %d other errors, %d paid; want %d, %d, 0, %d",
					sent.Load(), limited.Load(), other.Load(), st.PaidSent, tc.sent, tc.limited, tc.paidSent)
			}
			if tc.paid && st.PaidCharged != PaidRate-FreeRate {
				t.Errorf("%d paid messages charged, want %d: all beyond the free %d", st.PaidCharged, PaidRate-FreeRate, FreeRate)
			}
		})
	}
}

// BenchmarkPaidFanOut: one outage fanned out to BENCH_PAID_CHATS private
// chats (default 3,000) through the dispatcher and the gate, against a fake
// enforcing Telegram's limits (30 a second free, 1,000 paid, 1 a second per
// chat). "paid": TELEGRAM_RATE_LIMIT=1000 with paid broadcast; "free": 30
// without. Reports the time to the last alert, the rate, the 429s, and the
// paid messages Telegram would bill (0.1 Star each).
//
//	go test -run '^$' -bench PaidFanOut -benchtime 1x ./bot/telegram
func BenchmarkPaidFanOut(b *testing.B) {
	chats := 3000
	if v := os.Getenv("BENCH_PAID_CHATS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_PAID_CHATS=%q: want a count", v)
		}
		chats = n
	}
	for _, bc := range []struct {
		name string
		rate float64
		paid bool
	}{{"paid", PaidRate, true}, {"free", FreeRate, false}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				f := newFanOut(b, chats, bc.rate, bc.paid, telegramLimits)
				took := f.run(b, time.Duration(chats/FreeRate+120)*time.Second)
				st := f.fake.Stats()
				b.ReportMetric(took.Seconds(), "s-to-all")
				b.ReportMetric(float64(chats)/took.Seconds(), "alerts/s")
				b.ReportMetric(float64(st.RateLimited), "429s")
				b.ReportMetric(float64(st.PaidCharged), "billed-msgs")
				b.Logf("%d chats, TELEGRAM_RATE_LIMIT=%g paid=%v: all alerted in %s (%.0f alerts/s), %d paid, %d billed (%.1f Stars at 0.1 each), %d answered 429",
					chats, bc.rate, bc.paid, took.Round(time.Millisecond), float64(chats)/took.Seconds(), st.PaidSent, st.PaidCharged, float64(st.PaidCharged)/10, st.RateLimited)
			}
		})
	}
}
