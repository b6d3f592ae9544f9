//go:build !nopostgres

package store

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A connection of boundedDialer gives each answer bound after the request,
// and no more: a server that never answers ends the wait with a timeout,
// while a connection left idle longer than bound still works, since the
// deadline moves with each request.
func TestBoundedConnBoundsAnswersNotIdleness(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if buf[0] == 'q' { // a question it answers; anything else it ignores
				if _, err := c.Write([]byte{'a'}); err != nil {
					return
				}
			}
		}
	}()
	const bound = 200 * time.Millisecond
	c, err := boundedDialer{bound: bound}.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(b byte) error {
		if _, err := c.Write([]byte{b}); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, 1))
		return err
	}
	if err := ask('q'); err != nil {
		t.Fatalf("an answered request: %v", err)
	}
	time.Sleep(2 * bound) // idle: nothing to await, the point is the time passing
	if err := ask('q'); err != nil {
		t.Fatalf("a request after %v idle: %v", 2*bound, err)
	}
	if err := ask('x'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a request never answered: %v, want a timeout", err)
	}
	c.Close()
	<-served
}
