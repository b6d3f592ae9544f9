// Package pgtest gives tests a fresh PostgreSQL database of their own, on the
// server named by XSTATUSBOT_TEST_POSTGRES (which .ci/run starts), and skips
// them when there is none.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver, the one the store uses
)

// Env names the variable holding the admin URL of the test server.
const Env = "XSTATUSBOT_TEST_POSTGRES"

const skipMessage = "PostgreSQL tests skipped: set " + Env + "=postgres://user@127.0.0.1:port/postgres (a role that may CREATE DATABASE), or run .ci/run, which starts a throwaway cluster"

// URL creates an empty database for the test and returns its URL; the
// database is dropped, with any connection still open to it, when the test
// ends. Without XSTATUSBOT_TEST_POSTGRES the test is skipped.
func URL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		tb.Skip(skipMessage)
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("%s is not a URL", Env) // the error would echo it, password and all
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	name := "xsb_test_" + hex.EncodeToString(b)
	Exec(tb, admin, `CREATE DATABASE `+name)
	tb.Cleanup(func() { Exec(tb, admin, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	u.Path = "/" + name
	return u.String()
}

// Exec runs one statement on the database at url through a connection of
// its own, closed before it returns.
func Exec(tb testing.TB, url, query string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := open(tb, url)
	defer db.Close()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// Open is a session of the test's own on the database at url, closed when
// the test ends: what a test does behind the stores' backs (the lease
// expiring, another transaction holding a lock). It holds one connection,
// so a transaction's locks stay with it.
func Open(tb testing.TB, url string) *sql.DB {
	tb.Helper()
	db := open(tb, url)
	tb.Cleanup(func() { db.Close() })
	return db
}

func open(tb testing.TB, url string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		tb.Fatalf("open the test database (%s): %v", Env, err)
	}
	db.SetMaxOpenConns(1)
	return db
}
