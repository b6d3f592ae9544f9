package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
)

func TestSleep(t *testing.T) {
	manual := bottest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if !clock.Sleep(ctx, manual, 0) || !clock.Sleep(ctx, manual, -time.Second) {
		t.Error("a zero or negative wait should pass at once")
	}

	done := make(chan bool, 1)
	go func() { done <- clock.Sleep(ctx, manual, 30*time.Second) }()
	manual.WaitIdle(t, 1)
	manual.Advance(29 * time.Second)
	select {
	case <-done:
		t.Fatal("Sleep returned before its time")
	default:
	}
	manual.Advance(time.Second)
	if !<-done {
		t.Error("Sleep reported an interrupted wait after its time passed")
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- clock.Sleep(cctx, manual, time.Hour) }()
	manual.WaitIdle(t, 1)
	cancel()
	if <-done {
		t.Error("Sleep reported a full wait after ctx ended")
	}
	if clock.Sleep(cctx, manual, 0) {
		t.Error("a zero wait on an ended ctx should report false")
	}
}
