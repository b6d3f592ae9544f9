//go:build !nopostgres

package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkFanOutReplicas is BenchmarkFanOut's Telegram leg on PostgreSQL:
// three replicas of the real binary (go build, os/exec) share one database;
// the leader fans one transition out to BENCH_TELEGRAM_CHATS chats (default
// 10,000, one in five a group) at BENCH_TELEGRAM_RATE (TELEGRAM_RATE_LIMIT,
// default 1000) through the Telegram fake, whose limit is at that rate.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench FanOutReplicas -benchtime 1x ./cmd/xstatusbot
//
// It reads BENCH_TELEGRAM_RATE, BENCH_TELEGRAM_CHATS, BENCH_TELEGRAM_LIMIT and
// BENCH_WORKERS as BenchmarkFanOut does (Discord is left out). Reported:
// deliver-s (from the transition the leader saved, at the start of its
// round, to the last message accepted), tg-msgs/s over the sending span and
// its ratio to the configured rate, lost, dup and the fake's 429s. Lost or
// duplicated messages fail it; times never do.
func BenchmarkFanOutReplicas(b *testing.B) {
	cfg := benchSettings(b)
	cfg.dcChats = 0
	bin := buildBinary(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := runFanOutReplicas(b, bin, cfg)
		if i == b.N-1 {
			r.reportReplicas(b, cfg)
		}
	}
}

type replicasResult struct {
	total, first, last time.Duration // from the transition: last message; sending span
	sent, lost, dup    int
	tg429, calls       int64
	leader             string
}

func runFanOutReplicas(b *testing.B, bin string, cfg fanOutSettings) replicasResult {
	ctx := context.Background()
	db := pgtest.URL(b)
	store, err := store.OpenPostgres(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	tgIDs, _ := subscribeChats(b, ctx, store, cfg)
	store.Close()

	tg := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{
		PerSecond: cfg.tgLimit, PerChatPerSecond: 1, PerGroupPerMinute: 20,
	}))
	b.Cleanup(tg.Close) // after the replicas stop: cleanups run last in, first out
	x, ctrl := fakex.New(), fakex.New()
	b.Cleanup(x.Close)
	b.Cleanup(ctrl.Close)
	var c cluster
	for _, region := range []string{"r1", "r2", "r3"} {
		env := replicaEnv(b, x, ctrl, tg, db, region)
		withTelegramRate(env, cfg.tgRate)
		env["DELIVERY_WORKERS"] = strconv.Itoa(cfg.workers)
		env["PROBE_DOWN_AFTER"] = "1"
		if v := os.Getenv("BENCH_GOMEMLIMIT"); v != "" { // the replicas' soft memory limit (default: the bot's 8MiB)
			env["GOMEMLIMIT"] = v
		}
		c.add(b, bin, env)
	}
	lead := c.leader(b)
	established(b, c.ins[lead])
	base := tg.Stats()

	b.StartTimer()
	x.Set(fakex.Down503)
	// No deadline: only a stall (no progress for a minute) fails.
	want := int64(len(tgIDs))
	progress, lastChange := int64(-1), time.Now()
	for {
		n := tg.Stats().Sent - base.Sent
		if n >= want && healthOf(b, c.ins[lead]).Outbox[telegram.Platform].Pending == 0 {
			break
		}
		if n != progress {
			progress, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			b.Fatalf("fan-out stalled at %d/%d; leader %s:\n%s", n, want, c.regions[lead], c.ins[lead].stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()

	at := changeAt(b, db)
	res := replicasResult{leader: c.regions[lead]}
	per := map[string]int{}
	var first, last time.Time
	for _, m := range tg.Sent() {
		per[strconv.FormatInt(m.ChatID, 10)]++
		first, last = earliest(first, m.At), latest(last, m.At)
		res.sent++
	}
	res.total, res.first, res.last = last.Sub(at), first.Sub(at), last.Sub(at)
	var stray int
	res.lost, res.dup, stray = countDelivery(tgIDs, per)
	st := tg.Stats()
	res.tg429, res.calls = st.RateLimited-base.RateLimited, st.SendCalls-base.SendCalls
	if res.lost != 0 || res.dup != 0 || stray != 0 {
		b.Fatalf("fan-out not exactly once: lost %d, duplicated %d, to unsubscribed chats %d", res.lost, res.dup, stray)
	}
	if n := st.Conflicts; n != 0 {
		b.Fatalf("telegram saw %d getUpdates conflicts: more than one replica polled", n)
	}
	return res
}

// changeAt is when the down transition the leader saved happened: the
// start of the round that decided it.
func changeAt(b *testing.B, db string) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var at int64
	if err := conn.QueryRow(ctx, `SELECT at FROM changes WHERE to_state = 'down' ORDER BY id DESC LIMIT 1`).Scan(&at); err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, at)
}

func (r replicasResult) reportReplicas(b *testing.B, cfg fanOutSettings) {
	rate := 0.0
	if r.sent > 1 && r.last > r.first {
		rate = float64(r.sent-1) / (r.last - r.first).Seconds()
	}
	b.ReportMetric(r.total.Seconds(), "deliver-s")
	b.ReportMetric(rate, "tg-msgs/s")
	b.ReportMetric(rate/cfg.tgRate, "tg-ratio")
	b.ReportMetric(float64(r.lost), "lost")
	b.ReportMetric(float64(r.dup), "dup")
	b.ReportMetric(float64(r.tg429), "tg-429s")
	b.Logf("three replicas on PostgreSQL, leader %s: %d Telegram chats delivered %.2fs after the transition; "+
		"%.1f msgs/s of %g configured (%.3f, fake limit %d/s, %d 429s, %d calls, span %.2f–%.2fs); lost %d, duplicated %d; workers %d",
		r.leader, r.sent, r.total.Seconds(), rate, cfg.tgRate, rate/cfg.tgRate, cfg.tgLimit, r.tg429, r.calls,
		r.first.Seconds(), r.last.Seconds(), r.lost, r.dup, cfg.workers)
}
