//go:build !nopostgres

package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Replicas started at the same moment on a fresh database all open it; the
// schema is applied once (a second application would fail on CREATE TABLE).
func TestMigrationsConcurrentAndIdempotent(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 6
	var (
		wg   sync.WaitGroup
		errs = make([]error, replicas)
	)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			s, err := store.OpenPostgres(context.Background(), url, store.WithHolder(fmt.Sprint("r", i)))
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent opens: %v", err)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM schema_migrations`); n != migrationFiles(t) {
		t.Fatalf("%d migrations recorded, want %d", n, migrationFiles(t))
	}

	s := openPG(t, url, "a")
	pgSubscribe(t, s, "1")
	s.Close()
	s = openPG(t, url, "a")
	subs, err := s.Subscriptions(context.Background())
	if err != nil || len(subs) != 1 || subs[0].Chat != pgChat("1") {
		t.Fatalf("subscriptions after reopening: %+v, %v", subs, err)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM schema_migrations`); n != migrationFiles(t) {
		t.Fatalf("%d migrations recorded after reopening, want %d", n, migrationFiles(t))
	}
}

func TestLease(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b := openPG(t, url, "a"), openPG(t, url, "b")

	if _, ok := a.Term(); ok {
		t.Fatal("a store holds a term before acquiring")
	}
	first := lead(t, a)
	if first != (bot.Term{Holder: "a", Epoch: 1}) {
		t.Fatalf("first term %+v, want a's epoch 1", first)
	}
	if renewed := lead(t, a); renewed != first {
		t.Fatalf("renewal gave %+v, want the same term %+v", renewed, first)
	}
	other, held, err := b.Acquire(ctx, time.Minute)
	if err != nil || held || other != first {
		t.Fatalf("b's acquire while a holds: %+v held %v, %v; want refused, a's term", other, held, err)
	}
	if _, ok := b.Term(); ok {
		t.Fatal("b holds a term after a refused acquire")
	}

	expireLease(t, url)
	second := lead(t, b)
	if second != (bot.Term{Holder: "b", Epoch: 2}) {
		t.Fatalf("takeover after expiry gave %+v, want b's epoch 2", second)
	}
	if got, held, err := a.Acquire(ctx, time.Minute); err != nil || held || got != second {
		t.Fatalf("a after b's takeover: %+v held %v, %v", got, held, err)
	}
	if _, ok := a.Term(); ok {
		t.Fatal("a still holds a term after losing the lease")
	}

	// Release hands over at once; releasing a lease one does not hold does nothing.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got, held, _ := a.Acquire(ctx, time.Minute); held {
		t.Fatalf("a took the lease after releasing what it did not hold: %+v", got)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if third := lead(t, a); third != (bot.Term{Holder: "a", Epoch: 3}) {
		t.Fatalf("takeover after release gave %+v, want a's epoch 3", third)
	}

	// The holder's own lease, expired, renews under a new epoch: its old term
	// may have overlapped a write it no longer owns.
	expireLease(t, url)
	if fourth := lead(t, a); fourth.Epoch != 4 {
		t.Fatalf("renewing an expired lease gave %+v, want epoch 4", fourth)
	}
}

// A lease that is not renewed expires on the database's clock.
func TestLeaseExpiresUnrenewed(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b := openPG(t, url, "a"), openPG(t, url, "b")
	if _, held, err := a.Acquire(ctx, 300*time.Millisecond); err != nil || !held {
		t.Fatalf("a: held %v, %v", held, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		term, held, err := b.Acquire(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if held {
			if term.Epoch != 2 {
				t.Fatalf("takeover term %+v, want epoch 2", term)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a's lease never expired")
		}
		time.Sleep(20 * time.Millisecond) // polling the condition, not waiting it out
	}
}

// A deposed leader's SaveRound and Due are refused with bot.ErrDeposed and
// change nothing; subscriptions are recorded by any replica, and a send's
// outcome by the replica whose claim the row carries.
func TestFencing(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b, never := openPG(t, url, "a"), openPG(t, url, "b"), openPG(t, url, "c")
	pgSubscribe(t, a, "1", "2", "3")
	lead(t, a)
	first := pgSave(t, a, storetest.DownSnapshot(t0))
	due, err := a.Due(ctx, tgPlatform, t0, 10, nil)
	if err != nil || len(due) != 3 {
		t.Fatalf("a's due: %d rows, %v", len(due), err)
	}
	expireLease(t, url)
	lead(t, b)

	tables := `SELECT (SELECT COUNT(*) FROM changes) + (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM rounds)
		+ (SELECT COUNT(*) FROM incidents) + (SELECT COUNT(*) FROM spans) + (SELECT COUNT(*) FROM uptime_hourly)`
	before := pgCount(t, url, tables)
	for _, s := range []*store.Replica{a, never} {
		err := s.SaveRound(ctx, recoverySnapshot(*first.Incident, t0.Add(time.Minute)))
		if !errors.Is(err, bot.ErrDeposed) {
			t.Fatalf("%s's SaveRound: %v, want ErrDeposed", s.Holder(), err)
		}
		due, err := s.Due(ctx, tgPlatform, t0.Add(time.Hour), 10, nil)
		if !errors.Is(err, bot.ErrDeposed) || len(due) != 0 {
			t.Fatalf("%s's Due: %d rows, %v; want ErrDeposed", s.Holder(), len(due), err)
		}
	}
	if after := pgCount(t, url, tables); after != before {
		t.Fatalf("refused writes left rows: %d before, %d after", before, after)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE claimed_by <> 'a'`); n != 0 {
		t.Fatalf("%d rows claimed by the deposed leader's refused Due", n)
	}
	saved, err := b.Load(ctx)
	if err != nil || saved.Status.State != probe.StateDown {
		t.Fatalf("state after the refused recovery: %+v, %v; want still down", saved.Status, err)
	}

	// Fenced by the claim: rows a still holds (its claims have not expired,
	// so no one else may have sent them) take a's outcome, whoever leads.
	if err := a.Finish(ctx, []int64{due[0].ID}, bot.StatusSent, "m1", "", t0); err != nil {
		t.Fatalf("deposed Finish of a row it still claims: %v", err)
	}
	if err := a.Retry(ctx, due[1].ID, t0.Add(time.Minute), 1, "503"); err != nil {
		t.Fatalf("deposed Retry of a row it still claims: %v", err)
	}
	if err := never.Finish(ctx, []int64{due[2].ID}, bot.StatusSent, "m3", "", t0); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("Finish of a's row by a replica that never claimed it: %v, want ErrDeposed", err)
	}
	if _, err := never.Subscribe(ctx, bot.Subscription{Chat: pgChat("4"), Kind: "private", CreatedAt: t0.Add(-time.Hour)}); err != nil {
		t.Fatalf("Subscribe without the lease: %v", err)
	}

	// The new leader's write goes through.
	snap := pgSave(t, b, recoverySnapshot(*first.Incident, t0.Add(time.Minute)))
	if snap.Queued != 3 {
		t.Fatalf("b's recovery queued %d, want the 3 chats that heard of the outage", snap.Queued)
	}
}

