package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/web"
)

func opsServer(t *testing.T, lim web.Limits) string {
	t.Helper()
	b := &boards{}
	b.p.Store(outageBoard())
	ops := web.Handler(monitor{bot.Health{ControlOK: true}}, delivery{}, leadership{}, time.Minute, metrics.NewSet())
	addr := freeAddr(t)
	serveUntilReady(t, addr, func(ctx context.Context) error {
		return web.ServeLimited(ctx, addr, ops, b, slog.New(slog.DiscardHandler), lim)
	})
	return addr
}

// A client that sends its headers a byte at a time, never finishing, is cut
// off by the header timeout instead of holding its connection for ever.
func TestSlowClientIsCutOff(t *testing.T) {
	lim := web.DefaultLimits()
	lim.ReadHeader, lim.Read = time.Second, 2*time.Second
	addr := opsServer(t, lim)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// Keep trickling (a slowloris): the server must still cut us off.
	cut := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(c) // returns when the server closes
		cut <- err
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case err := <-cut:
			if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("read: %v", err)
			}
			return
		case <-tick.C:
			_, _ = io.WriteString(c, "a")
		case <-deadline:
			t.Fatal("a client trickling its headers was still connected after 15 s")
		}
	}
}

// Past MaxConns, a new connection is not served until one closes.
func TestConnectionLimit(t *testing.T) {
	lim := web.DefaultLimits()
	lim.MaxConns = 2
	addr := opsServer(t, lim)
	var held []net.Conn
	for range lim.MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The two held connections are accepted: a request on one is answered.
	if _, err := io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("held connection: %v, %v", resp, err)
	}
	extra, err := net.Dial("tcp", addr) // the kernel accepts it; the server does not
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if _, err := io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(extra)
	extra.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := r.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %d was answered (%v) while %d were held", lim.MaxConns+1, err, lim.MaxConns)
	}
	held[1].Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connection %d after one closed: %v, %v", lim.MaxConns+1, resp, err)
	}
}

// countingBacklog counts the store's backlog queries.
type countingBacklog struct{ calls atomic.Int64 }

func (c *countingBacklog) Backlog(context.Context) (map[bot.Platform]bot.Backlog, error) {
	n := c.calls.Add(1)
	return map[bot.Platform]bot.Backlog{tgPlatform: {Pending: int(n)}}, nil
}

type cachedDelivery struct{ *web.CachedBacklog }

func (cachedDelivery) Platforms() map[bot.Platform]bot.PlatformHealth { return nil }

// /healthz reads the backlog from memory: a hundred requests, one query;
// the figure follows the periodic refresh.
func TestHealthzReadsTheBacklogFromMemory(t *testing.T) {
	store := &countingBacklog{}
	clock := bottest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	cache := &web.CachedBacklog{Store: store, Clock: clock, Every: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	clock.WaitIdle(t, 1) // the first read is done, the loop waits for the next

	srv := httptest.NewServer(web.Handler(monitor{bot.Health{ControlOK: true}}, cachedDelivery{cache}, leadership{}, time.Minute, metrics.NewSet()))
	defer srv.Close()
	pending := func() int {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h web.Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return h.Outbox[tgPlatform].Pending
	}
	for range 100 {
		if p := pending(); p != 1 {
			t.Fatalf("pending %d, want the first reading, 1", p)
		}
	}
	if n := store.calls.Load(); n != 1 {
		t.Fatalf("100 /healthz made %d backlog queries, want 1", n)
	}
	clock.Advance(5 * time.Second)
	clock.WaitIdle(t, 1)
	if p := pending(); p != 2 {
		t.Errorf("after a refresh, pending %d, want 2", p)
	}
}

// A keep-alive connection left idle after its request is closed by the idle
// timeout, so idle clients cannot hold the connection slots.
func TestIdleConnectionIsClosed(t *testing.T) {
	lim := web.DefaultLimits()
	lim.Idle = time.Second
	addr := opsServer(t, lim)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := r.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("an idle keep-alive connection was still open after 15 s")
	}
}

// A poke (rows were queued) has the backlog read at once, not at the next period.
func TestCachedBacklogPoke(t *testing.T) {
	store := &countingBacklog{}
	clock := bottest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	cache := &web.CachedBacklog{Store: store, Clock: clock, Every: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	clock.WaitIdle(t, 1)
	cache.Poke()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := cache.Backlog(ctx); b[tgPlatform].Pending == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a poke did not read the backlog again within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
