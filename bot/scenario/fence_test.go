package scenario_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// The dispatcher asks its fence right before each send: once the fence
// refuses (this replica's term is over), nothing more is sent and the rows
// stay pending for whoever leads next; while it allows, sends go on.
func TestDispatcherSendsNothingOnceTheFenceCloses(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1", "2", "3")
	var closed atomic.Bool
	var asked atomic.Int32
	e.disp.Fence = func(now time.Time) error {
		asked.Add(1)
		if closed.Load() {
			return errors.New("term over: " + bot.ErrDeposed.Error())
		}
		return nil
	}
	closed.Store(true)
	e.rounds(up, up, down, down)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.disp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	await(t, "the fence to be asked for each chat", func() bool { return asked.Load() >= 3 })
	if n := len(e.tg.To("1")) + len(e.tg.To("2")) + len(e.tg.To("3")); n != 0 {
		t.Fatalf("%d messages sent with the fence closed, want none", n)
	}
	for _, o := range e.outcomes() {
		if o.Status != bot.StatusPending || o.Attempts != 0 {
			t.Fatalf("row %+v after a refused fence, want pending with no attempt spent", o)
		}
	}
	closed.Store(false)
	await(t, "every chat's alert once the fence opened", func() bool {
		return len(e.tg.To("1")) == 1 && len(e.tg.To("2")) == 1 && len(e.tg.To("3")) == 1
	})
}
