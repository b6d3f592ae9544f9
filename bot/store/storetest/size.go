package storetest

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// SizeBackend opens the store BenchSize fills and says how big its
// database is.
type SizeBackend struct {
	// Open gives a store on a fresh, empty database with opts, closed by
	// the benchmark.
	Open func(b *testing.B, opts Options) Store
	// Size is the database's size on disk now, in bytes, with what it is
	// made of for the log (files, or the database's own figure).
	Size func(b *testing.B) (int64, string)
	// Day, if set, does what a day of real time does beside the bot and
	// the benchmark's compressed time does not: PostgreSQL's autovacuum,
	// which cannot free a day's pruned rows in the seconds a day is played.
	Day func(b *testing.B)
}

// roundEvery is PROBE_SCHEDULE's default: a round every 30 s.
const roundEvery = 30 * time.Second

// BenchSize measures how big the database grows after BENCH_SIZE_OUTAGES
// outages (default 1,000), one every BENCH_SIZE_EVERY (default 24h), each
// 10 minutes long, under the default retention (rounds 7 days, finished
// alerts and their changes 30 days), with BENCH_SUBSCRIBERS chats (default
// 100,000, BenchScale's mixed settings: 90,000 hear each down and its
// recovery). Every round is a round of the default schedule (one each 30 s,
// results of 4 targets and 3 controls), saved through SaveRound, which
// prunes as it does in the bot (a batch of 1,000 rows per round while
// pruning is behind, then every 5 minutes); each alert is delivered
// (Due and Finish, pages of 1,000 chats) within 90 s, as at 1,000 msgs/s.
//
// Only what retention keeps is played in full: the last outages whose
// alerts are still kept at the end (30 days' worth, plus four, through
// which the database is pruned at its fullest as it is every day in the
// steady state and stops growing; BENCH_SIZE_FULL sets how many). The earlier outages leave nothing but what is kept for
// good (their incidents, hourly uptime) and what the last 100 days keep
// (time in state): they are played before the chats subscribe, as their
// down, recovery and one round an hour. Reported: size-MB at the end,
// max-size-MB (the largest seen after an outage) and last-growth-MB (what
// the last outage added: about nothing once pruning frees as much as a
// day's outage takes), and at the steady state
// (the outages played in full, 30 days of alerts kept) the saves of a down
// change and of its recovery (down-save-p50-ms, down-save-max-ms,
// up-save-p50-ms, up-save-max-ms), the rounds of an outage
// (outage-round-p95-ms) and the rounds between them, pruning included
// (round-p95-ms, round-max-ms).
func BenchSize(b *testing.B, backend SizeBackend) {
	outages := benchEnvInt(b, "BENCH_SIZE_OUTAGES", 1000)
	subscribers := benchEnvInt(b, "BENCH_SUBSCRIBERS", ScaleSubscribers)
	every := 24 * time.Hour
	if v := os.Getenv("BENCH_SIZE_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			b.Fatalf("BENCH_SIZE_EVERY=%q: want a duration of at least 1h", v)
		}
		every = d
	}
	opts := Defaults()
	// Rounds come an hour apart before the chats subscribe: one span each
	// way, as the 30-second rounds they stand for would make.
	opts.SpanGap = 2 * time.Hour
	full := min(outages, benchEnvInt(b, "BENCH_SIZE_FULL", int((opts.OutboxRetention+every-1)/every)+4))
	const outageFor = 10 * time.Minute
	for range b.N {
		b.StopTimer()
		s := backend.Open(b, opts)
		stopLeading := Lead(b, s)
		start := t0
		outageAt := func(k int) time.Time { return start.Add(time.Duration(k) * every) }

		// The outages whose alerts are pruned by the end: what they leave.
		began := time.Now()
		for k := range outages - full {
			at := outageAt(k)
			SaveDown(b, s, at)
			SaveRecovery(b, s, at.Add(outageFor))
			for h := at.Add(time.Hour).Truncate(time.Hour); h.Before(outageAt(k + 1)); h = h.Add(time.Hour) {
				saveRound(b, s, upRoundAt(h))
			}
		}
		b.Logf("%d outages before the last %d played (incidents, hourly rounds) in %s", outages-full, full, time.Since(began).Round(time.Second))

		began = time.Now()
		first := outageAt(outages - full)
		Seed(b, s, subscribers, 4, first.Add(-time.Hour))
		b.Logf("%d subscriptions seeded in %s", subscribers, time.Since(began).Round(time.Second))

		var (
			downs, ups, outageRounds, rounds []time.Duration
			size, maxSize, growth            int64
			made                             string
		)
		timed := func(into *[]time.Duration, f func()) {
			t := time.Now()
			f()
			*into = append(*into, time.Since(t))
		}
		began = time.Now()
		for k := outages - full; k < outages; k++ {
			at := outageAt(k)
			timed(&downs, func() { SaveDown(b, s, at) })
			deliverAll(b, s, at.Add(90*time.Second))
			for r := at.Add(roundEvery); r.Before(at.Add(outageFor)); r = r.Add(roundEvery) {
				timed(&outageRounds, func() { saveRound(b, s, downRoundAt(r, at)) })
			}
			timed(&ups, func() { SaveRecovery(b, s, at.Add(outageFor)) })
			deliverAll(b, s, at.Add(outageFor+90*time.Second))
			next := outageAt(k + 1)
			if k == outages-1 {
				next = at.Add(every) // the day after the last outage, to its end
			}
			for r := at.Add(outageFor + roundEvery); r.Before(next); r = r.Add(roundEvery) {
				timed(&rounds, func() { saveRound(b, s, upRoundAt(r)) })
			}
			if backend.Day != nil {
				backend.Day(b)
			}
			last := size
			size, made = backend.Size(b)
			maxSize, growth = max(maxSize, size), size-last
			if k%5 == 0 || k == outages-1 {
				b.Logf("after outage %d of %d: %.1f MB (%s), %s so far", k+1, outages, float64(size)/1e6, made, time.Since(began).Round(time.Second))
			}
		}
		pct := func(d []time.Duration, p float64) float64 {
			d = slices.Clone(d)
			slices.Sort(d)
			return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
		}
		b.ReportMetric(float64(size)/1e6, "size-MB")
		b.ReportMetric(float64(maxSize)/1e6, "max-size-MB")
		b.ReportMetric(float64(growth)/1e6, "last-growth-MB")
		b.ReportMetric(pct(downs, 0.5), "down-save-p50-ms")
		b.ReportMetric(pct(downs, 1), "down-save-max-ms")
		b.ReportMetric(pct(ups, 0.5), "up-save-p50-ms")
		b.ReportMetric(pct(ups, 1), "up-save-max-ms")
		b.ReportMetric(pct(outageRounds, 0.95), "outage-round-p95-ms")
		b.ReportMetric(pct(rounds, 0.95), "round-p95-ms")
		b.ReportMetric(pct(rounds, 1), "round-max-ms")
		b.Logf("%d outages, one every %s, %d subscribers: %.1f MB at the end (%s), at most %.1f MB", outages, every, subscribers,
			float64(size)/1e6, made, float64(maxSize)/1e6)
		stopLeading()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEnvInt reads a positive count from the environment, def when unset.
func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// The default probe targets and controls, answering as usual: what every
// round stores.
var (
	sizeTargets  = []string{"web", "api", "static", "media"}
	sizeControls = []string{"google", "cloudflare", "apple"}
)

func results(names []string, fail bool) []probe.Result {
	out := make([]probe.Result, len(names))
	for i, n := range names {
		out[i] = probe.Result{Target: n, Status: 200, Latency: time.Duration(80+17*i) * time.Millisecond}
		if fail {
			out[i] = probe.Result{Target: n, Status: 503, Latency: 40 * time.Millisecond, Class: probe.ClassStatus, Detail: "HTTP 503"}
		}
	}
	return out
}

// upRoundAt is a healthy round at at, X up.
func upRoundAt(at time.Time) *bot.Snapshot {
	return &bot.Snapshot{
		Round:  probe.Round{Start: at, Duration: 180 * time.Millisecond, Verdict: probe.VerdictUp, Targets: results(sizeTargets, false), Controls: results(sizeControls, false)},
		Status: probe.Status{State: probe.StateUp, Since: at},
	}
}

// downRoundAt is a round of an outage that began at since.
func downRoundAt(at, since time.Time) *bot.Snapshot {
	return &bot.Snapshot{
		Round:  probe.Round{Start: at, Duration: 90 * time.Millisecond, Verdict: probe.VerdictDown, Targets: results(sizeTargets, true), Controls: results(sizeControls, false)},
		Status: probe.Status{State: probe.StateDown, Since: since},
	}
}

func saveRound(b *testing.B, s Store, snap *bot.Snapshot) {
	b.Helper()
	if err := s.SaveRound(b.Context(), snap); err != nil {
		b.Fatal(err)
	}
}

// deliverAll marks every pending Telegram row sent at at, a page of 1,000
// chats at a time.
func deliverAll(b *testing.B, s Store, at time.Time) {
	b.Helper()
	drain(b, s, at, 1000)
}
