package telegram

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

const (
	userID  = 1001
	adminID = 2002
	groupID = -1001234567890
	chanID  = -1009876543210
)

func TestCommands(t *testing.T) {
	user := telegramtest.User{ID: userID, FirstName: "Ann", LanguageCode: "en"}
	admin := telegramtest.User{ID: adminID, FirstName: "Bob"}
	tests := []struct {
		name  string
		setup func(f *telegramtest.Server)
		push  func(f *telegramtest.Server) int
		// chat the reply (if any) goes to; wantReply "" means no message at all.
		chat      int64
		wantReply string
		// wantSub is the kind of the subscription chat must have afterwards ("" for none).
		wantSub     bot.ChatKind
		wantReplyTo bool
		wantMember  bool // getChatMember was asked
	}{
		{
			name:      "private user subscribes",
			push:      func(f *telegramtest.Server) int { return f.Private(user, "/subscribe") },
			chat:      userID,
			wantReply: "Subscribed",
			wantSub:   KindPrivate,
		},
		{
			name:      "private /start gets help",
			push:      func(f *telegramtest.Server) int { return f.Private(user, "/start") },
			chat:      userID,
			wantReply: "I watch X",
		},
		{
			name: "language from language_code",
			push: func(f *telegramtest.Server) int {
				return f.Private(telegramtest.User{ID: userID, LanguageCode: "fr"}, "/subscribe")
			},
			chat:      userID,
			wantReply: "Abonné",
			wantSub:   KindPrivate,
		},
		{
			name:        "group admin subscribes",
			setup:       func(f *telegramtest.Server) { f.SetMember(groupID, adminID, "administrator") },
			push:        func(f *telegramtest.Server) int { return f.Group(groupID, admin, "/subscribe@XStatusTestBot") },
			chat:        groupID,
			wantReply:   "Subscribed",
			wantSub:     KindGroup,
			wantReplyTo: true,
			wantMember:  true,
		},
		{
			name:        "group creator subscribes",
			setup:       func(f *telegramtest.Server) { f.SetMember(groupID, adminID, "creator") },
			push:        func(f *telegramtest.Server) int { return f.Group(groupID, admin, "/subscribe") },
			chat:        groupID,
			wantReply:   "Subscribed",
			wantSub:     KindGroup,
			wantReplyTo: true,
			wantMember:  true,
		},
		{
			name:        "group member refused",
			push:        func(f *telegramtest.Server) int { return f.Group(groupID, user, "/subscribe") },
			chat:        groupID,
			wantReply:   "only an admin",
			wantReplyTo: true,
			wantMember:  true,
		},
		{
			name:        "anonymous admin accepted without asking Telegram",
			push:        func(f *telegramtest.Server) int { return f.AnonymousAdmin(groupID, "/subscribe") },
			chat:        groupID,
			wantReply:   "Subscribed",
			wantSub:     KindGroup,
			wantReplyTo: true,
		},
		{
			name: "linked channel posting in the group is not an admin",
			push: func(f *telegramtest.Server) int {
				return f.Push(telegramtest.Msg{
					Chat:       telegramtest.Chat{ID: groupID, Type: "supergroup"},
					SenderChat: &telegramtest.Chat{ID: chanID, Type: "channel"},
					From:       &telegramtest.User{ID: 777000, FirstName: "Telegram"},
					Text:       "/subscribe",
				})
			},
			chat:        groupID,
			wantReply:   "only an admin",
			wantReplyTo: true,
		},
		{
			name:      "channel post subscribes the channel",
			push:      func(f *telegramtest.Server) int { return f.ChannelPost(chanID, "/subscribe") },
			chat:      chanID,
			wantReply: "Subscribed",
			wantSub:   KindChannel,
		},
		{
			name: "command for another bot ignored",
			push: func(f *telegramtest.Server) int { return f.Group(groupID, user, "/status@OtherBot") },
			chat: groupID,
		},
		{
			name: "subscribe for another bot ignored even from an admin",
			setup: func(f *telegramtest.Server) {
				f.SetMember(groupID, adminID, "administrator")
			},
			push: func(f *telegramtest.Server) int { return f.Group(groupID, admin, "/subscribe@OtherBot") },
			chat: groupID,
		},
		{
			name:        "bot name matched case-insensitively",
			push:        func(f *telegramtest.Server) int { return f.Group(groupID, user, "/STATUS@xstatustestbot now") },
			chat:        groupID,
			wantReply:   "X is",
			wantReplyTo: true,
		},
		{
			name:      "unknown command in private gets help",
			push:      func(f *telegramtest.Server) int { return f.Private(user, "/frobnicate") },
			chat:      userID,
			wantReply: "I don't know that command",
		},
		{
			name: "unknown command in group ignored",
			push: func(f *telegramtest.Server) int { return f.Group(groupID, user, "/frobnicate") },
			chat: groupID,
		},
		{
			name: "plain text in group ignored",
			push: func(f *telegramtest.Server) int { return f.Group(groupID, user, "is X down?") },
			chat: groupID,
		},
		{
			name: "malformed command ignored",
			push: func(f *telegramtest.Server) int { return f.Private(user, "/<b>&") },
			chat: userID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			if tc.setup != nil {
				tc.setup(h.fake)
			}
			id := tc.push(h.fake)
			h.handled(id)
			got := h.fake.SentTo(tc.chat)
			if tc.wantReply == "" {
				if len(got) != 0 {
					t.Fatalf("want no reply, got %+v", got)
				}
			} else {
				if len(got) != 1 || !strings.Contains(got[0].Plain, tc.wantReply) {
					t.Fatalf("want one reply containing %q, got %+v", tc.wantReply, got)
				}
				if got[0].ParseMode != "HTML" {
					t.Errorf("parse mode %q, want HTML", got[0].ParseMode)
				}
				if tc.wantReplyTo && (got[0].ReplyTo == 0 || !got[0].AllowWithoutReply) {
					t.Errorf("group answer should reply to the command: %+v", got[0])
				}
				if !tc.wantReplyTo && got[0].ReplyTo != 0 {
					t.Errorf("answer should not be a reply: %+v", got[0])
				}
			}
			if others := len(h.fake.Sent()) - len(got); others != 0 {
				t.Errorf("%d messages went to other chats", others)
			}
			subs := h.subscribed()
			ref := strconv.FormatInt(tc.chat, 10)
			if s, ok := subs[ref]; ok != (tc.wantSub != "") || (ok && s.Kind != tc.wantSub) {
				t.Errorf("subscriptions %+v, want chat %s kind %q", subs, ref, tc.wantSub)
			}
			if len(subs) > 1 {
				t.Errorf("more than one subscription: %+v", subs)
			}
			if asked := h.fake.Stats().GetChatMember > 0; asked != tc.wantMember {
				t.Errorf("getChatMember asked: %v, want %v", asked, tc.wantMember)
			}
		})
	}
}

