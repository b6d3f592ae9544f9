package main

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkScale is an outage announced to 100,000 subscribers by the real
// binary (go build, os/exec) on SQLite: BENCH_SUBSCRIBERS Telegram chats
// (default 100,000; one in five a group, one in ten in French) with the
// mixed settings of the store's FanOutSettings benchmark (1 in 4 on
// "outages", 1 in 10 muted, 1 in 5 with hourly reminders), so 90,000 get the
// down alert. The Telegram fake's limit is the configured rate
// (BENCH_TELEGRAM_RATE, default 1000/s: 90 s of sending), 1/s per chat and
// 20/min per group, with 429s; meanwhile BENCH_STORM_USERS people (default
// 50 here), each in a private chat of their own, send /status every 2 s.
//
//	go test -run '^$' -bench 'Scale$' -benchtime 1x -timeout 30m ./cmd/xstatusbot
//
// Reported: round-s (from the round's start, the change's time, to the
// bot's "state changed" log line, written once the round and its 90,000
// outbox rows are committed), first-s (from that line to the first alert
// the fake accepted), deliver-s (from the change to the last alert),
// alert-msgs/s over the alerts' span and its ratio to the configured rate,
// status-p50-s and status-p95-s (a /status asked during the fan-out to the
// first answer after it in that chat) and unanswered, lost, dup (either
// fails it, as does an alert to a muted chat), the fake's 429s, and
// peak-RSS-MB of the bot's process (VmHWM: its whole life, start included).
// BenchmarkScalePostgres is the same on PostgreSQL.
func BenchmarkScale(b *testing.B) {
	bin := buildBinary(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		path := filepath.Join(dir, "bot.db")
		s, err := store.OpenSQLite(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		r := runScale(b, bin, s, scaleDB{
			env: func(env map[string]string) { env["DB_PATH"] = path },
			changeAt: func() time.Time {
				db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				return downChangeAt(b, db)
			},
		})
		if i == b.N-1 {
			r.report(b)
		}
	}
}

// scaleStore is what seeding needs of a store (SQLite or PostgreSQL).
type scaleStore interface {
	Subscribe(ctx context.Context, sub bot.Subscription) (bool, error)
	UpdateSettings(ctx context.Context, chat bot.ChatRef, change func(*bot.ChatSettings)) (bot.ChatSettings, bool, error)
	Close() error
}

// scaleDB is how the binary finds the database, and how the benchmark reads
// the change's time back.
type scaleDB struct {
	env      func(env map[string]string)
	changeAt func() time.Time
	seeders  int // goroutines subscribing at once (a pool's connections)
}

type scaleResult struct {
	rate                float64
	subscribers, want   int
	round, first, total time.Duration
	alerts              int
	alertFirst, last    time.Time
	latencies           []time.Duration
	asked, unanswered   int
	lost, dup, stray    int
	tg429               int64
	rssMB               float64
}

// The people asking /status: private chats of their own.
const scaleAskerBase = 910_000_000

func runScale(b *testing.B, bin string, s scaleStore, db scaleDB) scaleResult {
	cfg := benchSettings(b)
	subscribers := int(benchEnvFloat(b, "BENCH_SUBSCRIBERS", 100_000))
	users := int(benchEnvFloat(b, "BENCH_STORM_USERS", 50))
	res := scaleResult{rate: cfg.tgRate, subscribers: subscribers}

	seeded := time.Now()
	want, muted := seedScale(b, s, subscribers, max(db.seeders, 1))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	res.want = len(want)
	b.Logf("%d subscriptions seeded in %s", subscribers, time.Since(seeded).Round(time.Second))

	tg := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{
		PerSecond: cfg.tgLimit, PerChatPerSecond: 1, PerGroupPerMinute: 20,
	}))
	b.Cleanup(tg.Close)
	x, ctrl := fakex.New(), fakex.New()
	b.Cleanup(x.Close)
	b.Cleanup(ctrl.Close)
	env := botEnv(b, x, ctrl)
	db.env(env)
	env["HTTP_ADDR"] = freeAddr(b)
	env["LOG_LEVEL"] = "info" // the "state changed" line
	env["PROBE_DOWN_AFTER"] = "1"
	env["PROBE_REGION"] = "r1"
	withTelegramRate(env, cfg.tgRate)
	env["DELIVERY_WORKERS"] = strconv.Itoa(cfg.workers)
	withTelegram(env, tg.Endpoint())
	in := startBinary(b, bin, b.TempDir(), env)
	waitWithin(b, 2*time.Minute, "telegram polling", func() bool { return tg.Stats().GetUpdatesCalls > 0 })
	waitWithin(b, 2*time.Minute, "the initial state", func() bool { return healthOf(b, in).State == "up" })
	base := tg.Stats()

	// People ask from the moment X fails, each at a random phase of 2 s.
	var (
		mu   sync.Mutex
		asks = map[int64][]time.Time{}
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		next := make([]time.Time, users)
		now := time.Now()
		for i := range next {
			next[i] = now.Add(time.Duration(rand.Int64N(int64(2 * time.Second))))
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now()
			for i := range next {
				if now.Before(next[i]) {
					continue
				}
				next[i] = next[i].Add(2 * time.Second)
				id := int64(scaleAskerBase + i)
				tg.Private(telegramtest.User{ID: id}, "/status")
				mu.Lock()
				asks[id] = append(asks[id], time.Now())
				mu.Unlock()
			}
		}
	}()
	stopAsking := sync.OnceFunc(func() { close(stop); <-done })
	defer stopAsking()

	b.StartTimer()
	x.Set(fakex.Down503)
	// No deadline: only a stall (no progress for a minute) fails.
	progress, lastChange := int64(-1), time.Now()
	for {
		n := tg.Stats().Sent - base.Sent
		if n >= int64(len(want)) && healthOf(b, in).Outbox[telegram.Platform].Pending == 0 {
			break
		}
		if n != progress {
			progress, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			b.Fatalf("fan-out stalled at %d messages for %d chats; logs:\n%s", n, len(want), in.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	res.rssMB = peakRSSMB(b, strconv.Itoa(in.pid))
	stopAsking()
	time.Sleep(3 * time.Second) // answers to the last asks are on their way

	at := db.changeAt()
	saved := stateChangedAt(b, in.stderr.String())
	res.round = saved.Sub(at)
	subscribed := make(map[int64]bool, len(want))
	for _, id := range want {
		n, _ := strconv.ParseInt(id, 10, 64)
		subscribed[n] = true
	}
	mutedIDs := make(map[int64]bool, len(muted))
	for _, id := range muted {
		n, _ := strconv.ParseInt(id, 10, 64)
		mutedIDs[n] = true
	}
	per := map[string]int{}
	answers := map[int64][]time.Time{}
	for _, m := range tg.Sent() {
		switch {
		case subscribed[m.ChatID]:
			per[strconv.FormatInt(m.ChatID, 10)]++
			res.alertFirst, res.last = earliest(res.alertFirst, m.At), latest(res.last, m.At)
			res.alerts++
		case mutedIDs[m.ChatID]:
			res.stray++
		default:
			answers[m.ChatID] = append(answers[m.ChatID], m.At)
		}
	}
	res.first, res.total = res.alertFirst.Sub(saved), res.last.Sub(at)
	var stray int
	res.lost, res.dup, stray = countDelivery(want, per)
	res.stray += stray
	if res.lost != 0 || res.dup != 0 || res.stray != 0 {
		b.Fatalf("alerts not exactly once: lost %d, duplicated %d, to muted or unsubscribed chats %d", res.lost, res.dup, res.stray)
	}
	mu.Lock()
	defer mu.Unlock()
	for chat, times := range asks {
		got := answers[chat]
		slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
		for _, t := range times {
			if t.Before(res.alertFirst) || t.After(res.last) {
				continue // only asks made while alerts were being sent
			}
			res.asked++
			i, _ := slices.BinarySearchFunc(got, t, func(a, t time.Time) int { return a.Compare(t) })
			if i == len(got) {
				res.unanswered++
				continue
			}
			res.latencies = append(res.latencies, got[i].Sub(t))
		}
	}
	res.tg429 = tg.Stats().RateLimited - base.RateLimited
	return res
}

// seedScale subscribes n Telegram chats (user and group ids as Telegram's)
// with storetest.SeedMixed's mixed settings; it returns the chats the down
// alert goes to (all but the muted) and the muted ones.
func seedScale(b *testing.B, s scaleStore, n, workers int) (want, muted []string) {
	wantChats, mutedChats := storetest.SeedMixed(b, s, n, workers, time.Now().Add(-time.Hour), func(i int, group bool) bot.ChatRef {
		id := int64(100_000_000 + i)
		if group {
			id = -1_001_000_000_000 - int64(i)
		}
		return bot.ChatRef{Platform: telegram.Platform, ID: strconv.FormatInt(id, 10)}
	})
	for _, c := range wantChats {
		want = append(want, c.ID)
	}
	for _, c := range mutedChats {
		muted = append(muted, c.ID)
	}
	return want, muted
}

// downChangeAt is the time of the last down change: the start of the round
// that decided it.
func downChangeAt(b *testing.B, db *sql.DB) time.Time {
	var at int64
	if err := db.QueryRow(`SELECT at FROM changes WHERE to_state = 'down' ORDER BY id DESC LIMIT 1`).Scan(&at); err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, at)
}

// stateChangedAt is the time of the bot's log line "state changed" to down,
// written right after the round and its outbox rows were committed.
func stateChangedAt(b *testing.B, logs string) time.Time {
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, `msg="state changed"`) || !strings.Contains(line, "to=down") {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		t, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			b.Fatalf("log line %q: %v", line, err)
		}
		return t
	}
	b.Fatalf("no \"state changed\" line in the logs:\n%s", logs)
	return time.Time{}
}

