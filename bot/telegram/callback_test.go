package telegram

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// settingsButtons is what the stand-in for the settings service puts under
// its answers.
var settingsButtons = [][]bot.Button{
	{{Label: "Outages only", Data: "/alerts outages"}, {Label: "All alerts", Data: "/alerts all"}},
	{{Label: "Mute 2 h", Data: "/mute 2h"}, {Label: "Unmute", Data: "/unmute"}},
}

// recorder stands in for the service's settings side (not on this branch):
// it records every command and answers with the command and its argument,
// with buttons for /settings; a change in an AdminOnly chat asks IsAdmin
// and is refused without it, as the service does for /subscribe. Other
// commands and membership calls go to the real service.
type recorder struct {
	Handler
	mu   sync.Mutex
	cmds []command.Command
	// noButtons: answers to changes carry no buttons.
	noButtons bool
}

var settingsCommands = map[string]bool{"settings": true, "alerts": true, "mute": true, "unmute": true, "language": true, "remind": true}

func (r *recorder) Handle(ctx context.Context, cmd command.Command) (bot.Message, bool) {
	if !settingsCommands[cmd.Name] {
		return r.Handler.Handle(ctx, cmd)
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, cmd)
	r.mu.Unlock()
	if cmd.Name != "settings" && cmd.AdminOnly {
		admin := false
		if cmd.IsAdmin != nil {
			var err error
			if admin, err = cmd.IsAdmin(ctx); err != nil {
				admin = false
			}
		}
		if !admin {
			return bot.Message{Title: "Only an admin can change this chat's settings.", Private: true}, true
		}
	}
	m := bot.Message{Title: "Settings (" + cmd.Lang + ")", Lines: []string{cmd.Name + " <" + cmd.Args + ">"}, Buttons: settingsButtons}
	if cmd.Name != "settings" && r.noButtons {
		m.Buttons = nil
	}
	return m, true
}

func (r *recorder) commands() []command.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]command.Command(nil), r.cmds...)
}

// newSettingsHarness is a harness with the recorder in front of the real
// service, and a gate without pace so tests do not wait a second per answer.
func newSettingsHarness(t *testing.T, noButtons bool) (*harness, *recorder) {
	t.Helper()
	rec := &recorder{noButtons: noButtons}
	h := newHarnessWith(t, nil, func(s Handler) Handler { rec.Handler = s; return rec }, func() time.Time { return t0 }, func(a *Bot) {
		a.replier = delivery.NewGate(delivery.Policy{}, nil)
	})
	return h, rec
}

func TestParseCommandArgs(t *testing.T) {
	long := strings.Repeat("é", MaxArgs+10)
	tests := []struct {
		text, name, target, args string
		ok                       bool
	}{
		{"/mute 2h", "mute", "", "2h", true},
		{"/Mute@XStatusTestBot   30m  ", "mute", "XStatusTestBot", "30m", true},
		{"/alerts\toutages", "alerts", "", "outages", true},
		{"/remind off\nand a second line", "remind", "", "off", true},
		{"/settings", "settings", "", "", true},
		{"/language fr en", "language", "", "fr en", true},
		{"/mute " + long, "mute", "", string([]rune(long)[:MaxArgs-1]) + "…", true},
		{"mute 2h", "", "", "", false},
		{"/mu-te 2h", "", "", "", false},
	}
	for _, tc := range tests {
		name, target, args, ok := parseCommand(tc.text)
		if name != tc.name || target != tc.target || args != tc.args || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.text, name, target, args, ok, tc.name, tc.target, tc.args, tc.ok)
		}
		if n := len([]rune(args)); n > MaxArgs {
			t.Errorf("parseCommand(%q): %d runes of arguments, want at most %d", tc.text, n, MaxArgs)
		}
	}
}

