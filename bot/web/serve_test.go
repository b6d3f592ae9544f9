package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/web"
)

// freeAddr is a 127.0.0.1 address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serveUntilReady runs serve in the background until the test ends and
// waits for addr to answer.
func serveUntilReady(t *testing.T, addr string, serve func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// STATUS_ADDR's promise: the page and its JSON, and never /healthz or
// /metrics, which stay on HTTP_ADDR with the page beside them.
func TestServePageServesThePageAlone(t *testing.T) {
	b := &boards{}
	b.p.Store(outageBoard())
	log := slog.New(slog.DiscardHandler)
	public := freeAddr(t)
	serveUntilReady(t, public, func(ctx context.Context) error { return web.ServePage(ctx, public, b, log) })
	for path, want := range map[string]int{"/": 200, "/api/status": 200, "/api/incidents": 200, "/healthz": 404, "/metrics": 404} {
		if resp, _ := get(t, "http://"+public+path); resp.StatusCode != want {
			t.Errorf("STATUS_ADDR %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	private := freeAddr(t)
	ops := web.Handler(monitor{bot.Health{}}, delivery{}, leadership{}, time.Minute, metrics.NewSet())
	serveUntilReady(t, private, func(ctx context.Context) error { return web.Serve(ctx, private, ops, b, log) })
	for _, path := range []string{"/", "/api/status", "/healthz", "/metrics"} {
		resp, err := http.Get("http://" + private + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served := resp.StatusCode == 200 || path == "/healthz" && resp.StatusCode == 503
		if !served || path == "/" && !strings.Contains(string(body), "<html") {
			t.Errorf("HTTP_ADDR %s: %d", path, resp.StatusCode)
		}
	}
}
