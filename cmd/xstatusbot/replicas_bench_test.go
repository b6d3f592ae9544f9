//go:build !nopostgres

package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/discord"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkFanOutReplicas is BenchmarkFanOut on PostgreSQL: three replicas
// of the real binary (go build, os/exec) share one database; the leader fans
// one transition out to BENCH_TELEGRAM_CHATS Telegram chats (default 10,000,
// one in five a group) at BENCH_TELEGRAM_RATE (TELEGRAM_RATE_LIMIT, default
// 1000) and BENCH_DISCORD_CHATS Discord channels (default 1,000, ten per
// server) at BENCH_DISCORD_RATE (DISCORD_RATE_LIMIT, default 50), both legs
// at once, through the fakes, whose limits are at those rates.
//
//	XSTATUSBOT_TEST_POSTGRES=postgres://… go test -run '^$' -bench FanOutReplicas -benchtime 1x ./cmd/xstatusbot
//
// It reads the BENCH_* settings BenchmarkFanOut reads; BENCH_DISCORD_CHATS=0
// leaves Discord out. Reported: deliver-s (from the transition the leader
// saved, at the start of its round, to the last message accepted), per
// platform msgs/s over its sending span and its ratio to the configured
// rate, lost, dup and the fakes' 429s. Lost or duplicated messages fail it;
// times never do.
func BenchmarkFanOutReplicas(b *testing.B) {
	cfg := benchSettings(b)
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
	total           time.Duration // from the transition to the last message
	tg, dc          legResult
	lost, dup       int
	tg429, dc429    int64
	tgCalls, dcReqs int64
	leader          string
}

// legResult is one platform's part of a fan-out: messages accepted and the
// span from the transition to the first and to the last.
type legResult struct {
	sent        int
	first, last time.Duration
}

// rate is the leg's messages per second over its sending span.
func (l legResult) rate() float64 {
	if l.sent < 2 || l.last <= l.first {
		return 0
	}
	return float64(l.sent-1) / (l.last - l.first).Seconds()
}

