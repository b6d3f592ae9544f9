//go:build !nopostgres

package store_test

import (
	"context"
	neturl "net/url"
	"os"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/probe"
)

func openPG(t testing.TB, url, holder string, opts ...store.Option) *store.Replica {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), url, append([]store.Option{store.WithHolder(holder)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// lead makes s the leader and returns its term.
func lead(t testing.TB, s *store.Replica) bot.Term {
	t.Helper()
	term, held, err := s.Acquire(context.Background(), time.Minute)
	if err != nil || !held {
		t.Fatalf("acquire: held %v, %v (lease with %+v)", held, err, term)
	}
	return term
}

// pgCount runs a COUNT query behind the stores' backs, on a session of its own.
func pgCount(t testing.TB, url, query string, args ...any) int {
	t.Helper()
	db := pgtest.Open(t, url)
	defer db.Close() // now: a test may count in a loop
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// expireLease ends the current term on the database's clock, as if its
// holder had stopped renewing it.
func expireLease(t testing.TB, url string) {
	t.Helper()
	pgtest.Exec(t, url, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = 'leader'`)
}

func pgChat(id string) bot.ChatRef { return bot.ChatRef{Platform: tgPlatform, ID: id} }

func pgSubscribe(t testing.TB, s *store.Replica, ids ...string) {
	t.Helper()
	for i, id := range ids {
		if _, err := s.Subscribe(context.Background(), bot.Subscription{Chat: pgChat(id), Kind: "private", CreatedAt: t0.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// recoverySnapshot closes inc with a down→up change.
func recoverySnapshot(inc bot.Incident, at time.Time) *bot.Snapshot {
	tr := probe.Transition{From: probe.StateDown, To: probe.StateUp, At: at, Began: at.Add(-time.Second)}
	inc.End = at
	return &bot.Snapshot{
		Round:    probe.Round{Start: at, Verdict: probe.VerdictUp},
		Status:   probe.Status{State: probe.StateUp, Since: at},
		Incident: &inc,
		Change:   &bot.Change{Transition: tr},
	}
}

func pgSave(t testing.TB, s *store.Replica, snap *bot.Snapshot) *bot.Snapshot {
	t.Helper()
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

func ids(ds []bot.Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func chatsOf(ds []bot.Delivery) []string {
	var out []string
	for _, d := range ds {
		if len(out) == 0 || out[len(out)-1] != d.Chat.ID {
			out = append(out, d.Chat.ID)
		}
	}
	return out
}

func pgtestAdmin() string { return os.Getenv(pgtest.Env) }

func mustParse(t testing.TB, raw string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func urlUser(name, password string) *neturl.Userinfo { return neturl.UserPassword(name, password) }

// migrationFiles is how many migrations bot/store/migrations/postgres holds.
func migrationFiles(t testing.TB) int {
	t.Helper()
	files, err := os.ReadDir("migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}
