package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

func TestMain(m *testing.M) {
	// The library's logger is process-global: set once, as main does.
	SetLibraryLogger(nil)
	os.Exit(m.Run())
}

// testToken looks like a real token so the token-shaped redaction is exercised too.
const testToken = telegramtest.DefaultToken

// logBuffer captures slog output and lets tests wait for a line.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return n, err
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitCount waits until substr occurs at least n times in the log.
func (l *logBuffer) waitCount(ctx context.Context, substr string, n int) bool {
	for {
		l.mu.Lock()
		ok := strings.Count(l.buf.String(), substr) >= n
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitCtx is the bound on every wait in these tests: generous, because the
// machine is shared, and never a sleep.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// harness is an adapter wired to a real command.Service over a real SQLite
// store, talking to a fake Bot API.
type harness struct {
	t     *testing.T
	fake  *telegramtest.Server
	store *store.Store
	svc   *command.Service
	a     *Bot
	logs  *logBuffer
	done  chan error
	stop  context.CancelFunc
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// newHarness starts the fake and the adapter; h, when non-nil, wraps the
// service as the adapter's handler.
func newHarness(t *testing.T, opts []telegramtest.Option, wrap func(Handler) Handler) *harness {
	t.Helper()
	return newHarnessAt(t, opts, wrap, func() time.Time { return t0 })
}

// newHarnessAt is newHarness with the service on the given clock.
func newHarnessAt(t *testing.T, opts []telegramtest.Option, wrap func(Handler) Handler, now func() time.Time) *harness {
	t.Helper()
	return newHarnessWith(t, opts, wrap, now, nil)
}

// newHarnessWith is newHarnessAt with setup applied to the adapter before Run.
func newHarnessWith(t *testing.T, opts []telegramtest.Option, wrap func(Handler) Handler, now func() time.Time, setup func(*Bot), svcOpts ...command.ServiceOption) *harness {
	t.Helper()
	return newHarnessOn(t, adaptertest.Store(t), opts, wrap, now, setup, svcOpts...)
}

// newHarnessOn is newHarnessWith over a store of the test's own, for
// service options that need it (command.WithReports).
func newHarnessOn(t *testing.T, store *store.Store, opts []telegramtest.Option, wrap func(Handler) Handler, now func() time.Time, setup func(*Bot), svcOpts ...command.ServiceOption) *harness {
	t.Helper()
	fake := telegramtest.New(opts...)
	t.Cleanup(fake.Close)
	logs := newLogBuffer()
	svc := command.NewService(store, store, now, logs.logger(), svcOpts...)
	var hd Handler = svc
	if wrap != nil {
		hd = wrap(svc)
	}
	a := NewBot(Options{Token: adapterkit.Secret(fake.Token), Endpoint: fake.Endpoint(), Log: logs.logger(), PollTimeout: time.Second}, hd)
	a.minBackoff, a.maxBackoff = 5*time.Millisecond, 50*time.Millisecond
	if setup != nil {
		setup(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, fake: fake, store: store, svc: svc, a: a, logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
		if strings.Contains(logs.String(), fake.Token) {
			t.Errorf("logs contain the token:\n%s", logs.String())
		}
	})
	return h
}

// connected waits until Run has identified the bot.
func (h *harness) connected() {
	h.t.Helper()
	if err := h.fake.Wait(waitCtx(h.t), func() bool { return h.a.self.Load() != nil }); err != nil {
		h.t.Fatalf("adapter never connected: %v\nlogs:\n%s", err, h.logs.String())
	}
}

// handled waits until update id is handled and every answer queued so far
// has gone out (or failed for good).
func (h *harness) handled(id int) {
	h.t.Helper()
	ctx := waitCtx(h.t)
	if err := h.fake.WaitHandled(ctx, id); err != nil {
		h.t.Fatalf("%v\nlogs:\n%s", err, h.logs.String())
	}
	h.a.replies.wait(ctx)
	if ctx.Err() != nil {
		h.t.Fatalf("%d answers still queued\nlogs:\n%s", h.a.replies.len(), h.logs.String())
	}
}

// subscribed returns the subscriptions by chat id.
func (h *harness) subscribed() map[string]bot.Subscription {
	h.t.Helper()
	subs, err := h.store.Subscriptions(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]bot.Subscription{}
	for _, s := range subs {
		out[s.Chat.ID] = s
	}
	return out
}
