package telegram

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// One person typing /status eight times in a second, half in a private chat
// and half in a group: a bounded number of answers and one slow-down note,
// then silence until their budget comes back.
func TestFloodingUserIsLimited(t *testing.T) {
	for _, tt := range bottest.Languages() {
		t.Run(tt.Telegram, func(t *testing.T) {
			clock := bottest.NewClock(t0) // frozen: no budget comes back until the test says so
			h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, func(a *Bot) {
				a.limiter = command.NewLimiter(command.DefaultLimits(), clock)
			})
			user := telegramtest.User{ID: userID, LanguageCode: tt.Telegram}
			flood := func(n int) {
				t.Helper()
				var last int
				for i := range n {
					if i%2 == 0 {
						last = h.fake.Private(user, "/status")
					} else {
						last = h.fake.Group(groupID, user, "/status")
					}
				}
				h.handled(last)
			}
			count := func() (answers, notes int) {
				for _, m := range h.fake.Sent() {
					switch {
					case strings.Contains(m.Plain, tt.SlowDown):
						notes++
					case strings.Contains(m.Plain, tt.Status):
						answers++
					default:
						t.Errorf("unexpected message to %d: %q", m.ChatID, m.Plain)
					}
				}
				return answers, notes
			}
			flood(8)
			answers, notes := count()
			// Three admitted (private, group, private); the two private ones
			// fold into one answer when the first is still waiting.
			if answers < 2 || answers > 3 || notes != 1 {
				t.Fatalf("%d answers and %d notes after 8 commands, want 2 or 3 and 1", answers, notes)
			}
			if g := h.fake.SentTo(groupID); len(g) != 2 || !strings.Contains(g[1].Plain, tt.SlowDown) || g[1].ReplyTo == 0 {
				t.Errorf("the group got %+v, want its answer then the note, replying to the asker", g)
			}
			flood(8)
			if a, n := count(); a != answers || n != notes {
				t.Errorf("8 more commands within the minute: %d answers, %d notes, want still %d and %d", a, n, answers, notes)
			}
			clock.Advance(2 * time.Second)
			flood(1)
			if a, _ := count(); a != answers+1 {
				t.Errorf("2 s later: %d answers, want %d", a, answers+1)
			}
		})
	}
}

// The answer to a /status asked while one is pending in the chat is the
// pending one, rendered when it goes out: one answer for both.
func TestPendingStatusServesLaterAskers(t *testing.T) {
	h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, func(a *Bot) {
		a.limiter = command.NewLimiter(command.Limits{Burst: 100}, bottest.NewClock(t0))
	})
	// The first answer in a chat goes at once; the next one waits out the
	// chat's 1 s spacing, and /status asked meanwhile folds into it.
	first := h.fake.Group(groupID, telegramtest.User{ID: userID}, "/help")
	h.handled(first)
	var last int
	for i := range 5 {
		last = h.fake.Group(groupID, telegramtest.User{ID: int64(userID + i)}, "/status")
	}
	h.handled(last)
	var statuses int
	for _, m := range h.fake.SentTo(groupID) {
		if strings.Contains(m.Plain, "X is") {
			statuses++
		}
	}
	if statuses != 1 {
		t.Errorf("%d answers to 5 /status asked while one was pending, want 1", statuses)
	}
}

func TestSubscriptionCapOnTelegram(t *testing.T) {
	for _, tt := range bottest.Languages() {
		t.Run(tt.Telegram, func(t *testing.T) {
			h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, nil, command.WithSubscriptionCap(2))
			user := telegramtest.User{ID: userID, LanguageCode: tt.Telegram}
			groups := []int64{-1001, -1002, -1003}
			for _, g := range groups {
				h.fake.SetMember(g, userID, "administrator")
				h.handled(h.fake.Group(g, user, "/subscribe"))
			}
			for i, g := range groups[:2] {
				if sent := h.fake.SentTo(g); len(sent) != 1 || !strings.Contains(sent[0].Plain, tt.Subscribed) {
					t.Errorf("group %d got %+v, want %q", i, sent, tt.Subscribed)
				}
			}
			if sent := h.fake.SentTo(groups[2]); len(sent) != 1 || !strings.Contains(sent[0].Plain, tt.Capped) {
				t.Errorf("third group got %+v, want the cap", sent)
			}
			if n := len(h.subscribed()); n != 2 {
				t.Errorf("%d subscriptions, want 2", n)
			}
			// An anonymous admin's post is the group's, not the person's.
			h.handled(h.fake.AnonymousAdmin(groups[2], "/subscribe"))
			if _, ok := h.subscribed()["-1003"]; !ok {
				t.Error("an anonymous admin could not subscribe the third group")
			}
		})
	}
}

// panicky panics while answering /status (rendered by a reply worker) and
// /settings (handled in the poll loop).
type panicky struct{ Handler }

func (p panicky) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	if cmd.Name == "status" || cmd.Name == "settings" {
		panic("boom")
	}
	return p.Handler.Handle(ctx, cmd)
}

