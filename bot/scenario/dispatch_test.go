package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

func rateLimited(after time.Duration) error {
	return &bot.SendError{Class: bot.RateLimited, RetryAfter: after, Err: errors.New("429 Too Many Requests")}
}

var (
	errBadGateway = &bot.SendError{Class: bot.Retryable, Err: errors.New("HTTP 502")}
	errBlocked    = &bot.SendError{Class: bot.Permanent, Err: errors.New("Forbidden: bot was blocked by the user")}
)

// outage queues one down alert for every subscribed chat.
func (e *env) outage() { e.rounds(up, down, down) }

func TestRateLimitedWaitsAndSendsOnce(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, n int) error {
		if n == 1 {
			return rateLimited(30 * time.Second)
		}
		return nil
	}
	e.subscribe(tgPlatform, "1")
	e.outage()
	e.flush()
	if n := len(e.tg.To("1")); n != 0 {
		t.Fatalf("sent %d before retry_after passed", n)
	}
	e.clock.Advance(29 * time.Second)
	e.flush()
	if n := e.tg.Calls("1"); n != 1 {
		t.Fatalf("%d calls before retry_after passed, want 1", n)
	}
	e.clock.Advance(2 * time.Second)
	e.flush()
	e.flush()
	if n := len(e.tg.To("1")); n != 1 {
		t.Fatalf("sent %d, want exactly 1", n)
	}
}

func TestRetryableErrorThenSuccessSendsOnce(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, n int) error {
		if n <= 2 {
			return errBadGateway
		}
		return nil
	}
	e.subscribe(tgPlatform, "1", "2")
	e.outage()
	for i := 0; i < 10; i++ {
		e.flush()
		e.clock.Advance(time.Minute)
	}
	for _, chat := range []string{"1", "2"} {
		if n := len(e.tg.To(chat)); n != 1 {
			t.Fatalf("chat %s got %d, want 1", chat, n)
		}
	}
}

func TestRetryableErrorsExpireAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(string, int) error { return errBadGateway }
	e.subscribe(tgPlatform, "1")
	e.outage()
	for i := 0; i < 10; i++ {
		e.flush()
		e.clock.Advance(time.Minute)
	}
	if n := e.tg.Calls("1"); n != e.policy.MaxAttempts {
		t.Fatalf("%d attempts, want %d", n, e.policy.MaxAttempts)
	}
	out := e.outcomes()
	if len(out) != 1 || out[0].Status != bot.StatusExpired {
		t.Fatalf("outcome %+v, want expired", out)
	}
}

func TestPermanentErrorEndsSubscriptionOnly(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, _ int) error {
		if chat == "blocked" {
			return errBlocked
		}
		return nil
	}
	e.subscribe(tgPlatform, "blocked", "ok")
	e.outage()
	e.flush()
	e.rounds(up, up)
	e.flush()
	if n := e.tg.Calls("blocked"); n != 1 {
		t.Fatalf("%d requests to a blocked chat, want 1", n)
	}
	if n := len(e.tg.To("ok")); n != 2 {
		t.Fatalf("healthy chat got %d, want 2", n)
	}
	subs, _ := e.store.Subscriptions(context.Background())
	if len(subs) != 1 || subs[0].Chat.ID != "ok" {
		t.Fatalf("subscriptions %+v", subs)
	}
}

func TestMigratedChatGetsAlertUnderNewID(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, _ int) error {
		if chat == "-1" {
			return &bot.SendError{Class: bot.Migrated, NewChatID: "-1001", Err: errors.New("group upgraded")}
		}
		return nil
	}
	e.subscribe(tgPlatform, "-1")
	e.outage()
	e.flush()
	if n := len(e.tg.To("-1001")); n != 1 {
		t.Fatalf("new id got %d, want 1", n)
	}
	subs, _ := e.store.Subscriptions(context.Background())
	if len(subs) != 1 || subs[0].Chat.ID != "-1001" {
		t.Fatalf("subscription not re-keyed: %+v", subs)
	}
}

func TestDownAndRecoveryQueuedTogetherCoalesce(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, down, down, down, up, up)
	e.flush()
	msgs := e.tg.To("1")
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want one coalesced", len(msgs))
	}
	text := msgs[0].Msg.PlainText()
	if !strings.Contains(text, "was down for 30s, 09:00:10 UTC – 09:00:40 UTC, and is back up") {
		t.Fatalf("coalesced text %q", text)
	}
	statuses := map[bot.DeliveryStatus]int{}
	for _, o := range e.outcomes() {
		statuses[o.Status]++
	}
	if statuses[bot.StatusSent] != 1 || statuses[bot.StatusCoalesced] != 1 {
		t.Fatalf("outcomes %+v", statuses)
	}
}

