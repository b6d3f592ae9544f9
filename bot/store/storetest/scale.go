package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// ScaleSubscribers is how many chats BenchScale subscribes unless
// BENCH_SUBSCRIBERS says otherwise.
const ScaleSubscribers = 100_000

// duePage is how many chats the dispatcher asks Due for at once: four per
// worker, at the default DELIVERY_WORKERS (16).
const duePage = 64

// BenchScale measures the store's part of an outage announced to
// BENCH_SUBSCRIBERS chats (default 100,000) with the mixed settings of
// BenchFanOutSettings (1 in 4 on outages, 1 in 10 muted, 1 in 5 with
// reminders), after 5 delivered incidents:
//
//   - ms/down-save, ms/up-save: the round's transaction that saves the down
//     change with its outbox rows, and the one that saves the recovery (the
//     heard-of-the-incident check per subscriber);
//   - ms/first-due: the first Due of a dispatcher page (64 chats) right after
//     the down change is saved: the store's share of the first message;
//   - due-p50-ms, due-p95-ms, due-max-ms: every Due of 64 chats while the
//     whole fan-out is drained page by page, each page finished at once
//     (one Finish per page), and drain-rows/s, that drain's pace;
//   - backlog-ms: one Backlog (the count /healthz and /metrics read) with the
//     fan-out pending;
//   - ms/outage-round, ms/reminder-round: a round of the outage once the down
//     alert is delivered, with no reminder due, and the round an hour on that
//     queues the reminders (1 in 5 chats).
//
// seeders is how many goroutines subscribe the chats (1 for SQLite's one
// connection; more where the store has a pool). open gives a store on a
// fresh, empty database, closed by the benchmark; a store that is a
// bot.Lease is made leader first, so its fence is measured too.
func BenchScale(b *testing.B, open func(b *testing.B) Store, seeders int) {
	ctx := b.Context()
	subscribers := ScaleSubscribers
	if v := os.Getenv("BENCH_SUBSCRIBERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_SUBSCRIBERS=%q: want a positive number", v)
		}
		subscribers = n
	}
	const history = 5
	for range b.N {
		b.StopTimer()
		s := open(b)
		stopLeading := Lead(b, s)
		seedStart := time.Now()
		muted := Seed(b, s, subscribers, seeders, t0.Add(-time.Hour))
		b.Logf("%d subscriptions seeded in %s", subscribers, time.Since(seedStart).Round(time.Millisecond))
		var (
			downMs, upMs, firstDueMs, backlogMs float64
			outageMs, reminderMs                float64
			reminders                           int
			dues                                []time.Duration
			drained                             time.Duration
		)
		sent := 0
		for k := range history + 1 {
			last := k == history
			at := t0.Add(time.Duration(k) * time.Hour)
			start := time.Now()
			SaveDown(b, s, at)
			downMs = msSince(start)
			if last {
				start = time.Now()
				if _, err := s.Due(ctx, tgPlatform, at, duePage, nil); err != nil {
					b.Fatal(err)
				}
				firstDueMs = msSince(start)
				start = time.Now()
				if _, err := s.Backlog(ctx); err != nil {
					b.Fatal(err)
				}
				backlogMs = msSince(start)
				start = time.Now()
				n, times := drain(b, s, at, duePage)
				drained = time.Since(start)
				sent += n
				dues = times
				// The rounds of the outage: one with no reminder due, and the
				// one an hour on that queues every reminder.
				start = time.Now()
				outageRound(b, s, at.Add(time.Minute), at)
				outageMs = msSince(start)
				start = time.Now()
				outageRound(b, s, at.Add(time.Hour), at)
				reminderMs = msSince(start)
				reminders, _ = drain(b, s, at.Add(time.Hour), 1000)
				at = at.Add(time.Hour)
			} else {
				n, _ := drain(b, s, at, 1000)
				sent += n
			}
			start = time.Now()
			SaveRecovery(b, s, at.Add(time.Minute))
			upMs = msSince(start)
			n, _ := drain(b, s, at.Add(time.Minute), 1000)
			sent += n
		}
		if want := 2 * (history + 1) * (subscribers - muted); sent != want {
			b.Fatalf("%d rows sent, want %d: every chat not muted gets each down and its recovery", sent, want)
		}
		if want := (subscribers + 2) / 5; reminders != want {
			b.Fatalf("%d reminders, want %d: one per chat with reminders on", reminders, want)
		}
		slices.Sort(dues)
		pct := func(p float64) float64 {
			return float64(dues[min(len(dues)-1, int(p*float64(len(dues))))].Microseconds()) / 1000
		}
		b.ReportMetric(downMs, "ms/down-save")
		b.ReportMetric(upMs, "ms/up-save")
		b.ReportMetric(firstDueMs, "ms/first-due")
		b.ReportMetric(pct(0.5), "due-p50-ms")
		b.ReportMetric(pct(0.95), "due-p95-ms")
		b.ReportMetric(pct(1), "due-max-ms")
		b.ReportMetric(float64(subscribers-muted)/drained.Seconds(), "drain-rows/s")
		b.ReportMetric(backlogMs, "backlog-ms")
		b.ReportMetric(outageMs, "ms/outage-round")
		b.ReportMetric(reminderMs, "ms/reminder-round")
		stopLeading()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// Lead makes s the leader when it is a bot.Lease (a store that fences
// leader writes) and renews its lease every minute, as the leader loop
// would, until the returned func is called; a benchmark outlives one lease.
func Lead(b testing.TB, s any) (stop func()) {
	b.Helper()
	l, ok := s.(bot.Lease)
	if !ok {
		return func() {}
	}
	if _, held, err := l.Acquire(b.Context(), leaseTTL); err != nil || !held {
		b.Fatalf("take the leader lease: held %v, %v", held, err)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Minute):
			}
			if _, held, err := l.Acquire(b.Context(), leaseTTL); err != nil || !held {
				b.Errorf("renew the leader lease: held %v, %v", held, err)
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// outageRound saves a down round without a change, X down since since:
// the rounds of an outage, which queue the reminders that are due.
func outageRound(b *testing.B, s Store, at, since time.Time) {
	b.Helper()
	snap := &bot.Snapshot{Round: DownRound(at), Status: probe.Status{State: probe.StateDown, Since: since}}
	if err := s.SaveRound(b.Context(), snap); err != nil {
		b.Fatal(err)
	}
}

func msSince(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// Seed subscribes n Telegram chats ("0" … n-1) with SeedMixed; it returns
// how many are muted.
func Seed(b testing.TB, s Store, n, workers int, at time.Time) (muted int) {
	_, m := SeedMixed(b, s, n, workers, at, func(i int, _ bool) bot.ChatRef { return chat(tgPlatform, fmt.Sprint(i)) })
	return len(m)
}

// Subscriber is what SeedMixed needs of a store.
type Subscriber interface {
	Subscribe(ctx context.Context, s bot.Subscription) (bool, error)
	UpdateSettings(ctx context.Context, chat bot.ChatRef, change func(*bot.ChatSettings)) (bot.ChatSettings, bool, error)
}

// SeedMixed subscribes n chats, chat(i, group) naming the i-th (one in five
// a group, one in ten in French), the first at at, with BenchFanOutSettings'
// mixed settings (1 in 4 on outages, 1 in 10 muted for a year from at, 1 in
// 5 with hourly reminders), through the store as the commands make them,
// from workers goroutines at once. It returns the chats a down alert goes
// to (all but the muted) and the muted ones, in the order of i.
func SeedMixed(b testing.TB, s Subscriber, n, workers int, at time.Time, chat func(i int, group bool) bot.ChatRef) (want, muted []bot.ChatRef) {
	b.Helper()
	ctx := b.Context()
	workers = max(workers, 1)
	chats := make([]bot.ChatRef, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		fail error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				sub := bot.Subscription{Chat: chat(i, i%5 == 0), Kind: "private", Lang: "en", CreatedAt: at.Add(time.Duration(i))}
				if i%5 == 0 {
					sub.Kind = "group"
				}
				if i%10 == 3 {
					sub.Lang = "fr"
				}
				chats[i] = sub.Chat
				_, err := s.Subscribe(ctx, sub)
				if err == nil && (i%4 == 0 || i%10 == 1 || i%5 == 2) {
					_, _, err = s.UpdateSettings(ctx, sub.Chat, func(cs *bot.ChatSettings) {
						if i%4 == 0 {
							cs.Level = bot.AlertsOutages
						}
						if i%10 == 1 {
							cs.MutedUntil = at.Add(365 * 24 * time.Hour)
						}
						if i%5 == 2 {
							cs.RemindEvery = time.Hour
						}
					})
				}
				if err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if fail != nil {
		b.Fatal(fail)
	}
	for i, c := range chats {
		if i%10 == 1 {
			muted = append(muted, c)
		} else {
			want = append(want, c)
		}
	}
	return want, muted
}

// drain marks every pending Telegram row sent, page chats at a time as the
// dispatcher takes them (one Finish per page), and returns how many rows
// there were and how long each Due took.
func drain(b *testing.B, s Store, at time.Time, page int) (int, []time.Duration) {
	b.Helper()
	var (
		n     int
		times []time.Duration
	)
	for {
		start := time.Now()
		due, err := s.Due(b.Context(), tgPlatform, at, page, nil)
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(due) == 0 {
			return n, times
		}
		ids := make([]int64, len(due))
		for i, d := range due {
			ids[i] = d.ID
		}
		if err := s.Finish(b.Context(), ids, bot.StatusSent, "m", "", at); err != nil {
			b.Fatal(err)
		}
		n += len(due)
	}
}
