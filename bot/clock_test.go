package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

func TestSleep(t *testing.T) {
	clock := bottest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if !bot.Sleep(ctx, clock, 0) || !bot.Sleep(ctx, clock, -time.Second) {
		t.Error("a zero or negative wait should pass at once")
	}

	done := make(chan bool, 1)
	go func() { done <- bot.Sleep(ctx, clock, 30*time.Second) }()
	clock.WaitIdle(t, 1)
	clock.Advance(29 * time.Second)
	select {
	case <-done:
		t.Fatal("Sleep returned before its time")
	default:
	}
	clock.Advance(time.Second)
	if !<-done {
		t.Error("Sleep reported an interrupted wait after its time passed")
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- bot.Sleep(cctx, clock, time.Hour) }()
	clock.WaitIdle(t, 1)
	cancel()
	if <-done {
		t.Error("Sleep reported a full wait after ctx ended")
	}
	if bot.Sleep(cctx, clock, 0) {
		t.Error("a zero wait on an ended ctx should report false")
	}
}
