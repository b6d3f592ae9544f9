package discord

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

// One person sending /status eight times, half in a server channel and half
// in a DM with the bot: the first three are answered, every other one gets
// a short answer only they see, so Discord never shows "interaction failed".
func TestFloodingUserGetsEphemeralSlowDown(t *testing.T) {
	for _, tt := range bottest.Languages() {
		t.Run(tt.Discord, func(t *testing.T) {
			clock := bottest.NewClock(time.Now()) // frozen: no budget comes back during the test
			h := startAdapter(t, harnessOpt{setup: func(a *Bot) {
				a.limiter = command.NewLimiter(command.DefaultLimits(), clock)
			}})
			var answered, slowed int
			for i := range 8 {
				spec := discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001", Locale: tt.Discord, UserID: "700000000000000009"}
				if i%2 == 1 {
					spec.GuildID, spec.ChannelID = "", "300000000000000009" // the DM
				}
				in := h.interact(t, spec)
				switch text := in.Text(); {
				case in.Deferred() && strings.Contains(text, tt.Status):
					answered++
				case !in.Deferred() && in.Ephemeral() && strings.Contains(text, tt.SlowDown):
					slowed++
				default:
					t.Errorf("interaction %d answered %q (deferred %v, ephemeral %v)", i, text, in.Deferred(), in.Ephemeral())
				}
			}
			if answered != 3 || slowed != 5 {
				t.Errorf("%d status answers and %d slow-down notes, want 3 and 5", answered, slowed)
			}
			// Another person is not held up by the first.
			in := h.interact(t, discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001", Locale: tt.Discord, UserID: "700000000000000010"})
			if !in.Deferred() || !strings.Contains(in.Text(), tt.Status) {
				t.Errorf("another person's /status: %q", in.Text())
			}
			clock.Advance(2 * time.Second)
			in = h.interact(t, discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001", Locale: tt.Discord, UserID: "700000000000000009"})
			if !in.Deferred() || !strings.Contains(in.Text(), tt.Status) {
				t.Errorf("/status 2 s later: %q, want an answer", in.Text())
			}
		})
	}
}

// A person with MAX_SUBSCRIPTIONS_PER_USER channels subscribed is refused a
// next one, and told why, in their language.
func TestSubscriptionCapOnDiscord(t *testing.T) {
	for _, tt := range bottest.Languages() {
		t.Run(tt.Discord, func(t *testing.T) {
			st := adaptertest.Store(t)
			h := startAdapter(t, harnessOpt{handler: func(*command.Service) Handler {
				return command.NewService(st, st, time.Now, newTestLogger(&bottest.Buffer{}), command.WithSubscriptionCap(2))
			}})
			sub := func(channel string) string {
				return h.interact(t, discordtest.InteractionSpec{Name: "subscribe", GuildID: guild, ChannelID: channel, Locale: tt.Discord,
					Permissions: discordgo.PermissionManageChannels, UserID: "700000000000000009"}).Text()
			}
			for i := 1; i <= 2; i++ {
				if got := sub(fmt.Sprintf("20000000000000000%d", i)); !strings.Contains(got, tt.Subscribed) {
					t.Fatalf("subscribe %d: %q", i, got)
				}
			}
			if got := sub("200000000000000003"); !strings.Contains(got, tt.Capped) {
				t.Errorf("third subscribe: %q, want the cap", got)
			}
			if n, err := st.SubscribedBy(t.Context(), Platform, "700000000000000009"); err != nil || n != 2 {
				t.Errorf("the person has %d subscriptions (%v), want 2", n, err)
			}
		})
	}
}

// blockingHandler holds every command until release is closed.
type blockingHandler struct {
	Handler
	release chan struct{}
	running atomic.Int32
	most    atomic.Int32
}

func (b *blockingHandler) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return b.Handler.Handle(ctx, cmd)
}

// Interactions beyond the handler pool are dropped with a warning instead of
// starting one goroutine each.
func TestInteractionsRunUnderABoundedPool(t *testing.T) {
	block := &blockingHandler{release: make(chan struct{})}
	h := startAdapter(t, harnessOpt{
		handler: func(s *command.Service) Handler { block.Handler = s; return block },
		setup:   func(a *Bot) { a.slots = make(chan struct{}, 2) },
	})
	var ids []string
	for range 5 {
		id, err := h.fake.Interact(discordtest.InteractionSpec{Name: "status", GuildID: guild, ChannelID: "200000000000000001"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	bottest.Eventually(t, "three interactions dropped", func() bool {
		return strings.Count(h.logs.String(), "too many events in progress") == 3
	})
	close(block.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids[:2] {
		if _, err := h.fake.WaitAnswered(ctx, id); err != nil {
			t.Errorf("interaction %s in the pool never answered: %v", id, err)
		}
	}
	if m := block.most.Load(); m > 2 {
		t.Errorf("%d commands handled at once, want at most 2", m)
	}
	// The pool is free again once the two handlers have returned their slots
	// (just after their answers reached Discord).
	bottest.Eventually(t, "the pool emptied", func() bool { return len(h.a.slots) == 0 })
	if in := h.interact(t, discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000001"}); !in.Answered() {
		t.Error("an interaction after the burst was not answered")
	}
}

// panickyGone panics when a channel is deleted.
type panickyGone struct{ Handler }

func (panickyGone) ChatGone(context.Context, bot.ChatRef) error { panic("boom") }

// A panic while handling one gateway event is logged, counted, and the
// adapter goes on serving.
func TestPanicInEventHandlerIsCountedAndSurvived(t *testing.T) {
	panics := adapterkit.NewPanics(nil, Platform)
	h := startAdapter(t, harnessOpt{
		handler: func(s *command.Service) Handler { return panickyGone{s} },
		setup:   func(a *Bot) { a.panics = panics },
	})
	if err := h.fake.ChannelDelete("200000000000000001", guild); err != nil {
		t.Fatal(err)
	}
	bottest.Eventually(t, "the panic counted", func() bool { return panics.Count() == 1 })
	if !strings.Contains(h.logs.String(), "panic in discord event handler") {
		t.Errorf("the panic was not logged:\n%s", h.logs)
	}
	if in := h.interact(t, discordtest.InteractionSpec{Name: "help", GuildID: guild, ChannelID: "200000000000000001"}); !in.Answered() {
		t.Error("no answer after the panic")
	}
}