// TestSettingsCommandsCarryArgs sends every settings command with its
// argument, in both languages, and checks what the handler got and that
// the answer's buttons became an inline keyboard.
func TestSettingsCommandsCarryArgs(t *testing.T) {
	h, rec := newSettingsHarness(t, false)
	tests := []struct {
		text, lang, name, args string
	}{
		{"/settings", "en", "settings", ""},
		{"/alerts outages", "fr", "alerts", "outages"},
		{"/alerts all", "en", "alerts", "all"},
		{"/mute 2h", "fr", "mute", "2h"},
		{"/mute@XStatusTestBot 30m", "en", "mute", "30m"},
		{"/unmute", "fr", "unmute", ""},
		{"/language fr", "en", "language", "fr"},
		{"/language en", "fr", "language", "en"},
		{"/remind 1h", "en", "remind", "1h"},
		{"/remind off", "fr", "remind", "off"},
	}
	var last int
	for k, tc := range tests {
		last = h.fake.Private(telegramtest.User{ID: int64(userID + k), LanguageCode: tc.lang}, tc.text)
	}
	h.handled(last)
	got := rec.commands()
	if len(got) != len(tests) {
		t.Fatalf("handler got %d commands, want %d: %+v", len(got), len(tests), got)
	}
	want := toFake(settingsButtons)
	for k, tc := range tests {
		c := got[k]
		if c.Name != tc.name || c.Args != tc.args || c.Lang != tc.lang || c.Chat.ID != strconv.Itoa(userID+k) || !c.Private || c.Kind != KindPrivate {
			t.Errorf("%q: command %+v, want name %q args %q lang %q in private chat %d", tc.text, c, tc.name, tc.args, tc.lang, userID+k)
		}
		sent := h.fake.SentTo(int64(userID + k))
		if len(sent) != 1 || !strings.Contains(sent[0].Plain, tc.name+" <"+tc.args+">") {
			t.Fatalf("%q: answers %+v", tc.text, sent)
		}
		if !reflect.DeepEqual(sent[0].Buttons, want) {
			t.Errorf("%q: keyboard %+v, want %+v", tc.text, sent[0].Buttons, want)
		}
	}
}

func toFake(rows [][]bot.Button) [][]telegramtest.Button {
	var out [][]telegramtest.Button
	for _, row := range rows {
		var r []telegramtest.Button
		for _, b := range row {
			r = append(r, telegramtest.Button{Text: b.Label, Data: b.Data})
		}
		out = append(out, r)
	}
	return out
}

func TestKeyboardLeavesOutButtonsTelegramWouldRefuse(t *testing.T) {
	rows := [][]bot.Button{
		{{Label: "ok", Data: "/alerts all"}, {Label: "too long", Data: "/" + strings.Repeat("x", MaxCallbackData)}},
		{{Label: " ", Data: "/unmute"}},
		{{Label: "exactly 64 bytes", Data: "/" + strings.Repeat("y", MaxCallbackData-1)}},
	}
	got := keyboard(rows)
	want := `{"inline_keyboard":[[{"text":"ok","callback_data":"/alerts all"}],[{"text":"exactly 64 bytes","callback_data":"/` + strings.Repeat("y", MaxCallbackData-1) + `"}]]}`
	if got != want {
		t.Errorf("keyboard =\n%s\nwant\n%s", got, want)
	}
	if keyboard(nil) != "" || keyboard([][]bot.Button{{{Label: "", Data: ""}}}) != "" {
		t.Error("no valid button should give no reply_markup")
	}
}

// pressOn sends /settings in a chat and returns the id of the answer the
// buttons are on.
func pressOn(t *testing.T, h *harness, push func() int, chat int64) int {
	t.Helper()
	h.handled(push())
	sent := h.fake.SentTo(chat)
	if len(sent) != 1 || len(sent[0].Buttons) == 0 {
		t.Fatalf("settings answer %+v, want one message with buttons", sent)
	}
	return sent[0].MessageID
}

// press pushes a press and waits until it is handled and its answers are out.
func press(t *testing.T, h *harness, p telegramtest.Press) telegramtest.CallbackAnswer {
	t.Helper()
	id, query := h.fake.PushCallback(p)
	h.handled(id)
	ans, err := h.fake.WaitCallbackAnswer(waitCtx(t), query)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, h.logs.String())
	}
	return ans
}

func TestInlineKeyboardRoundTrip(t *testing.T) {
	user := telegramtest.User{ID: userID, LanguageCode: "fr"}
	t.Run("answer with buttons replaces text and buttons", func(t *testing.T) {
		h, rec := newSettingsHarness(t, false)
		msgID := pressOn(t, h, func() int { return h.fake.Private(user, "/settings") }, userID)
		ans := press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts outages"})
		if ans.Text != "" {
			t.Errorf("a press that worked got the toast %q, want none", ans.Text)
		}
		edits := h.fake.Edits(userID)
		if len(edits) != 1 || edits[0].MessageID != msgID || !strings.Contains(edits[0].Plain, "alerts <outages>") ||
			!strings.Contains(edits[0].Plain, "Settings (fr)") || !reflect.DeepEqual(edits[0].Buttons, toFake(settingsButtons)) {
			t.Fatalf("edits %+v, want the settings message edited into the answer with its buttons", edits)
		}
		cmds := rec.commands()
		if c := cmds[len(cmds)-1]; c.Name != "alerts" || c.Args != "outages" || c.Lang != "fr" || !c.Private || c.Chat.ID != strconv.Itoa(userID) {
			t.Errorf("command from the press %+v", c)
		}
		if n := len(h.fake.SentTo(userID)); n != 1 {
			t.Errorf("%d messages sent, want only the settings one (the press edits it)", n)
		}
		// The same press again would not change the message: Telegram
		// answers "message is not modified", which is no failure.
		press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts outages"})
		if n := len(h.fake.Edits(userID)); n != 1 {
			t.Errorf("%d edits after an identical press, want still 1", n)
		}
		if strings.Contains(h.logs.String(), "could not answer") {
			t.Errorf("an unchanged message was logged as a failure:\n%s", h.logs.String())
		}
	})
	t.Run("answer without buttons keeps the message's", func(t *testing.T) {
		h, _ := newSettingsHarness(t, true)
		msgID := pressOn(t, h, func() int { return h.fake.Private(user, "/settings") }, userID)
		press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/mute 2h"})
		edits := h.fake.Edits(userID)
		if len(edits) != 1 || !strings.Contains(edits[0].Plain, "mute <2h>") || !reflect.DeepEqual(edits[0].Buttons, toFake(settingsButtons)) {
			t.Fatalf("edits %+v, want the answer with the message's buttons kept", edits)
		}
	})
}