func TestClaims(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b := openPG(t, url, "a"), openPG(t, url, "b")
	pgSubscribe(t, a, "1", "2", "3")
	lead(t, a)
	pgSave(t, a, storetest.DownSnapshot(t0))
	claimedBy := func() map[string]string {
		t.Helper()
		out, err := a.Outcomes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, o := range out {
			if o.Status == bot.StatusPending {
				m[o.Chat.ID] = o.ClaimedBy
			}
		}
		return m
	}

	dueA, err := a.Due(ctx, tgPlatform, t0, 10, nil)
	if err != nil || !reflect.DeepEqual(chatsOf(dueA), []string{"1", "2", "3"}) {
		t.Fatalf("a's due: %v, %v", chatsOf(dueA), err)
	}
	if got := claimedBy(); !reflect.DeepEqual(got, map[string]string{"1": "a", "2": "a", "3": "a"}) {
		t.Fatalf("claims after a's Due: %v", got)
	}

	// b leads next. a's claims stand until they expire, even under an older
	// epoch: a may be frozen mid-send and record its sends when it wakes.
	expireLease(t, url)
	lead(t, b)
	if dueB, err := b.Due(ctx, tgPlatform, t0, 10, nil); err != nil || len(dueB) != 0 {
		t.Fatalf("b's due while a's claims stand: %v, %v; want none", ids(dueB), err)
	}
	pgtest.Exec(t, url, `UPDATE outbox SET claimed_until = now() - interval '1 second' WHERE claimed_by = 'a'`)
	dueB, err := b.Due(ctx, tgPlatform, t0, 10, nil)
	if err != nil || !reflect.DeepEqual(ids(dueB), ids(dueA)) {
		t.Fatalf("b's due once a's claims expired: %v, %v; want a's rows %v", ids(dueB), err, ids(dueA))
	}

	// a, deposed, wakes: its outcomes for rows b now holds are refused, in
	// the same statement, and leave b's claim and attempts alone.
	if err := a.Finish(ctx, ids(dueA[:1]), bot.StatusSent, "late", "", t0); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("deposed a's Finish of b's row: %v, want ErrDeposed", err)
	}
	if err := a.Retry(ctx, dueA[1].ID, t0.Add(time.Hour), 7, "late"); !errors.Is(err, bot.ErrDeposed) {
		t.Fatalf("deposed a's Retry of b's row: %v, want ErrDeposed", err)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE claimed_by = 'b' AND status = 'pending' AND attempts = 0 AND message_id = ''`); n != 3 {
		t.Fatalf("%d of b's 3 rows untouched after a's late writes", n)
	}

	// a leads again; a live claim by another holder under a newer epoch (not
	// one a fenced leader meets in practice, made by hand) holds its chat;
	// an expired one does not.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	term := lead(t, a)
	pgtest.Exec(t, url, `UPDATE outbox SET claimed_by = 'z', claim_epoch = $1, claimed_until = now() + interval '1 hour' WHERE chat_id = '2'`, term.Epoch+1)
	pgtest.Exec(t, url, `UPDATE outbox SET claimed_by = 'z', claim_epoch = $1, claimed_until = now() - interval '1 second' WHERE chat_id = '3'`, term.Epoch+1)
	dueA, err = a.Due(ctx, tgPlatform, t0, 10, nil)
	if err != nil || !reflect.DeepEqual(chatsOf(dueA), []string{"1", "3"}) {
		t.Fatalf("a's due with chat 2 claimed by z: %v, %v; want 1 and 3", chatsOf(dueA), err)
	}
	if got := claimedBy(); !reflect.DeepEqual(got, map[string]string{"1": "a", "2": "z", "3": "a"}) {
		t.Fatalf("claims: %v", got)
	}

	// Finish and Retry hand rows back.
	if err := a.Finish(ctx, ids(dueA[:1]), bot.StatusSent, "m1", "", t0); err != nil {
		t.Fatal(err)
	}
	if err := a.Retry(ctx, dueA[1].ID, t0.Add(time.Minute), 1, "503"); err != nil {
		t.Fatal(err)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE id = ANY($1) AND (claimed_by <> '' OR claim_epoch <> 0 OR claimed_until IS NOT NULL)`,
		ids(dueA)); n != 0 {
		t.Fatalf("%d rows still claimed after Finish and Retry", n)
	}
	if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE claimed_by = 'z'`); n != 1 {
		t.Fatalf("%d rows claimed by z, want chat 2's untouched", n)
	}
}

// A chat whose oldest row another transaction holds (another Due in the
// middle of claiming it) is skipped without waiting, and taken once free:
// two Dues at once never return the same row.
func TestDueSkipsChatsLockedByAnotherDue(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a := openPG(t, url, "a")
	pgSubscribe(t, a, "1", "2", "3")
	lead(t, a)
	pgSave(t, a, storetest.DownSnapshot(t0))
	pgSave(t, a, recoverySnapshot(*storetest.DownSnapshot(t0).Incident, t0.Add(time.Minute))) // ignored by Due: ids differ, chats the same

	conn := pgtest.Open(t, url)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT id FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE chat_id = '2' AND status = 'pending') FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	due, err := a.Due(wait, tgPlatform, t0.Add(time.Minute), 10, nil)
	if err != nil || !reflect.DeepEqual(chatsOf(due), []string{"1", "3"}) {
		t.Fatalf("due while chat 2 is locked: %v, %v; want chats 1 and 3 at once", chatsOf(due), err)
	}
	if len(due) != 4 {
		t.Fatalf("%d rows, want both rows of chats 1 and 3", len(due))
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	busy := map[string]bool{"1": true, "3": true}
	due, err = a.Due(ctx, tgPlatform, t0.Add(time.Minute), 10, busy)
	if err != nil || !reflect.DeepEqual(chatsOf(due), []string{"2"}) || len(due) != 2 {
		t.Fatalf("due once chat 2 is free: %v (%d rows), %v", chatsOf(due), len(due), err)
	}
}

// Change.Regions is stored with the change and read back with it.
func TestChangeRegionsRoundTripPostgres(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a := openPG(t, url, "a")
	pgSubscribe(t, a, "1")
	lead(t, a)
	regions := []bot.RegionVerdict{{Region: "eu", Verdict: probe.VerdictDown}, {Region: "us", Verdict: probe.VerdictUp}}
	down := storetest.DownSnapshot(t0)
	down.Change.Regions = regions
	pgSave(t, a, down)
	pgSave(t, a, recoverySnapshot(*down.Incident, t0.Add(time.Minute)))
	due, err := a.Due(ctx, tgPlatform, t0.Add(time.Minute), 10, nil)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %d rows, %v", len(due), err)
	}
	if !reflect.DeepEqual(due[0].Change.Regions, regions) || due[1].Change.Regions != nil {
		t.Fatalf("regions read back: %+v and %+v; want %+v and nil", due[0].Change.Regions, due[1].Change.Regions, regions)
	}
	var stored string
	if err := pgtest.Open(t, url).QueryRowContext(ctx, `SELECT regions FROM changes WHERE id = $1`, due[0].Change.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := `[{"region":"eu","verdict":"down"},{"region":"us","verdict":"up"}]`; stored != want {
		t.Fatalf("stored %s, want %s", stored, want)
	}
}

// Freshness is the database's clock: replicas whose clocks are 5 minutes
// apart (one ahead, one behind) are both heard, and the caller's own clock
// changes nothing; a region that stops recording falls silent on the
// database's clock alone.
func TestRegionsOnTheDatabasesClock(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b := openPG(t, url, "a"), openPG(t, url, "b")
	now := time.Now()
	rounds := []struct {
		s *store.Replica
		r bot.RegionRound
	}{
		{a, bot.RegionRound{Region: "us-east", At: now.Add(5 * time.Minute), Verdict: probe.VerdictDown}}, // its clock runs 5 min ahead
		{b, bot.RegionRound{Region: "eu-west", At: now.Add(-5 * time.Minute), Verdict: probe.VerdictDown, Causes: []bot.Cause{{Component: "api", Detail: "HTTP 503"}}}},
		{a, bot.RegionRound{Region: "ap-south", At: now, Verdict: probe.VerdictUp}},
	}
	for _, r := range rounds {
		if err := r.s.RecordRegion(ctx, r.r); err != nil { // no lease needed
			t.Fatal(err)
		}
	}
	for _, callerNow := range []time.Time{now, now.Add(-10 * time.Minute), now.Add(10 * time.Minute)} {
		got, err := b.Regions(ctx, callerNow, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := []bot.RegionRound{rounds[2].r, rounds[1].r, rounds[0].r}
		for i := range got {
			got[i].At = got[i].At.Local()
		}
		for i := range want {
			want[i].At = want[i].At.Round(0).Local()
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("regions read at the caller's %v:\n got %+v\nwant %+v", callerNow.Sub(now), got, want)
		}
		for _, r := range got {
			if r.Silent {
				t.Fatalf("region %s silent at the caller's %v: freshness must be the database's clock", r.Region, callerNow.Sub(now))
			}
		}
	}
	pgtest.Exec(t, url, `UPDATE region_rounds SET heard_at = now() - interval '1 minute' WHERE region = 'us-east'`)
	got, err := a.Regions(ctx, now, 20*time.Second)
	if err != nil || len(got) != 3 || !got[2].Silent || got[0].Silent || got[1].Silent {
		t.Fatalf("regions after us-east stopped recording: %+v, %v; want us-east silent", got, err)
	}
	pgtest.Exec(t, url, `UPDATE region_rounds SET heard_at = now() - interval '25 hours' WHERE region = 'us-east'`)
	if got, err := a.Regions(ctx, now, 20*time.Second); err != nil || len(got) != 2 {
		t.Fatalf("regions once us-east was silent for a day: %+v, %v; want it forgotten", got, err)
	}
}

// No error carries the database password, whether the server is unreachable
// or refuses the database.
func TestErrorsHideThePassword(t *testing.T) {
	const password = "s3cr3t-Pa55word"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	urls := []string{
		"postgres://bot:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5",
		"postgres://bot:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=not-a-number",
		"postgres://bot:" + password + "@[::1/db",
		"host=127.0.0.1 port=1 user=bot password=" + password + " sslmode=disable connect_timeout=5",
	}
	if admin := pgtestAdmin(); admin != "" {
		u := mustParse(t, pgtest.URL(t))
		u.User = urlUser("postgres", password)
		u.Path = "/no_such_database"
		urls = append(urls, u.String())
	}
	for _, url := range urls {
		s, err := store.OpenPostgres(ctx, url)
		if err == nil {
			s.Close()
			t.Fatal("opened a database that does not exist")
		}
		bottest.AssertNoSecret(t, password, err.Error(), fmt.Sprintf("%+v", err))
	}
}
