package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// t0 is the tests' start: a fixed instant, so times in failures read the same.
var t0 = time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC)

// TestAlertGoesWhileAReplyWaitsForItsChat: an answer to a chat that was
// just sent to waits out that chat's one-second gap; an alert for another
// chat takes its turn meanwhile, without the clock moving.
func TestAlertGoesWhileAReplyWaitsForItsChat(t *testing.T) {
	clock := bottest.NewClock(t0)
	g := delivery.NewGate(delivery.Policy{Rate: 10, PerChat: time.Second}, clock)
	g.Sent("busy", clock.Now())
	var repliedAt atomic.Value
	replied := make(chan error, 1)
	go func() {
		replied <- g.Reply(context.Background(), "busy", func(context.Context) error {
			repliedAt.Store(clock.Now())
			return nil
		})
	}()
	clock.WaitIdle(t, 1) // the answer sleeps on its chat's gap

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Take(ctx); err != nil {
		t.Fatalf("alert blocked while an answer waits out its own chat's gap: %v", err)
	}
	if at := repliedAt.Load(); at != nil {
		t.Fatalf("the answer went at %v, before its chat's gap was over", at)
	}
	clock.Advance(time.Second)
	select {
	case err := <-replied:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer never went once its chat's gap was over")
	}
	if at := repliedAt.Load().(time.Time); at.Sub(t0) < time.Second {
		t.Fatalf("answer sent %s after the chat's last message, want 1 s at least", at.Sub(t0))
	}
}

// contest runs, on a manual clock, alerts workers taking turns as fast as
// the gate gives them and one answer after the other to each of replyChats
// chats, for d of clock time; it returns how many of each went.
func contest(t *testing.T, rate float64, alerts, replyChats int, d time.Duration) (alertTurns, replies int) {
	t.Helper()
	clock := bottest.NewClock(t0)
	g := delivery.NewGate(delivery.Policy{Rate: rate, PerChat: time.Second}, clock)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var nAlerts, nReplies atomic.Int64
	end := t0.Add(d)
	for range alerts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g.Take(ctx) == nil {
				if !clock.Now().After(end) {
					nAlerts.Add(1)
				}
			}
		}()
	}
	for i := range replyChats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chat := fmt.Sprint("user-", i)
			for ctx.Err() == nil {
				_ = g.Reply(ctx, chat, func(context.Context) error {
					if !clock.Now().After(end) {
						nReplies.Add(1)
					}
					return nil
				})
			}
		}()
	}
	// Every worker sleeps on one timer between turns.
	clock.Run(t, alerts+replyChats, d, 10*time.Millisecond)
	cancel()
	wg.Wait()
	return int(nAlerts.Load()), int(nReplies.Load())
}

// TestRepliesCannotStarveAlerts: twenty chats asking as fast as their
// one-second gap allows, against a fan-out at 10 messages/s: the answers get
// their fifth, the alerts the rest.
func TestRepliesCannotStarveAlerts(t *testing.T) {
	alerts, replies := contest(t, 10, 4, 20, 10*time.Second)
	t.Logf("10 s at 10/s: %d alerts, %d answers", alerts, replies)
	if alerts < 70 {
		t.Errorf("%d alert turns of about 100, want at least 70 (answers may take a fifth)", alerts)
	}
	if replies > 30 {
		t.Errorf("%d answers while alerts waited, want about 20 (a fifth of 100)", replies)
	}
}

// TestAlertsCannotStarveReplies: sixteen alert workers always waiting, and
// three chats asking: answers still get about a fifth of the rate, no more.
func TestAlertsCannotStarveReplies(t *testing.T) {
	alerts, replies := contest(t, 10, 16, 3, 10*time.Second)
	t.Logf("10 s at 10/s: %d alerts, %d answers", alerts, replies)
	if replies < 14 || replies > 26 {
		t.Errorf("%d answers in 10 s at 10/s during a fan-out, want about 20 (a fifth)", replies)
	}
	if alerts < 70 {
		t.Errorf("%d alert turns, want at least 70", alerts)
	}
}

