package scenario_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

func TestCommandLimiterBurstRateAndNote(t *testing.T) {
	clock := bottest.NewClock(t0)
	l := command.NewLimiter(command.Limits{Burst: 3, Every: 2 * time.Second, NoteEvery: time.Minute}, clock)
	private := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, User: "1", Name: "status"}
	group := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-5"}, User: "1", Name: "status"}
	var got []command.Admission
	for i := range 8 { // one person, two chats, one second
		cmd := private
		if i%2 == 1 {
			cmd = group
		}
		got = append(got, l.Admit(cmd))
	}
	want := []command.Admission{command.Admitted, command.Admitted, command.Admitted, command.SlowDown, command.Dropped, command.Dropped, command.Dropped, command.Dropped}
	if !slices.Equal(got, want) {
		t.Fatalf("admissions %v, want %v", got, want)
	}
	// Another person, and the same id on another platform, have budgets of their own.
	if a := l.Admit(command.Command{Chat: private.Chat, User: "2", Name: "status"}); a != command.Admitted {
		t.Errorf("another person: %v", a)
	}
	if a := l.Admit(command.Command{Chat: bot.ChatRef{Platform: dcPlatform, ID: "c"}, User: "1", Name: "status"}); a != command.Admitted {
		t.Errorf("the same id on Discord: %v", a)
	}
	clock.Advance(2 * time.Second)
	if a, b := l.Admit(group), l.Admit(group); a != command.Admitted || b != command.Dropped {
		t.Errorf("2 s later: %v then %v, want one admitted then dropped (note given a minute ago at most)", a, b)
	}
	clock.Advance(time.Minute)
	for range 3 {
		l.Admit(group)
	}
	if a := l.Admit(group); a != command.SlowDown {
		t.Errorf("a minute after the note, over the limit again: %v, want a new note", a)
	}
}

func TestCommandLimiterKeysChannelPostsByChat(t *testing.T) {
	l := command.NewLimiter(command.Limits{Burst: 1}, bottest.NewClock(t0))
	a := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-100"}, Name: "status"}
	b := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-200"}, Name: "status"}
	if l.Admit(a) != command.Admitted || l.Admit(b) != command.Admitted {
		t.Fatal("two channels without a sender share a budget")
	}
	if l.Admit(a) == command.Admitted {
		t.Fatal("a channel went past its budget")
	}
}

func TestCommandLimiterForgetsIdlePeople(t *testing.T) {
	clock := bottest.NewClock(t0)
	l := command.NewLimiter(command.DefaultLimits(), clock)
	for i := range 10000 {
		l.Admit(command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Name: "status", User: string(rune('a'+i%26)) + strings.Repeat("x", i/26)})
	}
	if n := l.People(); n != 10000 {
		t.Fatalf("remembers %d people, want 10000", n)
	}
	clock.Advance(time.Minute) // the default idle time: budgets full, notes due again
	l.Admit(command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Name: "status", User: "last"})
	if n := l.People(); n != 1 {
		t.Fatalf("remembers %d people after a quiet minute, want 1", n)
	}
}

func TestClaimFoldsPendingAnswers(t *testing.T) {
	l := command.NewLimiter(command.Limits{}, bottest.NewClock(t0))
	chat := bot.ChatRef{Platform: tgPlatform, ID: "1"}
	release, ok := l.Claim(chat, "status")
	if !ok {
		t.Fatal("first claim refused")
	}
	if _, ok := l.Claim(chat, "status"); ok {
		t.Fatal("a second /status while one is pending was not folded into it")
	}
	if _, ok := l.Claim(chat, "history"); !ok {
		t.Fatal("/history folded into /status")
	}
	if _, ok := l.Claim(bot.ChatRef{Platform: tgPlatform, ID: "2"}, "status"); !ok {
		t.Fatal("another chat's /status folded into this one's")
	}
	release()
	release() // twice is harmless
	if _, ok := l.Claim(chat, "status"); !ok {
		t.Fatal("a /status after the answer was rendered was folded")
	}
}

// countingStore counts every store call the service makes.
type countingStore struct {
	*store.Store
	calls atomic.Int64
}

func (c *countingStore) Load(ctx context.Context) (bot.Saved, error) {
	c.calls.Add(1)
	return c.Store.Load(ctx)
}

func (c *countingStore) Settings(ctx context.Context, chat bot.ChatRef) (bot.ChatSettings, bool, error) {
	c.calls.Add(1)
	return c.Store.Settings(ctx, chat)
}

func (c *countingStore) Spans(ctx context.Context, from, to time.Time) ([]bot.Span, error) {
	c.calls.Add(1)
	return c.Store.Spans(ctx, from, to)
}

func (c *countingStore) Incidents(ctx context.Context, limit int) ([]bot.Incident, error) {
	c.calls.Add(1)
	return c.Store.Incidents(ctx, limit)
}