func TestSubscribeTwiceThenUnsubscribe(t *testing.T) {
	h := newHarness(t, nil, nil)
	user := telegramtest.User{ID: userID}
	var last int
	for _, text := range []string{"/subscribe", "/subscribe", "/unsubscribe", "/unsubscribe"} {
		last = h.fake.Private(user, text)
	}
	h.handled(last)
	got := h.fake.SentTo(userID)
	want := []string{"Subscribed", "already subscribed", "Unsubscribed", "not subscribed"}
	if len(got) != len(want) {
		t.Fatalf("got %d replies, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !strings.Contains(got[i].Plain, want[i]) {
			t.Errorf("reply %d = %q, want %q", i, got[i].Text, want[i])
		}
	}
	if subs := h.subscribed(); len(subs) != 0 {
		t.Errorf("still subscribed: %+v", subs)
	}
}

func TestStatusAnswers(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/status"))
	got := h.fake.SentTo(userID)
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "<b>X is not known yet</b>") {
		t.Fatalf("status reply: %+v", got)
	}
}

func TestMembershipUpdates(t *testing.T) {
	tests := []struct {
		name   string
		chat   int64
		status string
		gone   bool
	}{
		{"kicked from group", groupID, "kicked", true},
		{"left group", groupID, "left", true},
		{"blocked in private", userID, "kicked", true},
		{"promoted to admin", groupID, "administrator", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gone atomic.Int32
			h := newHarness(t, nil, func(s Handler) Handler {
				return &spyHandler{Handler: s, gone: func(bot.ChatRef) { gone.Add(1) }}
			})
			ref := bot.ChatRef{Platform: Platform, ID: strconv.FormatInt(tc.chat, 10)}
			if _, err := h.store.Subscribe(context.Background(), bot.Subscription{Chat: ref, Kind: KindGroup, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			h.handled(h.fake.RemoveBot(tc.chat, tc.status))
			_, still := h.subscribed()[ref.ID]
			if still == tc.gone || (gone.Load() == 1) != tc.gone {
				t.Errorf("subscribed afterwards %v, ChatGone calls %d; want gone=%v", still, gone.Load(), tc.gone)
			}
		})
	}
}

func TestMigrationKeepsSubscription(t *testing.T) {
	const oldID, newID = -4242, -1004242
	var calls atomic.Int32
	h := newHarness(t, nil, func(s Handler) Handler {
		return &spyHandler{Handler: s, migrated: func(from, to bot.ChatRef) {
			if from.ID == strconv.Itoa(oldID) && to.ID == strconv.Itoa(newID) {
				calls.Add(1)
			}
		}}
	})
	ref := bot.ChatRef{Platform: Platform, ID: strconv.Itoa(oldID)}
	if _, err := h.store.Subscribe(context.Background(), bot.Subscription{Chat: ref, Kind: KindGroup, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	_, second := h.fake.Migrate(oldID, newID)
	h.handled(second)
	subs := h.subscribed()
	if _, ok := subs[strconv.Itoa(newID)]; !ok || len(subs) != 1 || calls.Load() != 1 {
		t.Errorf("after migration: subscriptions %+v, ChatMigrated calls %d", subs, calls.Load())
	}
}

// spyHandler observes membership calls and can fail ChatGone a few times.
type spyHandler struct {
	Handler
	gone     func(bot.ChatRef)
	migrated func(from, to bot.ChatRef)
	failGone atomic.Int32
}

func (s *spyHandler) ChatGone(ctx context.Context, chat bot.ChatRef) error {
	if s.gone != nil {
		s.gone(chat)
	}
	if s.failGone.Add(-1) >= 0 {
		return errors.New("store unavailable")
	}
	return s.Handler.ChatGone(ctx, chat)
}

func (s *spyHandler) ChatMigrated(ctx context.Context, from, to bot.ChatRef) error {
	if s.migrated != nil {
		s.migrated(from, to)
	}
	return s.Handler.ChatMigrated(ctx, from, to)
}

func TestFailedUpdateIsRetriedBeforeLaterOnes(t *testing.T) {
	var calls atomic.Int32
	spy := &spyHandler{gone: func(bot.ChatRef) { calls.Add(1) }}
	spy.failGone.Store(1)
	h := newHarness(t, nil, func(s Handler) Handler {
		spy.Handler = s
		return spy
	})
	ref := bot.ChatRef{Platform: Platform, ID: strconv.Itoa(groupID)}
	if _, err := h.store.Subscribe(context.Background(), bot.Subscription{Chat: ref, Kind: KindGroup, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	h.fake.RemoveBot(groupID, "kicked")
	after := h.fake.Private(telegramtest.User{ID: userID}, "/help")
	h.handled(after)
	if calls.Load() != 2 {
		t.Errorf("ChatGone called %d times, want 2 (one failure, one retry)", calls.Load())
	}
	if _, still := h.subscribed()[ref.ID]; still {
		t.Error("subscription survived the retried kick")
	}
}

func TestPoisonUpdateSkipped(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.PushRaw("message", `"message":{"message_id":"not a number","chat":"nope"}`)
	id := h.fake.Private(telegramtest.User{ID: userID}, "/subscribe")
	h.handled(id)
	if _, ok := h.subscribed()[strconv.Itoa(userID)]; !ok {
		t.Fatal("the update after a malformed one was not handled")
	}
	if !strings.Contains(h.logs.String(), "does not decode") {
		t.Errorf("skipped update not logged:\n%s", h.logs.String())
	}
}

func TestPollingParametersAndMenu(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/help"))
	p := h.fake.LastPoll()
	if want := []string{"message", "channel_post", "my_chat_member", "callback_query"}; !reflect.DeepEqual(p.AllowedUpdates, want) {
		t.Errorf("allowed_updates %v, want %v", p.AllowedUpdates, want)
	}
	if p.Timeout != 1 {
		t.Errorf("poll timeout %d, want 1", p.Timeout)
	}
	var names []string
	for _, c := range h.fake.Commands("") {
		names = append(names, c.Command)
	}
	if !reflect.DeepEqual(names, command.Names) {
		t.Errorf("menu %v, want %v", names, command.Names)
	}
	if fr := h.fake.Commands("fr"); len(fr) != len(command.Names) || fr[0].Description != text.CommandDescription("fr", fr[0].Command) {
		t.Errorf("French menu %+v", fr)
	}
}

func TestForumTopicReplyStaysInTopic(t *testing.T) {
	h := newHarness(t, nil, nil)
	id := h.fake.Push(telegramtest.Msg{
		Chat: telegramtest.Chat{ID: groupID, Type: "supergroup"}, From: &telegramtest.User{ID: userID},
		Text: "/status", ThreadID: 77,
	})
	h.handled(id)
	got := h.fake.SentTo(groupID)
	if len(got) != 1 || got[0].ThreadID != 77 {
		t.Fatalf("reply %+v, want it in thread 77", got)
	}
}

func TestConflictReportedAndPollingResumes(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.FailNext("getUpdates", telegramtest.Conflict(), telegramtest.ServerError(502), telegramtest.NonJSON(502))
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/subscribe"))
	logs := h.logs.String()
	if !strings.Contains(logs, "another process is polling with this bot token") || !strings.Contains(logs, "deleteWebhook") {
		t.Errorf("409 not reported clearly:\n%s", logs)
	}
	if strings.Count(logs, "getUpdates failed; retrying") != 2 {
		t.Errorf("want two logged poll failures:\n%s", logs)
	}
}

func TestUpdateFailingForeverIsSkipped(t *testing.T) {
	var calls atomic.Int32
	spy := &spyHandler{gone: func(bot.ChatRef) { calls.Add(1) }}
	spy.failGone.Store(1000)
	h := newHarness(t, nil, func(s Handler) Handler {
		spy.Handler = s
		return spy
	})
	h.fake.RemoveBot(groupID, "kicked")
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/subscribe"))
	if calls.Load() != int32(h.a.handleTries) {
		t.Errorf("ChatGone tried %d times, want %d", calls.Load(), h.a.handleTries)
	}
	if _, ok := h.subscribed()[strconv.Itoa(userID)]; !ok {
		t.Error("the update after the failing one was not handled")
	}
	if !strings.Contains(h.logs.String(), "keeps failing; skipping it") {
		t.Errorf("skip not logged:\n%s", h.logs.String())
	}
}

func TestHistoryAndUptimeAnswers(t *testing.T) {
	h := newHarness(t, nil, nil)
	// One user per question: Telegram's per-chat pace would otherwise space the answers a second apart.
	user := int64(userID)
	ask := func(lang, cmd string) string {
		user++
		h.handled(h.fake.Private(telegramtest.User{ID: user, LanguageCode: lang}, cmd))
		got := h.fake.SentTo(user)
		if len(got) != 1 {
			t.Fatalf("%d answers to %s", len(got), cmd)
		}
		return got[0].Text
	}
	if got := ask("en", "/history"); got != "<b>No incident recorded yet.</b>" {
		t.Errorf("empty history %q", got)
	}
	if got := ask("fr", "/history"); got != "<b>Aucun incident enregistré pour l&#39;instant.</b>" {
		t.Errorf("empty history in French %q", got)
	}

	adaptertest.RecordOutage(t, h.store, t0, "HTTP 503 <html>")
	// 30 s up and 30 s down recorded; the bot has not run since (-9m00s to now is a gap).
	for _, tc := range []struct {
		lang, cmd string
		want      []string
	}{
		{"en", "/history", []string{"<b>Latest incidents, newest first</b>", "• <b>2026-11-30 08:50:20 UTC</b>: down for 30s — api (HTTP 503 &lt;html&gt;)"}},
		{"fr", "/history", []string{"<b>Derniers incidents, du plus récent au plus ancien</b>", "• <b>2026-11-30 08:50:20 UTC</b>: en panne pendant 30s — api (HTTP 503 &lt;html&gt;)"}},
		{"en", "/status", []string{"<b>X is up</b>", "Uptime: 24 h 50.00 %, 7 days 50.00 %, 30 days 50.00 %.", "No data for 29d23h of the last 30 days"}},
		{"fr", "/status", []string{"<b>X est en ligne</b>", "Disponibilité : 24 h 50,00 %, 7 jours 50,00 %, 30 jours 50,00 %.", "Pas de données pendant 29d23h sur les 30 derniers jours"}},
	} {
		got := ask(tc.lang, tc.cmd)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %s answer %q lacks %q", tc.lang, tc.cmd, got, w)
			}
		}
	}
}
