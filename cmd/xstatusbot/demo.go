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
// about half a minute, with no network and no token. Every probe setting
// but the schedule is the default, so the latencies it prints are the ones a
// deployment at @every 1s gets.
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
	out := &watch{w: stdout, words: map[string]chan struct{}{"[DOWN]": make(chan struct{}), "[UP]": make(chan struct{})}, fired: map[string]bool{}}
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
		var changed [2]time.Time
		for i, s := range steps {
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.after):
			}
			say(s.what)
			x.Set(s.mode)
			changed[i] = time.Now()
			if i == 0 {
				go func() {
					select {
					case <-out.words["[DOWN]"]:
						say("outage detected and announced %s after fake X went down", time.Since(changed[0]).Round(time.Millisecond))
					case <-ctx.Done():
					}
				}()
			}
		}
		select {
		case <-out.words["[UP]"]:
			say("recovery announced %s after fake X came back", time.Since(changed[1]).Round(time.Millisecond))
			say("demo over")
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

// watch passes writes through and closes a word's channel the first time the word is written.
type watch struct {
	mu    sync.Mutex
	w     io.Writer
	words map[string]chan struct{} // fixed at creation
	fired map[string]bool
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for word, ch := range w.words {
		if !w.fired[word] && bytes.Contains(p, []byte(word)) {
			close(ch)
			w.fired[word] = true
		}
	}
	return w.w.Write(p)
}