// TestRepliesUseTheWholeRateWithoutAlerts: with no fan-out under way
// answers are not held to their share.
func TestRepliesUseTheWholeRateWithoutAlerts(t *testing.T) {
	_, replies := contest(t, 10, 0, 20, 10*time.Second)
	if replies < 90 {
		t.Errorf("%d answers in 10 s at 10/s with no alert waiting, want about 100", replies)
	}
}

// TestRepliesWaitingAreBounded: with MaxReplies answers waiting, the next
// is refused at once with ErrTooManyReplies and nothing is sent; once they
// are gone, answers are taken again.
func TestRepliesWaitingAreBounded(t *testing.T) {
	clock := bottest.NewClock(t0)
	g := delivery.NewGate(delivery.Policy{PerChat: time.Second}, clock) // no overall ceiling: only the chats' gaps hold answers
	g.MaxReplies = 2
	var sent atomic.Int64
	send := func(context.Context) error { sent.Add(1); return nil }
	done := make(chan error, 2)
	for _, chat := range []string{"a", "b"} {
		g.Sent(chat, clock.Now())
		go func() { done <- g.Reply(context.Background(), chat, send) }()
	}
	clock.WaitIdle(t, 2)
	err := g.Reply(context.Background(), "c", send)
	if !errors.Is(err, delivery.ErrTooManyReplies) {
		t.Fatalf("third answer: %v, want ErrTooManyReplies", err)
	}
	if sent.Load() != 0 {
		t.Fatal("an answer went before its chat's gap")
	}
	clock.Advance(time.Second)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Reply(context.Background(), "c", send); err != nil {
		t.Fatalf("answer after the queue drained: %v", err)
	}
	if n := sent.Load(); n != 3 {
		t.Fatalf("%d answers sent, want 3", n)
	}
}

// TestReplyThatPanicsIsAnError: an answer whose sending panics comes back
// as an error wrapping ErrSendPanicked, once, and the gate serves the next.
func TestReplyThatPanicsIsAnError(t *testing.T) {
	g := delivery.NewGate(delivery.Policy{}, bottest.NewClock(t0))
	calls := 0
	err := g.Reply(context.Background(), "1", func(context.Context) error {
		calls++
		var m map[string]int
		m["x"]++ // a nil map, as a rendering bug would write
		return nil
	})
	if !errors.Is(err, delivery.ErrSendPanicked) || calls != 1 {
		t.Fatalf("Reply = %v after %d calls, want ErrSendPanicked after 1", err, calls)
	}
	if err := g.Reply(context.Background(), "2", func(context.Context) error { return nil }); err != nil || g.Waiting() != 0 {
		t.Fatalf("next answer: %v, %d waiting", err, g.Waiting())
	}
}

// TestReplyFencedSendsNothing: once the replica's term has ended (the fence
// refuses), an answer is not sent and Reply says why.
func TestReplyFencedSendsNothing(t *testing.T) {
	clock := bottest.NewClock(t0)
	g := delivery.NewGate(delivery.Policy{Rate: 10, PerChat: time.Second}, clock)
	var open atomic.Bool
	open.Store(true)
	g.Fence = func(time.Time) error {
		if open.Load() {
			return nil
		}
		return fmt.Errorf("%w (term ended)", bot.ErrDeposed)
	}
	var sent atomic.Int32
	send := func(context.Context) error { sent.Add(1); return nil }
	if err := g.Reply(context.Background(), "a", send); err != nil || sent.Load() != 1 {
		t.Fatalf("open fence: err %v, %d sent, want one answer", err, sent.Load())
	}
	open.Store(false)
	clock.Advance(time.Second) // the rate's next turn is due: only the fence can hold the answer
	if err := g.Reply(context.Background(), "b", send); !errors.Is(err, bot.ErrDeposed) || sent.Load() != 1 {
		t.Fatalf("closed fence: err %v, %d sent, want ErrDeposed and nothing more sent", err, sent.Load())
	}
}