func TestStaleNotificationsExpire(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, n int) error { return rateLimited(7 * time.Hour) }
	e.subscribe(tgPlatform, "1")
	e.outage()
	e.flush()
	e.clock.Advance(7 * time.Hour)
	e.tg.fail = nil
	e.flush()
	if n := len(e.tg.To("1")); n != 0 {
		t.Fatalf("a 7-hour-old alert was delivered")
	}
	if out := e.outcomes(); out[0].Status != bot.StatusExpired {
		t.Fatalf("outcome %+v", out[0])
	}
}

// orderChecker records per chat the severities in the order they arrive.
type orderChecker struct {
	mu  sync.Mutex
	seq map[string][]bot.Severity
	n   int
}

func (o *orderChecker) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if o.n%7 == 0 {
		return "", errBadGateway
	}
	if o.seq == nil {
		o.seq = map[string][]bot.Severity{}
	}
	o.seq[chat] = append(o.seq[chat], m.Severity)
	return fmt.Sprint(o.n), nil
}

func TestOrderingPerChatUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	oc := &orderChecker{}
	e.policy.BackoffMin, e.policy.BackoffMax, e.policy.PerChat = time.Millisecond, time.Millisecond, 0
	e.policy.MaxAttempts, e.policy.MaxAge = 100, 0
	chats := make([]string, 40)
	for i := range chats {
		chats[i] = fmt.Sprint(i)
	}
	e.subscribe(tgPlatform, chats...)
	e.disp = delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: oc, Policy: e.policy}}, clock.System{}, quiet(), nil)
	e.disp.PollEvery = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.disp.Run(ctx); close(done) }()
	e.outage()
	e.disp.Wake()
	e.rounds(up, up)
	e.disp.Wake()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if bl, _ := e.store.Backlog(ctx); bl[tgPlatform].Pending == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	oc.mu.Lock()
	defer oc.mu.Unlock()
	for _, c := range chats {
		seq := oc.seq[c]
		if len(seq) == 0 || len(seq) > 2 {
			t.Fatalf("chat %s got %v", c, seq)
		}
		if seq[len(seq)-1] != bot.SeverityUp {
			t.Fatalf("chat %s: last message %v is not the recovery", c, seq)
		}
		if len(seq) == 2 && seq[0] != bot.SeverityDown {
			t.Fatalf("chat %s: recovery before down: %v", c, seq)
		}
	}
}

// crashingNotifier closes the store after n successful sends, as a process
// dying mid fan-out would leave it.
type crashingNotifier struct {
	recorder
	after int
	crash func()
	once  sync.Once
	dead  atomic.Bool
}

func (c *crashingNotifier) Send(ctx context.Context, chat string, m bot.Message) (string, error) {
	if c.dead.Load() {
		return "", errors.New("process is dead")
	}
	id, err := c.recorder.Send(ctx, chat, m)
	c.recorder.mu.Lock()
	n := len(c.recorder.sent)
	c.recorder.mu.Unlock()
	if n >= c.after {
		c.once.Do(func() { c.crash(); c.dead.Store(true) })
	}
	return id, err
}

func TestCrashMidFanOutDeliversRestOnce(t *testing.T) {
	e := newEnv(t)
	const chats = 60
	ids := make([]string, chats)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	e.subscribe(tgPlatform, ids...)
	e.outage()

	crash := &crashingNotifier{after: 25}
	crash.crash = func() { e.store.Close() }
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: crash, Policy: e.policy}}, e.clock, quiet(), nil)
	_ = d.Flush(context.Background()) // fails once the store is gone

	e.restart()
	e.flush()
	dups := 0
	for _, id := range ids {
		n := len(crash.To(id)) + len(e.tg.To(id))
		if n == 0 {
			t.Fatalf("chat %s never got its alert", id)
		}
		dups += n - 1
	}
	// Only the send in flight when the store died may be repeated.
	if dups > 1 {
		t.Fatalf("%d duplicates, want at most 1 (the in-flight send)", dups)
	}
	if len(crash.sent) < 25 || len(e.tg.sent) == 0 {
		t.Fatalf("the crash did not split the fan-out: %d before, %d after", len(crash.sent), len(e.tg.sent))
	}
}

// TestIdleLoopWakesWhenARetryFallsDue: a chat rate-limited for a second is
// sent as soon as that second is over, by a loop that would otherwise sleep
// for an hour, and exactly once.
func TestIdleLoopWakesWhenARetryFallsDue(t *testing.T) {
	e := newEnv(t)
	e.tg.fail = func(chat string, n int) error {
		if n == 1 {
			return rateLimited(time.Second)
		}
		return nil
	}
	e.subscribe(tgPlatform, "1")
	e.outage()
	e.policy.MaxAge = 0 // rows carry the manual clock's old times; this dispatcher runs on the real one
	d := delivery.NewDispatcher(e.store, []delivery.Channel{{Platform: tgPlatform, Notifier: e.tg, Policy: e.policy}}, clock.System{}, quiet(), nil)
	d.PollEvery = time.Hour // only the retry time can wake the loop
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, func() bool { return len(e.tg.To("1")) == 1 })
	if n := e.tg.Calls("1"); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}