func TestButtonPressAdminRule(t *testing.T) {
	member := telegramtest.User{ID: userID, LanguageCode: "en"}
	admin := telegramtest.User{ID: adminID, LanguageCode: "fr"}
	tests := []struct {
		name    string
		chat    int64
		open    func(h *harness) int // sends /settings
		presser telegramtest.User
		data    string
		// refused: a toast with this text, no edit; else the message is edited.
		refused string
	}{
		{"group member refused", groupID, func(h *harness) int { return h.fake.Group(groupID, admin, "/settings") }, member, "/mute 2h", "Only an admin"},
		{"group admin changes", groupID, func(h *harness) int { return h.fake.Group(groupID, admin, "/settings") }, admin, "/mute 2h", ""},
		{"channel reader refused", chanID, func(h *harness) int { return h.fake.ChannelPost(chanID, "/settings") }, member, "/remind 1h", "Only an admin"},
		{"channel admin changes", chanID, func(h *harness) int { return h.fake.ChannelPost(chanID, "/settings") }, admin, "/remind 1h", ""},
		// The real service: /subscribe from a button is checked like typed.
		{"subscribe button from a member refused by the service", groupID, func(h *harness) int { return h.fake.Group(groupID, admin, "/settings") }, member, "/subscribe", "only an admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, rec := newSettingsHarness(t, false)
			h.fake.SetMember(tc.chat, adminID, "administrator")
			msgID := pressOn(t, h, func() int { return tc.open(h) }, tc.chat)
			asked := h.fake.Stats().GetChatMember
			ans := press(t, h, telegramtest.Press{From: tc.presser, ChatID: tc.chat, MessageID: msgID, Data: tc.data})
			if h.fake.Stats().GetChatMember == asked {
				t.Error("the presser's membership was not checked")
			}
			edits := h.fake.Edits(tc.chat)
			if tc.refused != "" {
				if !strings.Contains(ans.Text, tc.refused) || len(edits) != 0 {
					t.Errorf("toast %q, edits %+v; want a refusal containing %q and no edit", ans.Text, edits, tc.refused)
				}
			} else if ans.Text != "" || len(edits) != 1 || !strings.Contains(edits[0].Plain, "Settings (fr)") {
				t.Errorf("toast %q, edits %+v; want the message edited in the admin's language", ans.Text, edits)
			}
			if len(h.fake.SentTo(tc.chat)) != 1 {
				t.Errorf("a press sent a new message: %+v", h.fake.SentTo(tc.chat))
			}
			if _, ok := h.subscribed()[strconv.FormatInt(tc.chat, 10)]; ok {
				t.Error("a refused /subscribe subscribed the chat")
			}
			if tc.data != "/subscribe" {
				cmds := rec.commands()
				if c := cmds[len(cmds)-1]; !c.AdminOnly || c.IsAdmin == nil || c.Private {
					t.Errorf("command from a press in a %s: %+v, want AdminOnly with IsAdmin", tc.name, c)
				}
			}
		})
	}
}

