//go:build !nopostgres

package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/leader"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// ttl is the shortest LEADER_LEASE_TTL: the tests run on the real clock.
const ttl = 3 * time.Second

// leaseValid says, on the database's clock and through session, the test's
// own, whether the lease still runs (a takeover is not yet possible).
func leaseValid(ctx context.Context, session *sql.DB) (bool, error) {
	var ok bool
	err := session.QueryRowContext(ctx, `SELECT expires_at > clock_timestamp() FROM leases WHERE name = 'leader'`).Scan(&ok)
	return ok, err
}

// watchedNotifier sends nothing anywhere: it records each send and checks,
// on the database's clock, that the lease still ran when the send started.
type watchedNotifier struct {
	session *sql.DB
	delay   time.Duration
	sent    atomic.Int64
	mu      sync.Mutex
	late    []string // sends started once the lease had expired
	errs    []error
	started chan struct{} // closed at the first send
	once    sync.Once
}

func (n *watchedNotifier) Send(ctx context.Context, chat string, _ bot.Message) (string, error) {
	n.once.Do(func() { close(n.started) })
	ok, err := leaseValid(context.WithoutCancel(ctx), n.session)
	n.mu.Lock()
	if err != nil {
		n.errs = append(n.errs, err)
	} else if !ok {
		n.late = append(n.late, chat)
	}
	n.mu.Unlock()
	select {
	case <-time.After(n.delay):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return fmt.Sprint("m-", n.sent.Add(1)), nil
}

// A leader whose renewal hangs (another session holds the lease row, as a
// stalled database would) stops its work before its lease expires on the
// database's clock, and no send starts after that: the dispatcher asks the
// leader's fence before each one. The rows it did not send stay pending.
func TestLeaderWhoseRenewalHangsStepsDownBeforeItsLeaseExpires(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s := openPG(t, url, "a", store.WithLeaseTTL(ttl))
	const chats = 400
	var ids []string
	for i := range chats {
		ids = append(ids, fmt.Sprint(1000+i))
	}
	pgSubscribe(t, s, ids...)

	session := pgtest.Open(t, url)
	n := &watchedNotifier{session: session, delay: 20 * time.Millisecond, started: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	leader := &leader.Leader{Lease: s, Clock: clock.System{}, TTL: ttl, Log: log}
	s.OnDeposed(leader.Depose)
	var (
		stoppedValid  atomic.Bool
		stoppedErr    atomic.Value
		workStopped   = make(chan struct{})
		terms         atomic.Int32
		saved         = make(chan error, 1)
		first         sync.Once
		runCtx, abort = context.WithCancel(ctx)
	)
	defer abort()
	work := func(ctx context.Context) error {
		if terms.Add(1) > 1 {
			<-ctx.Done() // a second term is not part of this test
			return ctx.Err()
		}
		first.Do(func() { saved <- s.SaveRound(ctx, storetest.DownSnapshot(t0)) })
		disp := delivery.NewDispatcher(s, []delivery.Channel{{Platform: tgPlatform, Notifier: n,
			Policy: func() delivery.Policy { p := delivery.DefaultPolicy(1000); p.Workers, p.MaxAge = 2, 0; return p }()}}, clock.System{}, log, nil)
		disp.Fence = leader.Fence
		disp.Run(ctx)
		ok, err := leaseValid(context.WithoutCancel(ctx), session)
		stoppedValid.Store(ok)
		if err != nil {
			stoppedErr.Store(err)
		}
		close(workStopped)
		return ctx.Err()
	}
	runDone := make(chan error, 1)
	go func() { runDone <- leader.Run(runCtx, work) }()
	if err := <-saved; err != nil {
		t.Fatalf("the leader's round: %v", err)
	}
	select {
	case <-n.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no send started")
	}

	// Another session locks the lease row: every renewal now hangs.
	lock := pgtest.Open(t, url)
	tx, err := lock.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM leases WHERE name = 'leader' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	select {
	case <-workStopped:
	case <-time.After(3 * ttl):
		t.Fatalf("the leader still works %v after its renewals began to hang", 3*ttl)
	}
	took := time.Since(locked)
	if err, _ := stoppedErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	if !stoppedValid.Load() {
		t.Errorf("the leader stopped %v after the hang, once its lease had expired: another replica could lead already", took)
	}
	if err := leader.Fence(time.Now()); !errors.Is(err, bot.ErrDeposed) {
		t.Errorf("the fence after stepping down: %v, want ErrDeposed", err)
	}
	sentAtStop := n.sent.Load()
	// The lease expires; nothing is sent after it.
	waitUntil(t, 2*ttl, "the lease to expire", func() bool { ok, err := leaseValid(ctx, session); return err == nil && !ok })
	time.Sleep(ttl / 3) // nothing to await: checking that nothing happens
	if got := n.sent.Load(); got != sentAtStop {
		t.Errorf("%d sends after the leader stepped down", got-sentAtStop)
	}
	n.mu.Lock()
	late, errs := n.late, n.errs
	n.mu.Unlock()
	if len(late) > 0 || len(errs) > 0 {
		t.Errorf("sends started after the lease expired: %v (errors %v)", late, errs)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	abort()
	<-runDone
	out, err := s.Outcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, o := range out {
		if o.Status == bot.StatusPending {
			pending++
		}
	}
	if pending == 0 || int64(chats-pending) < sentAtStop {
		t.Errorf("%d rows pending, %d sent before the step-down: rows lost or unsent rows finished", pending, sentAtStop)
	}
	t.Logf("renewal hung: work stopped %.2fs later (lease %v, local term TTL−TTL/3 from the last renewal's start); %d of %d sent before",
		took.Seconds(), ttl, sentAtStop, chats)
}

// The renewal goes through at once while every connection of the work
// pool is busy (statements queued behind a lock, as in a long fan-out) and
// more calls wait for a connection: the lease has its own.
func TestRenewalWhileEveryPoolConnectionIsBusy(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s := openPG(t, url, "a", store.WithLeaseTTL(ttl))
	pgSubscribe(t, s, "1", "2")
	if _, held, err := s.Acquire(ctx, ttl); err != nil || !held {
		t.Fatalf("acquire: %v %v", held, err)
	}
	pgSave(t, s, storetest.DownSnapshot(t0))

	lock := pgtest.Open(t, url)
	tx, err := lock.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var busy sync.WaitGroup
	for range 8 { // twice the pool: four wait on the lock, four for a connection
		busy.Go(func() { s.Backlog(ctx) })
	}
	waitUntil(t, 10*time.Second, "the pool's connections to queue on the lock", func() bool {
		return pgCount(t, url, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`) >= 4
	})
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	begin := time.Now()
	if _, held, err := s.Acquire(rctx, ttl); err != nil || !held {
		t.Fatalf("renewal while the pool is busy: held %v, %v", held, err)
	}
	t.Logf("renewal took %v with every pool connection busy", time.Since(begin).Round(time.Microsecond))
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	busy.Wait()
}

// A write refused by the fence tells OnDeposed at once.
func TestRefusedFenceTellsOnDeposed(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s := openPG(t, url, "a")
	var told atomic.Int32
	s.OnDeposed(func(err error) {
		if errors.Is(err, bot.ErrDeposed) {
			told.Add(1)
		}
	})
	pgSubscribe(t, s, "1")
	lead(t, s)
	pgSave(t, s, storetest.DownSnapshot(t0))
	expireLease(t, url)
	if _, err := s.Due(ctx, tgPlatform, t0, 10, nil); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("Due after the lease expired: %v", err)
	}
	if told.Load() != 1 {
		t.Fatalf("OnDeposed told %d times, want once", told.Load())
	}
	if _, ok := s.Term(); ok {
		t.Fatal("the store still holds a term after a refused fence")
	}
}

// A leader write must commit with the lease running for TTL/3 more: a
// lease about to expire refuses it, though it has not expired yet.
func TestFenceKeepsAMargin(t *testing.T) {
	url := pgtest.URL(t)
	s := openPG(t, url, "a", store.WithLeaseTTL(ttl))
	pgSubscribe(t, s, "1")
	lead(t, s)
	pgtest.Exec(t, url, `UPDATE leases SET expires_at = now() + interval '500 milliseconds' WHERE name = 'leader'`)
	if err := s.SaveRound(context.Background(), storetest.DownSnapshot(t0)); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("SaveRound with 0.5 s of lease left (margin %v): %v, want ErrDeposed", ttl/3, err)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM rounds`); n != 0 {
		t.Fatalf("%d rounds stored by a refused write", n)
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition
	}
}
