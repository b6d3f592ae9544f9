//go:build !nopostgres

package store

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
)

// freezer is a TCP proxy on 127.0.0.1 to a PostgreSQL server that can
// stop passing bytes without closing anything: the server's host frozen,
// or a network that drops packets, as the bot sees them.
type freezer struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	thawed chan struct{} // closed while bytes pass; open while frozen
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, thawed: make(chan struct{})}
	close(f.thawed)
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *freezer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, s)
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(s, c) })
		f.wg.Go(func() { f.pipe(c, s) })
	}
}

// pipe copies from src to dst, holding each chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			thawed := f.thawed
			f.mu.Unlock()
			<-thawed
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
		f.thawed = make(chan struct{})
	default: // frozen already
	}
}

func (f *freezer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed: // passing already
	default:
		close(f.thawed)
	}
}

func (f *freezer) close() {
	f.thaw()
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// A server that stops answering mid-statement holds no caller past its
// pool's bound: the lease's renewal gives up within its third of the TTL,
// before the lease could expire, so the leader steps down on time. Once
// the server answers again, the pools work on fresh connections.
func TestFrozenServerHoldsNoRenewalPastItsBound(t *testing.T) {
	db := pgtest.URL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	f := newFreezer(t, u.Host)
	u.Host = f.ln.Addr().String()
	const ttl = 3 * time.Second
	r, err := OpenPostgres(context.Background(), u.String(), WithHolder("a"), WithLeaseTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, held, err := r.Acquire(context.Background(), ttl); err != nil || !held {
		t.Fatalf("acquire before the freeze: held %v, %v", held, err)
	}

	f.freeze()
	// Acquire bounds itself at TTL/3 by its context: lib/pq then asks the
	// frozen server to cancel, and only the connection's bound ends the wait.
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, _, err := r.Acquire(context.Background(), ttl)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(2 * ttl):
		f.thaw()
		t.Fatalf("the renewal still waited %v after the server froze, past the lease's TTL", 2*ttl)
	}
	took := time.Since(start)
	if err == nil {
		t.Fatal("a renewal through a frozen server succeeded")
	}
	if took >= ttl {
		t.Errorf("the renewal gave up %v after the server froze, at or past the lease's TTL %v", took, ttl)
	}
	if _, ok := r.Term(); ok {
		t.Error("a failed renewal left the term held")
	}
	t.Logf("renewal through a frozen server failed after %v: %v", took.Round(time.Millisecond), err)

	f.thaw()
	ctx, cancel := context.WithTimeout(context.Background(), pgCallTimeout+5*time.Second)
	defer cancel()
	if _, held, err := r.Acquire(ctx, ttl); err != nil || !held {
		t.Fatalf("acquire once the server answers again: held %v, %v", held, err)
	}
	if _, err := r.Subscriptions(ctx); err != nil {
		t.Fatalf("a store call once the server answers again: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the calls after the thaw ran out of time")
	}
}
