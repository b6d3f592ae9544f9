//go:build !nopostgres

package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/telegram"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestReplicas attacks the replicas' promise against the real program: three
// replicas, separate processes of one build, on one PostgreSQL database,
// each with its own HTTP port and PROBE_REGION, against the fakes. One of
// them leads (polls Telegram, decides, delivers); when it dies another
// takes over and every chat still hears of the outage once. Subtests run one
// after the other, each on a database of its own.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if os.Getenv(pgtest.Env) == "" {
		pgtest.URL(t) // skips, saying how to enable the test
	}
	bin := buildBinary(t)
	t.Run("sigkill of the leader mid fan-out", func(t *testing.T) { testReplicaKilled(t, bin) })
	t.Run("sigterm of the leader hands over at once", func(t *testing.T) { testReplicaStopped(t, bin) })
	t.Run("sigstop of the leader mid fan-out", func(t *testing.T) { testReplicaFrozen(t, bin) })
	t.Run("split vantage", func(t *testing.T) { testSplitVantage(t, bin) })
}

// cluster is a set of replicas of the binary on one database.
type cluster struct {
	ins     []*instance
	regions []string
	gone    []bool // killed or stopped: no longer asked anything
}

// replicaEnv is one replica's environment: the fakes, the shared database,
// a port and a region of its own.
func replicaEnv(t testing.TB, x, ctrl *fakex.Server, tg *telegramtest.Server, db, region string) map[string]string {
	env := botEnv(t, x, ctrl)
	env["DATABASE_URL"] = db
	env["HTTP_ADDR"] = freeAddr(t)
	env["PROBE_REGION"] = region
	env["LOG_LEVEL"] = "info" // a thousand sends at debug level is load the test does not need
	withTelegram(env, tg.Endpoint())
	return env
}

// fanOutWorkers is DELIVERY_WORKERS of every replica in a fan-out: the most
// sends in flight when a leader dies, so the most duplicates a kill may cause.
const fanOutWorkers = 4

// fanOut is what the failover tests share: a fake X and a fake Telegram, a
// database of its own with the seeded chats subscribed, and three replicas
// (r1, r2, r3) sending at 50 msgs/s, one of which leads.
type fanOut struct {
	x     *fakex.Server
	tg    *telegramtest.Server
	db    string
	c     cluster
	first int // the leader at the start
}

// startFanOut starts the fakes and the replicas, with add applied to each
// replica's environment when non-nil, and returns once a leader has
// established itself.
func startFanOut(t *testing.T, bin string, seed []int64, add func(env map[string]string)) *fanOut {
	t.Helper()
	fk := startFakes(t, false)
	f := &fanOut{x: fk.x, tg: fk.tg, db: pgtest.URL(t)}
	seedTelegram(t, f.db, seed)
	for _, region := range []string{"r1", "r2", "r3"} {
		env := replicaEnv(t, fk.x, fk.ctrl, f.tg, f.db, region)
		withTelegramRate(env, 50)
		env["DELIVERY_WORKERS"] = strconv.Itoa(fanOutWorkers)
		if add != nil {
			add(env)
		}
		f.c.add(t, bin, env)
	}
	f.first = f.c.leader(t)
	established(t, f.c.ins[f.first])
	return f
}

// add starts one more replica in a directory of its own (no stray .env).
func (c *cluster) add(t testing.TB, bin string, env map[string]string) {
	t.Helper()
	c.ins = append(c.ins, startBinary(t, bin, t.TempDir(), env))
	c.regions = append(c.regions, env["PROBE_REGION"])
	c.gone = append(c.gone, false)
}

// leader waits until exactly one live replica says it leads on /healthz and
// every other live one says it follows, and returns the leader's index.
func (c *cluster) leader(t testing.TB) int {
	t.Helper()
	lead := -1
	waitWithin(t, 45*time.Second, "exactly one leader", func() bool {
		lead = -1
		for i, in := range c.ins {
			if c.gone[i] {
				continue
			}
			h, err := readHealth(in)
			if err != nil {
				return false // not listening yet
			}
			switch h.Role {
			case "leader":
				if lead >= 0 {
					t.Fatalf("two leaders: %s and %s", c.regions[lead], c.regions[i])
				}
				lead = i
			case "follower":
			default:
				return false
			}
		}
		return lead >= 0
	})
	return lead
}