func TestStatusBurstAnswersFromMemory(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "1")
	e.rounds(up, down, down)
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	if err := pub.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: e.store}
	svc := command.NewService(store, store, e.clock.Now, quiet(), command.WithBoard(pub.Board), command.WithLiveState(e.mon), command.WithRegions(e.mon.Regions))
	cmd := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "status", Lang: "fr"}
	svc.Handle(t.Context(), cmd) // the chat's language is read once
	before := store.calls.Load()
	for i := range 200 {
		cmd.Name = []string{"status", "history"}[i%2]
		reply, ok := svc.Handle(t.Context(), cmd)
		if !ok || reply.Title == "" {
			t.Fatalf("no answer to /%s", cmd.Name)
		}
	}
	if n := store.calls.Load() - before; n != 0 {
		t.Errorf("200 /status and /history made %d store calls, want 0", n)
	}
	cmd.Name = "status"
	reply, _ := svc.Handle(t.Context(), cmd)
	for _, want := range []string{"X est en panne", "Incident en cours"} {
		if !strings.Contains(reply.PlainText(), want) {
			t.Errorf("status from memory %q lacks %q", reply.PlainText(), want)
		}
	}
	// The state moves on in memory: /status follows without a query.
	e.rounds(up, up)
	reply, _ = svc.Handle(t.Context(), cmd)
	if !strings.Contains(reply.PlainText(), "X est en ligne") || !strings.Contains(reply.PlainText(), "Dernier incident") {
		t.Errorf("status after recovery %q", reply.PlainText())
	}
	// A language change through the service is seen at once.
	if _, ok := svc.Handle(t.Context(), command.Command{Chat: cmd.Chat, Kind: "private", Private: true, Name: "language", Args: "en"}); !ok {
		t.Fatal("no answer to /language")
	}
	reply, _ = svc.Handle(t.Context(), cmd)
	if !strings.Contains(reply.PlainText(), "X is up") {
		t.Errorf("status after /language en: %q", reply.PlainText())
	}
}

func TestSubscriptionCapPerPerson(t *testing.T) {
	for _, tt := range []struct{ lang, subscribed, refused, already string }{
		{"en", "Subscribed", "already subscribed 2 chats, the most one person may", "already subscribed"},
		{"fr", "Abonné", "déjà abonné 2 discussions, le maximum par personne", "déjà abonné"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			e := newEnv(t)
			svc := command.NewService(e.store, e.store, e.clock.Now, quiet(), command.WithSubscriptionCap(2))
			sub := func(id, user string) string {
				reply, _ := svc.Handle(t.Context(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: id}, Kind: "channel", Name: "subscribe", User: user, Lang: tt.lang})
				return reply.PlainText()
			}
			for _, id := range []string{"-1", "-2"} {
				if r := sub(id, "42"); !strings.Contains(r, tt.subscribed) {
					t.Fatalf("subscribe %s: %q", id, r)
				}
			}
			if r := sub("-3", "42"); !strings.Contains(r, tt.refused) {
				t.Fatalf("third subscribe: %q, want the cap", r)
			}
			if r := sub("-1", "42"); !strings.Contains(r, tt.already) {
				t.Errorf("subscribing a chat already subscribed at the cap: %q", r)
			}
			if r := sub("-3", "7"); !strings.Contains(r, tt.subscribed) {
				t.Errorf("another person: %q", r)
			}
			if _, err := e.store.Unsubscribe(t.Context(), bot.ChatRef{Platform: tgPlatform, ID: "-1"}); err != nil {
				t.Fatal(err)
			}
			if r := sub("-4", "42"); !strings.Contains(r, tt.subscribed) {
				t.Errorf("after an unsubscribe: %q", r)
			}
			subs, _ := e.store.Subscriptions(t.Context())
			if len(subs) != 3 {
				t.Errorf("%d subscriptions, want 3 (-2, -3, -4: the refusal changed nothing)", len(subs))
			}
		})
	}
}

// BenchmarkStatus answers /status from memory (the board and the monitor)
// and, for comparison, from the store, X being down.
func BenchmarkStatus(b *testing.B) {
	for _, memory := range []bool{true, false} {
		b.Run(map[bool]string{true: "memory", false: "store"}[memory], func(b *testing.B) {
			ctx := context.Background()
			st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bot.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			storetest.SaveDown(b, st, t0)
			clock := bottest.NewClock(t0.Add(time.Minute))
			opts := []command.ServiceOption{}
			if memory {
				mon := monitor.New(monitor.Config{Store: st, Now: clock.Now, Log: quiet()})
				if err := mon.Load(ctx); err != nil {
					b.Fatal(err)
				}
				pub := history.NewPublisher(st, mon, clock)
				if err := pub.Refresh(ctx); err != nil {
					b.Fatal(err)
				}
				opts = append(opts, command.WithBoard(pub.Board), command.WithLiveState(mon))
			}
			svc := command.NewService(st, st, clock.Now, quiet(), opts...)
			cmd := command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "status"}
			if m, _ := svc.Handle(ctx, cmd); !strings.Contains(m.Title, "down") {
				b.Fatalf("status %q, want X down", m.Title)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := svc.Handle(ctx, cmd); !ok {
					b.Fatal("no answer")
				}
			}
		})
	}
}

// Commands the bot ignores (an unknown command in a group, likely another
// bot's) cost nothing and never earn a note.
func TestIgnoredCommandsAreNotCharged(t *testing.T) {
	l := command.NewLimiter(command.Limits{Burst: 1}, bottest.NewClock(t0))
	group := bot.ChatRef{Platform: tgPlatform, ID: "-5"}
	for range 10 {
		if a := l.Admit(command.Command{Chat: group, User: "1", Name: "otherbotcommand"}); a != command.Admitted {
			t.Fatalf("an ignored command was %v", a)
		}
	}
	if a := l.Admit(command.Command{Chat: group, User: "1", Name: "status"}); a != command.Admitted {
		t.Fatalf("/status after ignored commands: %v", a)
	}
	if a := l.Admit(command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Private: true, User: "1", Name: "otherbotcommand"}); a != command.SlowDown {
		t.Fatalf("an unknown command in a private chat (answered with the help) was %v, want charged", a)
	}
}