func TestPanicWhileAnsweringIsCountedAndSurvived(t *testing.T) {
	panics := adapterkit.NewPanics(nil, Platform)
	h := newHarnessWith(t, nil, func(s Handler) Handler { return panicky{s} }, func() time.Time { return t0 },
		func(a *Bot) { a.panics = panics })
	user := telegramtest.User{ID: userID}
	h.fake.Private(user, "/status")
	h.fake.Private(user, "/settings")
	h.handled(h.fake.Private(user, "/subscribe"))
	if n := panics.Count(); n != 2 {
		t.Errorf("%d panics counted, want 2", n)
	}
	for _, want := range []string{"panic while sending a command answer", "panic while handling an update"} {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if _, ok := h.subscribed()["1001"]; !ok {
		t.Error("the command after the panics was not handled")
	}
	h.handled(h.fake.Private(user, "/help"))
	if sent := h.fake.SentTo(userID); len(sent) != 2 {
		t.Errorf("%d answers after the panics, want 2 (/subscribe, /help)", len(sent))
	}
}

// Button presses count as commands: past the limit a press gets the
// slow-down pop-up and changes nothing.
func TestRapidButtonPressesAreLimited(t *testing.T) {
	h := newHarnessWith(t, nil, nil, func() time.Time { return t0 }, func(a *Bot) {
		a.limiter = command.NewLimiter(command.Limits{Burst: 3}, bottest.NewClock(t0))
	})
	user := telegramtest.User{ID: userID, LanguageCode: "fr"}
	h.handled(h.fake.Private(user, "/subscribe"))
	h.handled(h.fake.Private(user, "/settings"))
	sent := h.fake.SentTo(userID)
	if len(sent) != 2 || len(sent[1].Buttons) == 0 {
		t.Fatalf("sent %+v, want the subscription then the settings with buttons", sent)
	}
	msgID := sent[1].MessageID
	// Two commands spent; one press left in the burst.
	first := press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts outages"})
	if strings.Contains(first.Text, "trop vite") {
		t.Fatalf("the first press was limited: %q", first.Text)
	}
	second := press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts all"})
	if !strings.Contains(second.Text, "trop vite") {
		t.Errorf("a press past the limit answered %q, want the slow-down pop-up", second.Text)
	}
	cs, _, err := h.store.Settings(t.Context(), bot.ChatRef{Platform: Platform, ID: "1001"})
	if err != nil || cs.Level != bot.AlertsOutages {
		t.Errorf("settings %+v (%v), want the first press's level kept", cs, err)
	}
}

// The answer queue is bounded: past maxQueued waiting answers new ones are
// dropped (reported once), and it takes answers again once it drains.
func TestReplyQueueIsBounded(t *testing.T) {
	q := newReplyQueue()
	drops := 0
	q.dropped = func() { drops++ }
	for i := range maxQueued {
		if !q.add(strconv.Itoa(i%50), func(context.Context) {}) {
			t.Fatalf("answer %d refused below the bound", i)
		}
	}
	for range 3 {
		if q.add("x", func(context.Context) {}) {
			t.Fatal("an answer past the bound was queued")
		}
	}
	if drops != 1 {
		t.Errorf("the drop streak was reported %d times, want once", drops)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg := q.start(ctx, 4)
	q.wait(waitCtx(t))
	if q.len() != 0 {
		t.Fatalf("%d answers left after draining", q.len())
	}
	if !q.add("x", func(context.Context) {}) {
		t.Error("an answer was refused after the queue drained")
	}
	q.wait(waitCtx(t))
	cancel()
	wg.Wait()
}

// heldReplier sends an answer only once the test lets it.
type heldReplier struct{ release chan struct{} }

func (r heldReplier) Reply(ctx context.Context, _ string, send func(context.Context) error) error {
	select {
	case <-r.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return send(ctx)
}

// versioned answers /status with the version current when it renders.
type versioned struct {
	Handler
	v *atomic.Int32
}

func (h versioned) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	if cmd.Name == "status" {
		return bot.Message{Title: fmt.Sprintf("status v%d", h.v.Load())}, true
	}
	return h.Handler.Handle(ctx, cmd)
}

// A /status answer is rendered when it goes out, not when asked: what
// changed while it waited for the chat's budget is in it.
func TestStatusRenderedWhenSent(t *testing.T) {
	var v atomic.Int32
	v.Store(1)
	release := make(chan struct{})
	h := newHarnessWith(t, nil, func(s Handler) Handler { return versioned{s, &v} }, func() time.Time { return t0 },
		func(a *Bot) { a.replier = heldReplier{release} })
	id := h.fake.Private(telegramtest.User{ID: userID}, "/status")
	if err := h.fake.WaitHandled(waitCtx(t), id); err != nil {
		t.Fatal(err)
	}
	v.Store(2) // the state moves on while the answer waits
	close(release)
	h.handled(id)
	if sent := h.fake.SentTo(userID); len(sent) != 1 || !strings.Contains(sent[0].Plain, "status v2") {
		t.Errorf("sent %+v, want one answer rendered when sent (v2)", sent)
	}
}
