package telegram

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestEndToEnd: real probe against a fake X, real monitor, SQLite store and
// dispatcher, this adapter through the real library against the fake Bot
// API. People subscribe by typing commands; X goes down and comes back.
func TestEndToEnd(t *testing.T) {
	x := fakex.New()
	t.Cleanup(x.Close)
	clock := bottest.NewClock(time.Now().UTC().Truncate(time.Second))
	h := newHarnessAt(t, nil, nil, clock.Now)
	f := h.fake
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	const (
		private   = 1001        // subscribes; first alert hits a 429
		blocker   = 3003        // subscribes, then blocks the bot
		stranger  = 4004        // only asks /status
		group     = -1001111    // admin subscribes; first alert hits a 502
		channel   = -1002222    // channel post subscribes; first alert gets a proxy's HTML 502
		oldGroup  = -5555       // subscribes, then is upgraded by an update
		newGroup  = -1005555    //
		oldGroup2 = -6666       // subscribes, upgrade learnt from a send error
		newGroup2 = -1006666    //
		member    = int64(9009) // a non-admin in group
		admin     = int64(8008) // admin of group, oldGroup, oldGroup2
	)
	f.SetMember(group, admin, "administrator")
	f.SetMember(oldGroup, admin, "creator")
	f.SetMember(oldGroup2, admin, "administrator")
	a := telegramtest.User{ID: admin, FirstName: "Admin"}
	f.Private(telegramtest.User{ID: private}, "/subscribe")
	f.Private(telegramtest.User{ID: blocker}, "/subscribe")
	f.Group(group, telegramtest.User{ID: member}, "/subscribe") // refused
	f.Group(group, a, "/subscribe@XStatusTestBot")
	f.ChannelPost(channel, "/subscribe")
	f.Push(telegramtest.Msg{Chat: telegramtest.Chat{ID: oldGroup, Type: "group"}, From: &a, Text: "/subscribe"})
	h.handled(f.Push(telegramtest.Msg{Chat: telegramtest.Chat{ID: oldGroup2, Type: "group"}, From: &a, Text: "/subscribe"}))
	f.RemoveBot(blocker, "kicked")
	_, last := f.Migrate(oldGroup, newGroup)
	h.handled(last)
	wantSubs := []int64{private, group, channel, newGroup, oldGroup2}
	if subs := h.subscribed(); len(subs) != len(wantSubs) {
		t.Fatalf("subscriptions after commands: %+v", subs)
	}

	checker := &probe.Checker{Client: &http.Client{}, Timeout: 5 * time.Second, Now: clock.Now}
	targets := []probe.Target{{Name: "web", URL: x.URL() + "/"}, {Name: "api", URL: x.URL() + "/1.1/help"}}
	mon := monitor.New(monitor.Config{
		Probe:   func(ctx context.Context) probe.Round { return checker.Round(ctx, targets, nil) },
		Tracker: probe.Tracker{DownAfter: 2, UpAfter: 2},
		Store:   h.store, Now: clock.Now, Log: quiet,
	})
	ctx := context.Background()
	if err := mon.Load(ctx); err != nil {
		t.Fatal(err)
	}
	policy := delivery.Policy{PerChat: time.Second, Workers: 4, MaxAttempts: 5, MaxAge: 6 * time.Hour, BackoffMin: time.Second, BackoffMax: time.Minute}
	disp := delivery.NewDispatcher(h.store, []delivery.Channel{{Platform: Platform, Notifier: h.a, Policy: policy}}, clock, quiet, nil)
	rounds := func(m fakex.Mode, n int) {
		t.Helper()
		x.Set(m)
		for range n {
			if err := mon.RunRound(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Second)
		}
	}
	// The real delivery loop runs on the manual clock: flush moves the clock
	// second by second (retries, rate limits) until the outbox is empty.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	const idleTimers = 2 // the delivery loop and its progress reporter
	flush := func() {
		t.Helper()
		clock.RunUntil(t, idleTimers, 10*time.Minute, time.Second, func() bool {
			bl, err := h.store.Backlog(ctx)
			return err == nil && bl[Platform].Pending == 0
		})
	}
	count := func(chat int64, prefix string) (n int, ids []int) {
		for _, m := range f.SentTo(chat) {
			if strings.HasPrefix(m.Plain, prefix) {
				n++
				ids = append(ids, m.MessageID)
			}
		}
		return n, ids
	}

	rounds(fakex.Up, 2) // establishes "up" silently
	f.FailChat(private, telegramtest.TooManyRequests(1))
	f.FailChat(group, telegramtest.ServerError(502))
	f.FailChat(channel, telegramtest.NonJSON(502))
	f.FailChat(oldGroup2, telegramtest.MigratedTo(newGroup2))
	rounds(fakex.Down503, 2)
	flush()

	wantAlert := []int64{private, group, channel, newGroup, newGroup2}
	downIDs := map[int64]int{}
	for _, chat := range wantAlert {
		n, ids := count(chat, "🔴 X is down")
		if n != 1 {
			t.Errorf("chat %d got %d down alerts, want 1: %+v", chat, n, f.SentTo(chat))
			continue
		}
		downIDs[chat] = ids[0]
		m := f.SentTo(chat)[len(f.SentTo(chat))-1]
		if !strings.Contains(m.Plain, "• api: HTTP 503") || !strings.Contains(m.Plain, "• web: HTTP 503") || m.Silent {
			t.Errorf("chat %d alert %+v: want both causes, with sound", chat, m)
		}
	}
	for _, chat := range []int64{blocker, stranger, oldGroup, oldGroup2} {
		if n, _ := count(chat, "🔴"); n != 0 {
			t.Errorf("chat %d is not subscribed but got %d alerts", chat, n)
		}
	}
	if st := f.Stats(); st.RateLimited != 1 || st.Failed != 3 {
		t.Errorf("fake stats %+v: want one 429 and three other failures", st)
	}

	// /status during the outage.
	h.handled(f.Private(telegramtest.User{ID: stranger}, "/status"))
	if got := f.SentTo(stranger); len(got) != 1 || !strings.HasPrefix(got[0].Plain, "X is down") {
		t.Errorf("/status during outage: %+v", got)
	}

	rounds(fakex.Up, 2)
	flush()
	for _, chat := range wantAlert {
		var ups []telegramtest.SentMessage
		for _, m := range f.SentTo(chat) {
			if strings.HasPrefix(m.Plain, "🟢 X is back up") {
				ups = append(ups, m)
			}
		}
		if len(ups) != 1 || ups[0].ReplyTo != downIDs[chat] {
			t.Errorf("chat %d: recoveries %+v, want one reply to message %d", chat, ups, downIDs[chat])
		}
	}
	for _, chat := range []int64{blocker, stranger, oldGroup, oldGroup2} {
		if n, _ := count(chat, "🟢"); n != 0 {
			t.Errorf("chat %d is not subscribed but got a recovery", chat)
		}
	}
	if subs := h.subscribed(); len(subs) != len(wantAlert) {
		t.Errorf("subscriptions at the end: %+v", subs)
	} else {
		for _, c := range wantAlert {
			if _, ok := subs[strconv.FormatInt(c, 10)]; !ok {
				t.Errorf("chat %d lost its subscription", c)
			}
		}
	}
}