func runFanOutReplicas(b *testing.B, bin string, cfg fanOutSettings) replicasResult {
	ctx := context.Background()
	db := pgtest.URL(b)
	st, err := store.OpenPostgres(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	tgIDs, dcIDs := subscribeChats(b, ctx, st, cfg)
	st.Close()

	tg := telegramtest.New(telegramtest.WithLimits(telegramtest.Limits{
		PerSecond: cfg.tgLimit, PerChatPerSecond: 1, PerGroupPerMinute: 20,
	}))
	b.Cleanup(tg.Close) // after the replicas stop: cleanups run last in, first out
	var dc *discordtest.Server
	if cfg.dcChats > 0 {
		dc = discordtest.New(discordtest.WithGlobalRateLimit(cfg.dcLimit))
		b.Cleanup(dc.Close)
	}
	x, ctrl := fakex.New(), fakex.New()
	b.Cleanup(x.Close)
	b.Cleanup(ctrl.Close)
	var c cluster
	for _, region := range []string{"r1", "r2", "r3"} {
		env := replicaEnv(b, x, ctrl, tg, db, region)
		withTelegramRate(env, cfg.tgRate)
		env["DELIVERY_WORKERS"] = strconv.Itoa(cfg.workers)
		env["PROBE_DOWN_AFTER"] = "1"
		if dc != nil {
			withDiscord(env, dc)
			env["DISCORD_RATE_LIMIT"] = strconv.FormatFloat(cfg.dcRate, 'f', -1, 64)
		}
		if v := os.Getenv("BENCH_GOMEMLIMIT"); v != "" { // the replicas' soft memory limit (default: the bot's 8MiB)
			env["GOMEMLIMIT"] = v
		}
		c.add(b, bin, env)
	}
	lead := c.leader(b)
	established(b, c.ins[lead])
	if dc != nil {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := dc.WaitConnected(wctx)
		cancel()
		if err != nil {
			b.Fatalf("discord: the leader never connected: %v", err)
		}
	}
	tgBase := tg.Stats()
	var dcBase, dcReqBase int64
	if dc != nil {
		dcBase, dcReqBase = dc.RateLimitedCount(), dc.Requests()
	}

	b.StartTimer()
	x.Set(fakex.Down503)
	// No deadline: only a stall (no progress for a minute) fails.
	wantTG, wantDC := int64(len(tgIDs)), int64(len(dcIDs))
	progress, lastChange := int64(-1), time.Now()
	for {
		tgN, dcN := tg.Stats().Sent-tgBase.Sent, int64(0)
		if dc != nil {
			for _, n := range dc.MessageCounts() {
				dcN += int64(n)
			}
		}
		if tgN >= wantTG && dcN >= wantDC {
			out := healthOf(b, c.ins[lead]).Outbox
			if out[telegram.Platform].Pending == 0 && out[discord.Platform].Pending == 0 {
				break
			}
		}
		if tgN+dcN != progress {
			progress, lastChange = tgN+dcN, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			b.Fatalf("fan-out stalled: telegram %d/%d, discord %d/%d; leader %s:\n%s",
				tgN, wantTG, dcN, wantDC, c.regions[lead], c.ins[lead].stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()

	at := changeAt(b, db)
	res := replicasResult{leader: c.regions[lead]}
	perTG := map[string]int{}
	var first, last time.Time
	for _, m := range tg.Sent() {
		perTG[strconv.FormatInt(m.ChatID, 10)]++
		first, last = earliest(first, m.At), latest(last, m.At)
		res.tg.sent++
	}
	res.tg.first, res.tg.last = sinceOrZero(at, first), sinceOrZero(at, last)
	var perDC map[string]int
	if dc != nil {
		perDC = dc.MessageCounts()
		first, last = time.Time{}, time.Time{}
		for id := range perDC {
			for _, m := range dc.Messages(id) {
				first, last = earliest(first, m.At), latest(last, m.At)
				res.dc.sent++
			}
		}
		res.dc.first, res.dc.last = sinceOrZero(at, first), sinceOrZero(at, last)
		res.dc429, res.dcReqs = dc.RateLimitedCount()-dcBase, dc.Requests()-dcReqBase
	}
	res.total = max(res.tg.last, res.dc.last)
	lost, dup, stray := countDelivery(tgIDs, perTG)
	l, d, s := countDelivery(dcIDs, perDC)
	res.lost, res.dup, stray = lost+l, dup+d, stray+s
	st2 := tg.Stats()
	res.tg429, res.tgCalls = st2.RateLimited-tgBase.RateLimited, st2.SendCalls-tgBase.SendCalls
	if res.lost != 0 || res.dup != 0 || stray != 0 {
		b.Fatalf("fan-out not exactly once: lost %d, duplicated %d, to unsubscribed chats %d", res.lost, res.dup, stray)
	}
	if n := st2.Conflicts; n != 0 {
		b.Fatalf("telegram saw %d getUpdates conflicts: more than one replica polled", n)
	}
	if dc != nil {
		if n := dc.MaxSessions(); n != 1 {
			b.Fatalf("discord saw %d gateway sessions at once, want 1: only the leader holds the gateway", n)
		}
	}
	return res
}

// changeAt is when the down transition the leader saved happened: the
// start of the round that decided it.
func changeAt(b *testing.B, db string) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := pgtest.Open(b, db)
	var at int64
	if err := conn.QueryRowContext(ctx, `SELECT at FROM changes WHERE to_state = 'down' ORDER BY id DESC LIMIT 1`).Scan(&at); err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, at)
}

func (r replicasResult) reportReplicas(b *testing.B, cfg fanOutSettings) {
	tgRate, dcRate := r.tg.rate(), r.dc.rate()
	b.ReportMetric(r.total.Seconds(), "deliver-s")
	b.ReportMetric(tgRate, "tg-msgs/s")
	b.ReportMetric(tgRate/cfg.tgRate, "tg-ratio")
	if cfg.dcChats > 0 {
		b.ReportMetric(dcRate, "dc-msgs/s")
		b.ReportMetric(dcRate/cfg.dcRate, "dc-ratio")
		b.ReportMetric(float64(r.dc429), "dc-429s")
	}
	b.ReportMetric(float64(r.lost), "lost")
	b.ReportMetric(float64(r.dup), "dup")
	b.ReportMetric(float64(r.tg429), "tg-429s")
	b.Logf("three replicas on PostgreSQL, leader %s: %d Telegram chats + %d Discord channels delivered %.2fs after the transition; "+
		"telegram %.1f msgs/s of %g configured (%.3f, fake limit %d/s, %d 429s, %d calls, span %.2f–%.2fs); "+
		"discord %.1f msgs/s of %g configured (%.3f, fake limit %d/s, %d 429s, %d requests, span %.2f–%.2fs); "+
		"lost %d, duplicated %d; workers %d",
		r.leader, r.tg.sent, r.dc.sent, r.total.Seconds(),
		tgRate, cfg.tgRate, tgRate/cfg.tgRate, cfg.tgLimit, r.tg429, r.tgCalls, r.tg.first.Seconds(), r.tg.last.Seconds(),
		dcRate, cfg.dcRate, dcRate/cfg.dcRate, cfg.dcLimit, r.dc429, r.dcReqs, r.dc.first.Seconds(), r.dc.last.Seconds(),
		r.lost, r.dup, cfg.workers)
}
