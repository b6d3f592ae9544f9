// Package pgtest gives tests a fresh PostgreSQL database of their own, on the
// server named by XSTATUSBOT_TEST_POSTGRES (which .ci/run starts), and skips
// them when there is none.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	exec(tb, admin, `CREATE DATABASE `+name)
	tb.Cleanup(func() { exec(tb, admin, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the admin database through a connection of its own.
func exec(tb testing.TB, admin, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to the test server (%s): %v", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