func (r scaleResult) report(b *testing.B) {
	span := r.last.Sub(r.alertFirst).Seconds()
	rate := 0.0
	if span > 0 {
		rate = float64(r.alerts-1) / span
	}
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	b.ReportMetric(r.round.Seconds(), "round-s")
	b.ReportMetric(r.first.Seconds(), "first-s")
	b.ReportMetric(r.total.Seconds(), "deliver-s")
	b.ReportMetric(rate, "alert-msgs/s")
	b.ReportMetric(rate/r.rate, "alert-ratio")
	b.ReportMetric(pct(0.5).Seconds(), "status-p50-s")
	b.ReportMetric(pct(0.95).Seconds(), "status-p95-s")
	b.ReportMetric(float64(r.unanswered), "unanswered")
	b.ReportMetric(float64(r.lost), "lost")
	b.ReportMetric(float64(r.dup), "dup")
	b.ReportMetric(float64(r.tg429), "tg-429s")
	b.ReportMetric(r.rssMB, "peak-RSS-MB")
	b.Logf("%d subscribers, %d alerts: round with the change saved %s after it began, first alert %s after that, "+
		"all %.2fs after the change (%.1f/s of %g: %.3f; %d 429s); /status asked %d times meanwhile: p50 %s, p95 %s, %d unanswered; "+
		"lost %d, duplicated %d; peak RSS of the bot %.1f MB",
		r.subscribers, r.alerts, r.round.Round(time.Millisecond), r.first.Round(time.Millisecond),
		r.total.Seconds(), rate, r.rate, rate/r.rate, r.tg429, r.asked, pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond),
		r.unanswered, r.lost, r.dup, r.rssMB)
}
