package delivery_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// countingBacklog counts the backlog reads made of it.
type countingBacklog struct {
	reads   atomic.Int32
	backlog map[bot.Platform]bot.Backlog
}

func (c *countingBacklog) Backlog(context.Context) (map[bot.Platform]bot.Backlog, error) {
	c.reads.Add(1)
	return c.backlog, nil
}

// storeBacklogCounted is a store whose own Backlog reads are counted.
type storeBacklogCounted struct {
	*faultyStore
	reads atomic.Int32
}

func (s *storeBacklogCounted) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	s.reads.Add(1)
	return s.faultyStore.Backlog(ctx)
}

// With a BacklogSource, the progress lines and metrics read the backlog
// there (the reading /healthz shows) and never count the pending rows in
// the store a second time.
func TestProgressReadsTheSharedBacklog(t *testing.T) {
	const chats = 3
	s := &storeBacklogCounted{faultyStore: fanOut(t, chats)}
	shared := &countingBacklog{backlog: map[bot.Platform]bot.Backlog{tg: {Pending: 4242, Oldest: t0}}}
	sent := &counter{}
	logs := &bottest.Buffer{}
	clk := bottest.NewClock(t0.Add(time.Minute))
	d := delivery.NewDispatcher(s, []delivery.Channel{{Platform: tg, Notifier: sent, Policy: policy(1)}},
		clk, slog.New(slog.NewTextHandler(logs, nil)), nil)
	d.BacklogSource = shared
	run(t, d)
	d.Wake()
	bottest.Eventually(t, "every chat sent", func() bool { return sent.total() == chats })
	// The loop and the reporter sleep on the clock; a few progress ticks.
	clk.RunUntil(t, 2, time.Minute, time.Second, func() bool { return shared.reads.Load() >= 2 })
	if n := s.reads.Load(); n != 0 {
		t.Errorf("the store's backlog was read %d times, want 0: the shared reading stands for it", n)
	}
	if !strings.Contains(logs.String(), "pending=4242") {
		t.Errorf("the progress line does not show the shared reading:\n%s", logs)
	}
	sent.each(t, chats, 1)
}
