package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// demo runs the real bot against a fake X on 127.0.0.1 that goes down after
// a few seconds and comes back, so a newcomer sees both console alerts in
// about half a minute, with no network and no token.
func demo(ctx context.Context, stdout, stderr io.Writer) int {
	x := fakex.New()
	defer x.Close()
	ctrl := fakex.New()
	defer ctrl.Close()
	dir, err := os.MkdirTemp("", "xstatusbot-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	cfg, err := loadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{
			"PROBE_SCHEDULE":        "@every 1s",
			"PROBE_TARGETS":         "web=" + x.URL() + "/home,api=" + x.URL() + "/2/tweets;status=200-299|401",
			"PROBE_CONTROL_TARGETS": "control=" + ctrl.URL() + "/",
			"PROBE_TIMEOUT":         "500ms",
			"PROBE_RETRY_DELAY":     "100ms",
			"DB_PATH":               filepath.Join(dir, "demo.db"),
			"HTTP_ADDR":             "off",
			"LOG_LEVEL":             "warn",
			"CONSOLE_NOTIFIER":      "on",
		}[k]
		return v, ok
	}, "")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	out := &watch{w: stdout, word: []byte("[UP]"), seen: make(chan struct{})}
	say := func(format string, args ...any) {
		out.mu.Lock()
		defer out.mu.Unlock()
		fmt.Fprintf(out.w, "demo: "+format+"\n", args...)
	}
	go func() {
		say("fake X is serving on %s; probing every second, 2 failing rounds declare an outage", x.URL())
		steps := []struct {
			after time.Duration
			mode  fakex.Mode
			what  string
		}{
			{5 * time.Second, fakex.Down503, "taking fake X down (HTTP 503 everywhere)"},
			{12 * time.Second, fakex.Up, "bringing fake X back"},
		}
		for _, s := range steps {
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.after):
			}
			say(s.what)
			x.Set(s.mode)
		}
		select {
		case <-out.seen:
			time.Sleep(500 * time.Millisecond)
			say("recovery announced; demo over")
		case <-ctx.Done():
		}
		cancel()
	}()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level}))
	if err := serve(ctx, cfg, out, log); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

// watch passes writes through and closes seen once word has been written.
type watch struct {
	mu   sync.Mutex
	w    io.Writer
	word []byte
	seen chan struct{}
	once sync.Once
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, w.word) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.w.Write(p)
}
