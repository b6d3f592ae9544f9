package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
)

func admin(is bool, err error) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return is, err }
}

func TestCommands(t *testing.T) {
	group := bot.ChatRef{Platform: bot.Telegram, ID: "-5"}
	tests := []struct {
		name      string
		cmd       bot.Command
		wantReply string // "" means the bot stays silent
		wantSubs  int
	}{
		{"private subscribes", bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "1"}, Kind: "private", Private: true, Name: "subscribe"}, "Subscribed", 1},
		{"group admin subscribes", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(true, nil)}, "Subscribed", 1},
		{"group member refused", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(false, nil)}, "only an admin", 0},
		{"admin check failing refuses", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(true, errors.New("boom"))}, "went wrong", 0},
		{"server without permission refused", bot.Command{Chat: bot.ChatRef{Platform: bot.Discord, ID: "c"}, Kind: "server", AdminOnly: true, Name: "subscribe"}, "only an admin", 0},
		{"channel subscribes", bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "-100"}, Kind: "channel", Name: "subscribe"}, "Subscribed", 1},
		{"unsubscribe when not subscribed", bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "1"}, Kind: "private", Private: true, Name: "unsubscribe"}, "not subscribed", 0},
		{"unknown in private gets help", bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "1"}, Kind: "private", Private: true, Name: "frobnicate"}, "don't know that command", 0},
		{"unknown in group is ignored", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "frobnicate"}, "", 0},
		{"help", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "help"}, "/subscribe", 0},
		{"status before any round", bot.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "status"}, "No check has completed yet", 0},
		{"french", bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "1"}, Kind: "private", Private: true, Name: "subscribe", Lang: "fr"}, "Abonné", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			reply, ok := e.svc.Handle(context.Background(), tt.cmd)
			if ok != (tt.wantReply != "") {
				t.Fatalf("reply %v %q, want reply %q", ok, reply.Title, tt.wantReply)
			}
			if !strings.Contains(reply.PlainText(), tt.wantReply) {
				t.Errorf("reply %q lacks %q", reply.PlainText(), tt.wantReply)
			}
			subs, _ := e.store.Subscriptions(context.Background())
			if len(subs) != tt.wantSubs {
				t.Errorf("%d subscriptions, want %d", len(subs), tt.wantSubs)
			}
		})
	}
}

func TestSubscribeTwiceSaysSo(t *testing.T) {
	e := newEnv(t)
	e.subscribe(bot.Telegram, "1")
	reply, _ := e.svc.Handle(context.Background(), bot.Command{Chat: bot.ChatRef{Platform: bot.Telegram, ID: "1"}, Kind: "private", Private: true, Name: "subscribe"})
	if !strings.Contains(reply.Title, "already subscribed") {
		t.Fatalf("reply %q", reply.Title)
	}
}

func TestStatusShowsStateComponentsAndIncident(t *testing.T) {
	e := newEnv(t)
	e.rounds(up, down, down)
	reply, ok := e.svc.Handle(context.Background(), bot.Command{Chat: bot.ChatRef{Platform: bot.Discord, ID: "c"}, Kind: "server", AdminOnly: true, Name: "status"})
	text := reply.PlainText()
	for _, want := range []string{"X is down", "down since", "Last check:", "web: timeout after 10s", "api: HTTP 503", "Ongoing incident since"} {
		if !ok || !strings.Contains(text, want) {
			t.Errorf("status %q lacks %q", text, want)
		}
	}
	e.rounds(up, up)
	reply, _ = e.svc.Handle(context.Background(), bot.Command{Chat: bot.ChatRef{Platform: bot.Discord, ID: "c"}, Kind: "server", AdminOnly: true, Name: "status"})
	for _, want := range []string{"X is up", "web: 80 ms", "Last incident:"} {
		if !strings.Contains(reply.PlainText(), want) {
			t.Errorf("status %q lacks %q", reply.PlainText(), want)
		}
	}
}

func TestMembershipEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.subscribe(bot.Telegram, "1", "2")
	if _, err := e.svc.Handle(ctx, bot.Command{Chat: bot.ChatRef{Platform: bot.Discord, ID: "c1"}, Kind: "server", AdminOnly: true, Group: "g", Name: "subscribe", IsAdmin: admin(true, nil)}); !err {
		t.Fatal("no reply")
	}
	if err := e.svc.ChatGone(ctx, bot.ChatRef{Platform: bot.Telegram, ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChatMigrated(ctx, bot.ChatRef{Platform: bot.Telegram, ID: "2"}, bot.ChatRef{Platform: bot.Telegram, ID: "-1002"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GroupGone(ctx, bot.Discord, "g"); err != nil {
		t.Fatal(err)
	}
	subs, _ := e.store.Subscriptions(ctx)
	if len(subs) != 1 || subs[0].Chat.ID != "-1002" {
		t.Fatalf("subscriptions %+v", subs)
	}
}
