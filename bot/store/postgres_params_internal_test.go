//go:build !nopostgres

package store

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
)

// Every connection of both pools carries the server-side bounds, whatever
// database/sql does with connections: the work pool's statement timeout,
// the lease pool's TTL/3, and idle_in_transaction_session_timeout at TTL/6
// on both, within the fence's margin; and the JIT compiler off.
func TestServerSideTimeoutsOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	r, err := OpenPostgres(ctx, pgtest.URL(t), WithHolder("a"), WithLeaseTTL(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tc := range []struct {
		pool      string
		db        *sql.DB
		statement string
	}{
		{"work", r.db, "10s"},
		{"lease", r.pg.lease, "2s"},
	} {
		// Hold two connections at once, so that a second one is opened.
		conns := make([]*sql.Conn, 2)
		for i := range conns {
			c, err := tc.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		for i, c := range conns {
			var statement, idle, jit string
			if err := c.QueryRowContext(ctx, `SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('jit')`).Scan(&statement, &idle, &jit); err != nil {
				t.Fatal(err)
			}
			if statement != tc.statement || idle != "1s" || jit != "off" {
				t.Errorf("%s pool, connection %d: statement_timeout %s, idle_in_transaction_session_timeout %s, jit %s; want %s, 1s and off", tc.pool, i, statement, idle, jit, tc.statement)
			}
		}
	}
}

// A URL that names no sslmode gets libpq's default, prefer: TLS where the
// server offers it, a plain connection where it does not (the test server
// has none). lib/pq's own default, require, would refuse it.
func TestURLWithoutSSLModeConnectsWithoutTLS(t *testing.T) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	r, err := OpenPostgres(context.Background(), u.String(), WithHolder("a"))
	if err != nil {
		t.Fatalf("open without sslmode: %v", err)
	}
	defer r.Close()
	var ssl bool
	if err := r.db.QueryRowContext(context.Background(), `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if ssl {
		t.Error("TLS on a server that has none")
	}
}
