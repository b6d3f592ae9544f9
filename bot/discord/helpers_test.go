package discord

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

// memStore is a small in-memory bot.SubscriptionStore and bot.StateStore.
type memStore struct {
	mu    sync.Mutex
	subs  map[bot.ChatRef]bot.Subscription
	saved bot.Saved
}

func newMemStore() *memStore { return &memStore{subs: map[bot.ChatRef]bot.Subscription{}} }

func (m *memStore) Subscribe(_ context.Context, s bot.Subscription) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[s.Chat]; ok {
		return false, nil
	}
	m.subs[s.Chat] = s
	return true, nil
}

func (m *memStore) Unsubscribe(_ context.Context, chat bot.ChatRef) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.subs[chat]
	delete(m.subs, chat)
	return ok, nil
}

func (m *memStore) UnsubscribeGroup(_ context.Context, p bot.Platform, group string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.subs {
		if k.Platform == p && s.Group == group {
			delete(m.subs, k)
			n++
		}
	}
	return n, nil
}

func (m *memStore) MigrateChat(_ context.Context, from, to bot.ChatRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.subs[from]; ok {
		delete(m.subs, from)
		s.Chat = to
		m.subs[to] = s
	}
	return nil
}

func (m *memStore) Load(context.Context) (bot.Saved, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saved, nil
}

func (m *memStore) SaveRound(_ context.Context, s *bot.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := s.Round
	m.saved.Status, m.saved.LastRound = s.Status, &r
	if s.Incident != nil {
		inc := *s.Incident
		m.saved.Incident = &inc
	}
	return nil
}

func (m *memStore) setSaved(s bot.Saved) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved = s
}

func (m *memStore) sub(channelID string) (bot.Subscription, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[bot.ChatRef{Platform: Platform, ID: channelID}]
	return s, ok
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// harness runs a Bot against a fake Discord.
type harness struct {
	fake  *discordtest.Server
	a     *Bot
	store *memStore
	logs  *bottest.Buffer
	// ended is closed when Run returns.
	ended chan struct{}
}

type harnessOpt struct {
	fakeOpts []discordtest.Option
	handler  func(*command.Service) Handler
	// clock is the adapter's clock; nil means real time.
	clock clock.Clock
	// setup, when set, changes the adapter before Run.
	setup func(*Bot)
	// store replaces the in-memory store (e.g. the real SQLite one).
	store interface {
		bot.SubscriptionStore
		bot.StateStore
	}
}

// startAdapter starts Run and waits until Send works, the gateway is
// identified and the commands are registered.
// Cleanup stops Run, checks it returned nil and that the token never reached the logs.
func startAdapter(t *testing.T, o harnessOpt) *harness {
	t.Helper()
	fake := discordtest.New(o.fakeOpts...)
	t.Cleanup(fake.Close)
	h := &harness{fake: fake, store: newMemStore(), logs: &bottest.Buffer{}, ended: make(chan struct{})}
	log := newTestLogger(h.logs)
	var store interface {
		bot.SubscriptionStore
		bot.StateStore
	} = h.store
	if o.store != nil {
		store = o.store
	}
	svc := command.NewService(store, store, time.Now, log)
	var handler Handler = svc
	if o.handler != nil {
		handler = o.handler(svc)
	}
	h.a = NewBot(Options{Token: adapterkit.Secret(h.fake.Token), APIURL: h.fake.URL, Log: log, Clock: o.clock}, handler)
	h.a.minBackoff, h.a.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	if o.setup != nil {
		o.setup(h.a)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { defer close(h.ended); done <- h.a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after ctx ended, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after ctx ended")
		}
		if strings.Contains(h.logs.String(), h.fake.Token) {
			t.Errorf("the bot token appears in the logs")
		}
	})

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := h.fake.WaitConnected(wctx); err != nil {
		t.Fatalf("gateway never identified: %v\nlogs:\n%s", err, h.logs)
	}
	// The commands are registered in the background; wait for them so no
	// test counts that call among its own.
	if err := h.fake.WaitOverwrites(wctx, 1); err != nil {
		t.Fatalf("commands never registered: %v\nlogs:\n%s", err, h.logs)
	}
	for h.a.sess.Load() == nil {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-wctx.Done():
			t.Fatalf("adapter never became ready\nlogs:\n%s", h.logs)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return h
}

// interact dispatches an interaction and waits for its final answer.
func (h *harness) interact(t *testing.T, spec discordtest.InteractionSpec) discordtest.Interaction {
	t.Helper()
	id, err := h.fake.Interact(spec)
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := h.fake.WaitAnswered(ctx, id)
	if err != nil {
		got, _ := h.fake.Interaction(id)
		t.Fatalf("interaction %q never answered: %v (got %+v)\nlogs:\n%s", spec.Name, err, got, h.logs)
	}
	return in
}