func TestMalformedButtonPresses(t *testing.T) {
	user := telegramtest.User{ID: userID, LanguageCode: "en"}
	tests := []struct {
		name string
		p    func(msgID int) telegramtest.Press
		want string
	}{
		{"data that is no command", func(id int) telegramtest.Press {
			return telegramtest.Press{From: user, ChatID: userID, MessageID: id, Data: "alerts=outages"}
		}, "I don't know that command"},
		{"command for another bot", func(id int) telegramtest.Press {
			return telegramtest.Press{From: user, ChatID: userID, MessageID: id, Data: "/alerts@OtherBot outages"}
		}, "I don't know that command"},
		{"message too old to show", func(id int) telegramtest.Press {
			return telegramtest.Press{From: user, ChatID: userID, MessageID: id, Data: "/alerts outages", Old: true}
		}, "no longer works"},
		{"a copy forwarded to another chat", func(id int) telegramtest.Press {
			return telegramtest.Press{From: user, ChatID: userID, MessageID: id, Data: "/alerts outages", Forwarded: true}
		}, "no longer works"},
		{"inline message", func(id int) telegramtest.Press {
			return telegramtest.Press{From: user, ChatID: userID, MessageID: id, Data: "/alerts outages", Inline: true}
		}, "no longer works"},
		{"French presser", func(id int) telegramtest.Press {
			return telegramtest.Press{From: telegramtest.User{ID: userID, LanguageCode: "fr"}, ChatID: userID, MessageID: id, Data: "/mute 2h", Old: true}
		}, "n'est plus valable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, rec := newSettingsHarness(t, false)
			msgID := pressOn(t, h, func() int { return h.fake.Private(user, "/settings") }, userID)
			before := len(rec.commands())
			ans := press(t, h, tc.p(msgID))
			if !strings.Contains(ans.Text, tc.want) {
				t.Errorf("toast %q, want %q", ans.Text, tc.want)
			}
			if n := len(rec.commands()) - before; n != 0 {
				t.Errorf("the handler got %d commands from a malformed press", n)
			}
			if e := h.fake.Edits(userID); len(e) != 0 {
				t.Errorf("edits %+v, want none", e)
			}
		})
	}
}

// TestButtonFaultsNeverLogToken: answerCallbackQuery and editMessageText
// failing (a proxy's HTML 502, a 500) are logged without the token, and a
// failed edit is retried within the reply window.
func TestButtonFaultsNeverLogToken(t *testing.T) {
	h, _ := newSettingsHarness(t, false)
	user := telegramtest.User{ID: userID}
	msgID := pressOn(t, h, func() int { return h.fake.Private(user, "/settings") }, userID)
	h.fake.FailNext("answerCallbackQuery", telegramtest.NonJSON(502))
	h.fake.FailNext("editMessageText", telegramtest.ServerError(500))
	id, _ := h.fake.PushCallback(telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts all"})
	h.handled(id)
	if !h.logs.waitCount(waitCtx(t), "could not answer a button press", 1) {
		t.Fatalf("the failed answer was not logged:\n%s", h.logs.String())
	}
	if e := h.fake.Edits(userID); len(e) != 1 {
		t.Errorf("edits %+v, want the edit retried once after the 500", e)
	}
	bottest.AssertNoSecret(t, h.fake.Token, h.logs.String())
}

// TestSettingsThroughTheRealService: the whole loop with command.Service and
// SQLite, no stand-in: /subscribe, /settings answers with buttons, a press
// changes the stored setting and edits the message in place, a typed
// command with a bad value changes nothing.
func TestSettingsThroughTheRealService(t *testing.T) {
	h := newHarness(t, nil, nil)
	user := telegramtest.User{ID: userID}
	chat := bot.ChatRef{Platform: Platform, ID: strconv.Itoa(userID)}
	h.handled(h.fake.Private(user, "/subscribe"))
	h.handled(h.fake.Private(user, "/settings"))
	sent := h.fake.SentTo(userID)
	if len(sent) != 2 || len(sent[1].Buttons) == 0 {
		t.Fatalf("answers %+v, want the subscription's and the settings with buttons", sent)
	}
	msgID := sent[1].MessageID
	press(t, h, telegramtest.Press{From: user, ChatID: userID, MessageID: msgID, Data: "/alerts outages"})
	cs, ok, err := h.store.Settings(context.Background(), chat)
	if err != nil || !ok || cs.Level != bot.AlertsOutages {
		t.Fatalf("settings after the press: %+v %v %v, want level outages", cs, ok, err)
	}
	if edits := h.fake.Edits(userID); len(edits) != 1 || edits[0].MessageID != msgID {
		t.Fatalf("edits %+v, want the settings message edited once", edits)
	}
	h.handled(h.fake.Private(user, "/mute banana"))
	if cs2, _, _ := h.store.Settings(context.Background(), chat); !cs2.MutedUntil.IsZero() {
		t.Fatalf("/mute banana muted the chat until %s", cs2.MutedUntil)
	}
	h.handled(h.fake.Private(user, "/mute 2h"))
	if cs3, _, _ := h.store.Settings(context.Background(), chat); cs3.MutedUntil.IsZero() {
		t.Fatal("/mute 2h did not mute the chat")
	}
}
