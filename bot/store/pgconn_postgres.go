//go:build !nopostgres

package store

import (
	"context"
	"net"
	"time"
)

// boundedDialer opens connections to PostgreSQL on which no wait for the
// server lasts longer than bound after the request that asked for it.
//
// lib/pq ends a statement whose context ended by asking the server to cancel
// it, on a second connection, and then waits for the server's answer on the
// first: a server that cannot answer (a frozen host, a network that drops
// packets) would hold the caller, and a leader's lease renewal, until TCP
// gives up, many minutes later. The server's own statement_timeout answers
// first whenever the server runs, so the bound only ever ends a wait no
// answer would have ended.
type boundedDialer struct {
	bound time.Duration
	net.Dialer
}

func (d boundedDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d boundedDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d boundedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return boundedConn{Conn: c, bound: d.bound}, nil
}

// boundedConn gives each exchange bound to complete: every request the
// driver writes moves the deadline of the answer it then reads. The driver
// reads only after it wrote, so an idle connection is never cut.
type boundedConn struct {
	net.Conn
	bound time.Duration
}

func (c boundedConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.bound)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