// seedTelegram subscribes private Telegram chats through the store, as
// /subscribe would: a thousand commands at the rate limit would take the
// test's whole time budget before the fault it is about.
func seedTelegram(t testing.TB, db string, ids []int64) {
	t.Helper()
	ctx := context.Background()
	store, err := store.OpenPostgres(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	at := time.Now().Add(-time.Hour)
	for _, id := range ids {
		sub := bot.Subscription{Chat: bot.ChatRef{Platform: telegram.Platform, ID: strconv.FormatInt(id, 10)},
			Kind: telegram.KindPrivate, Lang: "en", CreatedAt: at}
		if _, err := store.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
}

// chatRange is the chat ids countAll and chatsWith read: 5000, 5001, …
func chatRange(from, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(5000 + from + i)
	}
	return ids
}

// leaseLeft is how long the leader lease has left, on the database's clock.
func leaseLeft(t testing.TB, db string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := pgtest.Open(t, db)
	var secs float64
	if err := conn.QueryRowContext(ctx, `SELECT extract(epoch FROM expires_at - now())::float8 FROM leases WHERE name = 'leader'`).Scan(&secs); err != nil {
		t.Fatal(err)
	}
	return time.Duration(secs * float64(time.Second))
}

// settled waits until the leader's outbox has nothing pending: every row
// sent and recorded, so that counts taken now are final.
func settled(t testing.TB, in *instance) {
	t.Helper()
	waitWithin(t, 90*time.Second, "the outbox to drain", func() bool {
		return healthOf(t, in).Outbox[telegram.Platform].Pending == 0
	})
}

// firstAfter is when the first message starting with prefix was accepted
// after at; zero if none was.
func firstAfter(tg *telegramtest.Server, prefix string, at time.Time) time.Time {
	var first time.Time
	for _, m := range tg.Sent() {
		if strings.HasPrefix(m.Plain, prefix) && m.At.After(at) {
			first = earliest(first, m.At)
		}
	}
	return first
}

// testReplicaKilled kills the leader with SIGKILL a third into a fan-out to
// 1,000 chats at 50 msgs/s (≈20 s): another replica takes over when the
// lease expires, every chat gets its down alert (a send in flight at the
// death may come twice: at most DELIVERY_WORKERS) and then exactly one
// recovery. Failover is measured twice: kill → another replica says leader
// on /healthz, and kill → the next alert accepted by Telegram.
func testReplicaKilled(t *testing.T, bin string) {
	const chats, workers = 1000, fanOutWorkers
	f := startFanOut(t, bin, chatRange(0, chats-1), nil) // the last one subscribes by command
	x, tg, c, first := f.x, f.tg, &f.c, f.first

	// Commands reach the leader only, and are answered once.
	subscriber, asker := int64(5000+chats-1), int64(5000)
	tg.Private(telegramtest.User{ID: subscriber}, "/subscribe")
	waitFor(t, "the /subscribe answer", func() bool { return countPrefix(tg.SentTo(subscriber), "✅") == 1 })
	tg.Private(telegramtest.User{ID: asker}, "/status")
	waitFor(t, "the /status answer", func() bool { return len(tg.SentTo(asker)) == 1 })

	x.Set(fakex.Down503)
	waitWithin(t, 60*time.Second, "a third of the alerts", func() bool { return countAll(tg, chats, "🔴") >= chats/3 })
	c.ins[first].kill()
	killed := time.Now()
	c.gone[first] = true
	before := countAll(tg, chats, "🔴")
	if before >= chats {
		t.Fatalf("the fan-out finished before the kill (%d alerts); nothing was tested", before)
	}

	next := c.leader(t)
	toLeader := time.Since(killed)
	waitWithin(t, 90*time.Second, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	settled(t, c.ins[next])
	toAlert := firstAfter(tg, "🔴", killed).Sub(killed)
	total := countAll(tg, chats, "🔴")
	if dups := total - chats; dups > workers {
		t.Errorf("%d duplicate down alerts after the kill, want at most %d (the sends in flight)", dups, workers)
	}
	if v, _ := metric(t, c.ins[next], `xstatusbot_leadership_changes_total{change="gained"}`); v != 1 {
		t.Errorf("the new leader %s counts %v leaderships gained, want 1", c.regions[next], v)
	}

	x.Set(fakex.Up)
	waitWithin(t, 90*time.Second, "every recovery", func() bool { return chatsWith(tg, chats, "🟢") == chats })
	settled(t, c.ins[next])
	if got := countAll(tg, chats, "🟢"); got != chats {
		t.Errorf("%d recoveries for %d chats, want one each", got, chats)
	}

	if n := tg.Stats().Conflicts; n != 0 {
		t.Errorf("telegram saw %d getUpdates conflicts: more than one replica polled", n)
	}
	if n := countPrefix(tg.SentTo(subscriber), "✅"); n != 1 {
		t.Errorf("/subscribe answered %d times, want once", n)
	}
	answers := slices.DeleteFunc(tg.SentTo(asker), func(m telegramtest.SentMessage) bool {
		return strings.HasPrefix(m.Plain, "🔴") || strings.HasPrefix(m.Plain, "🟢")
	})
	if len(answers) != 1 {
		t.Errorf("/status answered %d times, want once", len(answers))
	}
	t.Logf("leader %s killed after %d of %d alerts; %s took over: /healthz leader %.1fs after the kill, next alert delivered %.1fs after; %d duplicate alerts",
		c.regions[first], before, chats, c.regions[next], toLeader.Seconds(), toAlert.Seconds(), total-chats)
	for i, in := range c.ins {
		if !c.gone[i] {
			noSecrets(t, in)
		}
	}
}

// testReplicaStopped stops the leader with SIGTERM during a fan-out: it
// finishes its sends in flight and releases the lease, so another replica
// leads before the old lease would have expired, and no chat hears twice.
func testReplicaStopped(t *testing.T, bin string) {
	dc := discordtest.New() // only the leader may hold the gateway
	t.Cleanup(dc.Close)
	const chats = 300
	f := startFanOut(t, bin, chatRange(0, chats), func(env map[string]string) { withDiscord(env, dc) })
	x, tg, db, c, first := f.x, f.tg, f.db, &f.c, f.first
	x.Set(fakex.Down503)
	waitWithin(t, 60*time.Second, "a third of the alerts", func() bool { return countAll(tg, chats, "🔴") >= chats/3 })

	// Without a release the others would wait for this to run out.
	left := leaseLeft(t, db)
	c.ins[first].cancel()
	stopped := time.Now()
	c.gone[first] = true
	next := c.leader(t)
	takeover := time.Since(stopped)
	c.ins[first].stop(t) // exit code 0, or the test fails
	if takeover >= left {
		t.Errorf("%s led %.1fs after the SIGTERM, when the old lease had %.1fs left: the lease was not released", c.regions[next], takeover.Seconds(), left.Seconds())
	}
	waitWithin(t, 90*time.Second, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	settled(t, c.ins[next])
	if got := countAll(tg, chats, "🔴"); got != chats {
		t.Errorf("%d down alerts for %d chats after a clean handover, want one each", got, chats)
	}
	if n := tg.Stats().Conflicts; n != 0 {
		t.Errorf("telegram saw %d getUpdates conflicts", n)
	}
	// The new leader holds the gateway and answers an interaction, once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dc.WaitConnected(ctx); err != nil {
		t.Fatalf("discord: the new leader never connected: %v", err)
	}
	id, err := dc.Interact(discordtest.InteractionSpec{Name: "status", GuildID: "310000000000000100", ChannelID: "310000000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if ia, err := dc.WaitAnswered(ctx, id); err != nil || len(ia.Callbacks) != 1 {
		t.Fatalf("/status on discord after the hand-over: %+v, %v; want one answer", ia, err)
	}
	if n := dc.MaxSessions(); n != 1 {
		t.Errorf("discord saw %d gateway sessions at once, want 1: only the leader holds the gateway", n)
	}
	t.Logf("SIGTERM of leader %s: %s led %.1fs later (the lease had %.1fs left)", c.regions[first], c.regions[next], takeover.Seconds(), left.Seconds())
}

// testSplitVantage has r1 and r2 probe a fake X that is down and r3, the
// leader, one that is up: the vote says down (at least half the regions
// see it down) and the alert says where X fails.
func testSplitVantage(t *testing.T, bin string) {
	xDown, xUp, ctrl := fakex.New(), fakex.New(), fakex.New()
	defer xDown.Close()
	defer xUp.Close()
	defer ctrl.Close()
	tg := telegramtest.New()
	t.Cleanup(tg.Close)
	db := pgtest.URL(t)
	const chats = 3
	seedTelegram(t, db, chatRange(0, chats))
	var c cluster
	// r3 starts first, so that the leader itself sees X up.
	c.add(t, bin, replicaEnv(t, xUp, ctrl, tg, db, "r3"))
	if lead := c.leader(t); c.regions[lead] != "r3" {
		t.Fatalf("%s leads, want r3, the only replica", c.regions[lead])
	}
	c.add(t, bin, replicaEnv(t, xDown, ctrl, tg, db, "r1"))
	c.add(t, bin, replicaEnv(t, xDown, ctrl, tg, db, "r2"))
	lead := c.leader(t)
	established(t, c.ins[lead])
	waitFor(t, "the leader to hear every region", func() bool {
		for _, r := range c.regions {
			if v, _ := metric(t, c.ins[lead], `xstatusbot_region_verdict{region="`+r+`",verdict="up"}`); v != 1 {
				return false
			}
		}
		return true
	})

	xDown.Set(fakex.Down503)
	waitWithin(t, 60*time.Second, "the down alerts", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	settled(t, c.ins[lead])
	const where = "Down from r1, r2; up from r3."
	for _, id := range chatRange(0, chats) {
		var texts []string
		for _, m := range tg.SentTo(id) {
			texts = append(texts, m.Plain)
		}
		if len(texts) != 1 || !strings.Contains(texts[0], where) {
			t.Errorf("chat %d got %q, want one alert saying %q", id, texts, where)
		}
	}
	if h := healthOf(t, c.ins[lead]); h.State != "down" {
		t.Errorf("the leader says X is %q, want down", h.State)
	}
	if n := tg.Stats().Conflicts; n != 0 {
		t.Errorf("telegram saw %d getUpdates conflicts", n)
	}
}

// testReplicaFrozen freezes the leader with SIGSTOP in the middle of a
// fan-out, as a stalled VM or a long pause would, and wakes it with SIGCONT
// once another replica has taken over and sent alerts of its own. The lease
// passes as quickly as after a SIGKILL (the frozen process's transactions
// hold no lock on the lease row, and the server ends them); the woken
// replica sends nothing (its fence closed TTL−TTL/3 after its last renewal
// began) and records the sends it had in flight (its claims stood): every
// chat gets exactly one down alert.
func testReplicaFrozen(t *testing.T, bin string) {
	const chats, workers = 600, fanOutWorkers
	f := startFanOut(t, bin, chatRange(0, chats), nil)
	x, tg, c, first := f.x, f.tg, &f.c, f.first
	for _, in := range c.ins {
		t.Cleanup(func() { _ = syscall.Kill(in.pid, syscall.SIGCONT) }) // before the stop and kill of startBinary's cleanup
	}
	frozen := c.ins[first]

	x.Set(fakex.Down503)
	waitWithin(t, 60*time.Second, "a third of the alerts", func() bool { return countAll(tg, chats, "🔴") >= chats/3 })
	if err := syscall.Kill(frozen.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	c.gone[first] = true
	before := countAll(tg, chats, "🔴")

	next := c.leader(t)
	toLeader := time.Since(stopped)
	const ttl = 9 * time.Second // LEADER_LEASE_TTL's default
	if bound := ttl + ttl/3 + 3*time.Second; toLeader > bound {
		t.Errorf("%s led %.1fs after the leader froze, want within %v (lease, one campaign period, slack): as fast as after a SIGKILL",
			c.regions[next], toLeader.Seconds(), bound)
	}
	// Wake the frozen one once the new leader has sent alerts of its own.
	newSends := before + 50
	waitWithin(t, 60*time.Second, "the new leader's first alerts", func() bool { return countAll(tg, chats, "🔴") >= min(newSends, chats) })
	if err := syscall.Kill(frozen.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	woken := time.Now()
	c.gone[first] = false
	waitWithin(t, 30*time.Second, "the woken replica to follow", func() bool {
		h, err := readHealth(frozen)
		return err == nil && h.Role == "follower"
	})
	waitWithin(t, 120*time.Second, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	settled(t, c.ins[next])
	dups := 0
	for _, id := range chatRange(0, chats) {
		if n := countPrefix(tg.SentTo(id), "🔴"); n != 1 {
			dups++
			if dups <= 5 {
				t.Errorf("chat %d got %d down alerts, want exactly one", id, n)
			}
		}
	}
	if n := tg.Stats().Conflicts; n != 0 {
		t.Logf("telegram saw %d getUpdates conflicts (the frozen leader's poll, answered after it woke)", n)
	}
	if lead := c.leader(t); lead != next {
		t.Errorf("%s leads after the frozen replica woke, want %s still", c.regions[lead], c.regions[next])
	}
	t.Logf("leader %s frozen after %d of %d alerts; %s led %.1fs later; woken %.1fs after the freeze; %d chats without exactly one alert",
		c.regions[first], before, chats, c.regions[next], toLeader.Seconds(), woken.Sub(stopped).Seconds(), dups)
}
