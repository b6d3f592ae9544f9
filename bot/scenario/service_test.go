package scenario_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/history"
)

func admin(is bool, err error) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return is, err }
}

func TestCommands(t *testing.T) {
	group := bot.ChatRef{Platform: tgPlatform, ID: "-5"}
	tests := []struct {
		name      string
		cmd       command.Command
		wantReply string // "" means the bot stays silent
		wantSubs  int
	}{
		{"private subscribes", command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "subscribe"}, "Subscribed", 1},
		{"group admin subscribes", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(true, nil)}, "Subscribed", 1},
		{"group member refused", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(false, nil)}, "only an admin", 0},
		{"admin check failing refuses", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "subscribe", IsAdmin: admin(true, errors.New("boom"))}, "went wrong", 0},
		{"server without permission refused", command.Command{Chat: bot.ChatRef{Platform: dcPlatform, ID: "c"}, Kind: "server", AdminOnly: true, Name: "subscribe"}, "only an admin", 0},
		{"channel subscribes", command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-100"}, Kind: "channel", Name: "subscribe"}, "Subscribed", 1},
		{"unsubscribe when not subscribed", command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "unsubscribe"}, "not subscribed", 0},
		{"unknown in private gets help", command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "frobnicate"}, "don't know that command", 0},
		{"unknown in group is ignored", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "frobnicate"}, "", 0},
		{"help", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "help"}, "/subscribe", 0},
		{"status before any round", command.Command{Chat: group, Kind: "group", AdminOnly: true, Name: "status"}, "No check has completed yet", 0},
		{"french", command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "subscribe", Lang: "fr"}, "Abonné", 1},
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
	e.subscribe(tgPlatform, "1")
	reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Kind: "private", Private: true, Name: "subscribe"})
	if !strings.Contains(reply.Title, "already subscribed") {
		t.Fatalf("reply %q", reply.Title)
	}
}

func TestStatusShowsStateComponentsAndIncident(t *testing.T) {
	e := newEnv(t)
	e.rounds(up, down, down)
	reply, ok := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: dcPlatform, ID: "c"}, Kind: "server", AdminOnly: true, Name: "status"})
	text := reply.PlainText()
	for _, want := range []string{"X is down", "down since", "Last check:", "web: timeout after 10s", "api: HTTP 503", "Ongoing incident since"} {
		if !ok || !strings.Contains(text, want) {
			t.Errorf("status %q lacks %q", text, want)
		}
	}
	e.rounds(up, up)
	reply, _ = e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: dcPlatform, ID: "c"}, Kind: "server", AdminOnly: true, Name: "status"})
	for _, want := range []string{"X is up", "web: 80 ms", "Last incident:"} {
		if !strings.Contains(reply.PlainText(), want) {
			t.Errorf("status %q lacks %q", reply.PlainText(), want)
		}
	}
}

func TestMembershipEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.subscribe(tgPlatform, "1", "2")
	if _, err := e.svc.Handle(ctx, command.Command{Chat: bot.ChatRef{Platform: dcPlatform, ID: "c1"}, Kind: "server", AdminOnly: true, Group: "g", Name: "subscribe", IsAdmin: admin(true, nil)}); !err {
		t.Fatal("no reply")
	}
	if err := e.svc.ChatGone(ctx, bot.ChatRef{Platform: tgPlatform, ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChatMigrated(ctx, bot.ChatRef{Platform: tgPlatform, ID: "2"}, bot.ChatRef{Platform: tgPlatform, ID: "-1002"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GroupGone(ctx, dcPlatform, "g"); err != nil {
		t.Fatal(err)
	}
	subs, _ := e.store.Subscriptions(ctx)
	if len(subs) != 1 || subs[0].Chat.ID != "-1002" {
		t.Fatalf("subscriptions %+v", subs)
	}
}

func (e *env) ask(name, lang string) string {
	e.t.Helper()
	reply, ok := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-5"}, Kind: "group", AdminOnly: true, Name: name, Lang: lang})
	if !ok {
		e.t.Fatalf("no answer to /%s", name)
	}
	return reply.PlainText()
}

func TestStatusShowsUptimeInBothLanguages(t *testing.T) {
	e := newEnv(t)
	if text := e.ask("status", "en"); !strings.Contains(text, "Uptime: 24 h no data, 7 days no data, 30 days no data.") {
		t.Errorf("status before any round %q", text)
	}
	e.outageAndRecovery() // 40 s up out of 70 s known, the rest of 30 days unknown
	for lang, want := range map[string][]string{
		"en": {"Uptime: 24 h 57.14 %, 7 days 57.14 %, 30 days 57.14 %.", "No data for 29d23h of the last 30 days: the bot was not running"},
		"fr": {"Disponibilité : 24 h 57,14 %, 7 jours 57,14 %, 30 jours 57,14 %.", "Pas de données pendant 29d23h sur les 30 derniers jours"},
	} {
		text := e.ask("status", lang)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s status %q lacks %q", lang, text, w)
			}
		}
	}
}

func TestStatusReadsThePublishedBoard(t *testing.T) {
	e := newEnv(t)
	pub := history.NewPublisher(e.store, e.mon, e.clock)
	e.svc = command.NewService(e.store, e.store, e.clock.Now, quiet(), command.WithBoard(pub.Board))
	e.rounds(up, up)
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.rounds(down, down, down) // not yet on the board
	if text := e.ask("status", "en"); !strings.Contains(text, "24 h 100.00 %") {
		t.Errorf("status %q: want the board's figures", text)
	}
	if text := e.ask("history", "en"); !strings.Contains(text, "No incident recorded yet.") {
		t.Errorf("history %q: want the board's (empty) list", text)
	}
	if err := pub.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if text := e.ask("history", "en"); !strings.Contains(text, "down, ongoing for") {
		t.Errorf("history after a refresh %q", text)
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	if text := e.ask("history", "en"); text != "No incident recorded yet." {
		t.Errorf("empty history %q", text)
	}
	if text := e.ask("history", "fr"); text != "Aucun incident enregistré pour l'instant." {
		t.Errorf("empty history in French %q", text)
	}
	e.outageAndRecovery()
	for lang, want := range map[string]string{
		"en": "Latest incidents, newest first\n• 2026-01-30 09:00:20 UTC: down for 30s — web (timeout after 10s), api (HTTP 503)",
		"fr": "Derniers incidents, du plus récent au plus ancien\n• 2026-01-30 09:00:20 UTC: en panne pendant 30s — web (timeout after 10s), api (HTTP 503)",
	} {
		if text := e.ask("history", lang); text != want {
			t.Errorf("%s history\n got %q\nwant %q", lang, text, want)
		}
	}
	// Eleven more incidents: only the ten latest are listed, newest first.
	for range 11 {
		e.rounds(down, down, up, up)
	}
	reply, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "1"}, Private: true, Name: "history"})
	if len(reply.Fields) != command.HistoryLimit {
		t.Fatalf("%d incidents listed, want %d", len(reply.Fields), command.HistoryLimit)
	}
	for k := 1; k < len(reply.Fields); k++ {
		if reply.Fields[k-1].Name <= reply.Fields[k].Name {
			t.Errorf("incident %d (%s) is not older than the one before (%s)", k, reply.Fields[k].Name, reply.Fields[k-1].Name)
		}
	}
}
