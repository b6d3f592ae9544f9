package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

func TestSendErrorClasses(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	tests := []struct {
		name       string
		channel    string
		fail       *discordtest.Failure
		wantClass  bot.ErrorClass
		wantOK     bool
		retryAfter time.Duration
		global     bool
		attempts   int
	}{
		{name: "sent", channel: "300000000000000001", wantOK: true, attempts: 1},
		{name: "429 per route", channel: "300000000000000002", fail: ptr(discordtest.RateLimited(250*time.Millisecond, false)), wantClass: bot.RateLimited, retryAfter: 250 * time.Millisecond, attempts: 1},
		{name: "429 global", channel: "300000000000000003", fail: ptr(discordtest.RateLimited(150*time.Millisecond, true)), wantClass: bot.RateLimited, retryAfter: 150 * time.Millisecond, global: true, attempts: 1},
		{name: "50001 missing access", channel: "300000000000000004", fail: ptr(discordtest.MissingAccess()), wantClass: bot.Permanent, attempts: 1},
		{name: "10003 unknown channel", channel: "300000000000000005", fail: ptr(discordtest.UnknownChannel()), wantClass: bot.Permanent, attempts: 1},
		{name: "50013 missing permissions", channel: "300000000000000006", fail: ptr(discordtest.MissingPermissions()), wantClass: bot.NoRights, attempts: 1},
		{name: "500", channel: "300000000000000007", fail: ptr(discordtest.ServerError()), wantClass: bot.Unavailable, attempts: 1},
		{name: "502 not retried inside discordgo", channel: "300000000000000008", fail: &discordtest.Failure{Status: http.StatusBadGateway, Message: "bad gateway"}, wantClass: bot.Unavailable, attempts: 1},
		{name: "503 html", channel: "300000000000000011", fail: ptr(discordtest.HTMLError(http.StatusServiceUnavailable)), wantClass: bot.Unavailable, attempts: 1},
		{name: "502 html", channel: "300000000000000012", fail: ptr(discordtest.HTMLError(http.StatusBadGateway)), wantClass: bot.Unavailable, attempts: 1},
		{name: "50007 cannot message user", channel: "300000000000000013", fail: &discordtest.Failure{Status: http.StatusForbidden, Code: 50007, Message: "Cannot send messages to this user"}, wantClass: bot.Permanent, attempts: 1},
		{name: "403 without code", channel: "300000000000000014", fail: &discordtest.Failure{Status: http.StatusForbidden, Message: "403: Forbidden"}, wantClass: bot.Permanent, attempts: 1},
		{name: "404 without code", channel: "300000000000000009", fail: &discordtest.Failure{Status: http.StatusNotFound, Message: "404: Not Found"}, wantClass: bot.Permanent, attempts: 1},
		{name: "403 html from a proxy", channel: "300000000000000016", fail: ptr(discordtest.HTMLError(http.StatusForbidden)), wantClass: bot.Unavailable, attempts: 1},
		{name: "404 html from a proxy", channel: "300000000000000017", fail: ptr(discordtest.HTMLError(http.StatusNotFound)), wantClass: bot.Unavailable, attempts: 1},
		{name: "400 invalid form body", channel: "300000000000000010", fail: &discordtest.Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body"}, wantClass: bot.Retryable, attempts: 1},
		{name: "not a channel id", channel: "general", wantClass: bot.Permanent, attempts: 0},
		// Last: it pauses every later send for 3 s.
		{name: "429 html with retry-after is global", channel: "300000000000000015", fail: ptr(discordtest.Cloudflare429(3 * time.Second)), wantClass: bot.RateLimited, retryAfter: 3 * time.Second, global: true, attempts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != nil {
				h.fake.FailChannel(tc.channel, *tc.fail, 1)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			id, err := h.a.Send(ctx, tc.channel, bot.Message{Severity: bot.SeverityDown, Title: "X is down"})
			took := time.Since(start)
			if got := h.fake.Attempts(tc.channel); got != tc.attempts {
				t.Errorf("%d requests to the channel, want %d", got, tc.attempts)
			}
			if tc.wantOK {
				if err != nil || id == "" {
					t.Fatalf("Send = %q, %v; want an id", id, err)
				}
				return
			}
			var se *bot.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error %v (%T), want *bot.SendError", err, err)
			}
			if se.Class != tc.wantClass {
				t.Errorf("class %v, want %v (err %v)", se.Class, tc.wantClass, err)
			}
			if se.RetryAfter != tc.retryAfter || se.Global != tc.global {
				t.Errorf("retry after %v global %v, want %v %v", se.RetryAfter, se.Global, tc.retryAfter, tc.global)
			}
			if tc.retryAfter > 0 && took >= tc.retryAfter {
				t.Errorf("Send took %v: it waited for the rate limit instead of returning", took)
			}
			if !strings.Contains(err.Error(), tc.channel) {
				t.Errorf("error %q does not name the channel", err)
			}
			if strings.Contains(err.Error(), h.fake.Token) {
				t.Error("token in error")
			}
		})
	}
}

func TestSendBeforeRun(t *testing.T) {
	a := NewBot(Options{Token: "t", APIURL: "http://127.0.0.1:1/"}, nil)
	_, err := a.Send(context.Background(), "300000000000000001", bot.Message{Title: "x"})
	if se := bot.ClassOf(err); se.Class != bot.Unavailable || !errors.Is(err, errNotReady) {
		t.Errorf("Send before Run = %v, want Unavailable not-ready", err)
	}
	if st := a.State(); st != bot.PlatformConnecting {
		t.Errorf("state %q, want connecting", st)
	}
}

func TestSendEmbeds(t *testing.T) {
	h := startAdapter(t, harnessOpt{})
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 5000)
	many := make([]bot.Field, 40)
	for k := range many {
		many[k] = bot.Field{Name: fmt.Sprintf("component %d %s", k, long[:600]), Value: long}
	}
	tests := []struct {
		name    string
		msg     bot.Message
		color   int
		reply   bool
		silent  bool
		checkFn func(t *testing.T, e discordtest.Embed)
	}{
		{name: "down", msg: bot.Message{Severity: bot.SeverityDown, Title: "🔴 X is down", Lines: []string{"Since 12:00"}, Fields: []bot.Field{{Name: "x.com", Value: "HTTP 503"}}, Time: at}, color: adapterkit.DiscordColorDown,
			checkFn: func(t *testing.T, e discordtest.Embed) {
				if e.Title != "🔴 X is down" || e.Description != "Since 12:00" || len(e.Fields) != 1 || e.Fields[0].Value != "HTTP 503" {
					t.Errorf("embed %+v", e)
				}
				if e.Timestamp != "2025-03-01T12:00:00Z" {
					t.Errorf("timestamp %q", e.Timestamp)
				}
			}},
		{name: "degraded is silent", msg: bot.Message{Severity: bot.SeverityDegraded, Title: "🟠", Silent: true}, color: adapterkit.DiscordColorDegraded, silent: true},
		{name: "up replies", msg: bot.Message{Severity: bot.SeverityUp, Title: "🟢 X is back up", ReplyTo: "999"}, color: adapterkit.DiscordColorUp, reply: true},
		{name: "info", msg: bot.Message{Severity: bot.SeverityInfo, Title: "hello"}, color: adapterkit.DiscordColorInfo},
		{name: "limits", msg: bot.Message{Severity: bot.SeverityDown, Title: long, Lines: []string{long, long}, Fields: many, Time: at}, color: adapterkit.DiscordColorDown,
			checkFn: func(t *testing.T, e discordtest.Embed) {
				if runes(e.Title) != adapterkit.DiscordMaxEmbedTitle || !strings.HasSuffix(e.Title, "…") {
					t.Errorf("title of %d runes", runes(e.Title))
				}
				if runes(e.Description) > adapterkit.DiscordMaxEmbedDescription || len(e.Fields) > adapterkit.DiscordMaxEmbedFields || len(e.Fields) == 0 {
					t.Errorf("description %d runes, %d fields", runes(e.Description), len(e.Fields))
				}
				if last := e.Fields[len(e.Fields)-1]; last.Name != "…" {
					t.Errorf("last field %q, want the overflow marker", last.Name)
				}
			}},
		{name: "empty field parts", msg: bot.Message{Title: "t", Fields: []bot.Field{{Name: "", Value: " "}}}, color: adapterkit.DiscordColorInfo},
	}
	for k, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := fmt.Sprintf("40000000000000000%d", k)
			id, err := h.a.Send(context.Background(), ch, tc.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := h.fake.Messages(ch)
			if len(msgs) != 1 || msgs[0].ID != id {
				t.Fatalf("messages %+v, want one with id %s", msgs, id)
			}
			m := msgs[0]
			if len(m.Embeds) != 1 || m.Content != "" {
				t.Fatalf("want exactly one embed and no content, got %+v", m)
			}
			e := m.Embeds[0]
			if e.Color != tc.color {
				t.Errorf("colour %#x, want %#x", e.Color, tc.color)
			}
			if tc.reply != (m.Reference != nil) {
				t.Errorf("reference %+v, want reply %v", m.Reference, tc.reply)
			}
			if m.Reference != nil && (m.Reference.MessageID != tc.msg.ReplyTo || m.Reference.FailIfNotExists == nil || *m.Reference.FailIfNotExists) {
				t.Errorf("reference %+v, want message %s with fail_if_not_exists false", m.Reference, tc.msg.ReplyTo)
			}
			if silent := m.Flags&(1<<12) != 0; silent != tc.silent {
				t.Errorf("suppress-notifications flag %v, want %v", silent, tc.silent)
			}
			if m.AllowedMentions == nil || len(m.AllowedMentions.Parse) != 0 {
				t.Errorf("allowed_mentions %+v, want no mentions parsed", m.AllowedMentions)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, e)
			}
		})
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("Discord would refuse: %v", v)
	}
}

func TestRenderEmbedLimits(t *testing.T) {
	big := strings.Repeat("ß", 3000)
	fields := func(n int, name, value string) []bot.Field {
		out := make([]bot.Field, n)
		for k := range out {
			out[k] = bot.Field{Name: name, Value: value}
		}
		return out
	}
	tests := []struct {
		name       string
		msg        bot.Message
		wantFields int
		overflow   bool
	}{
		{name: "small", msg: bot.Message{Title: "t", Fields: fields(3, "a", "b")}, wantFields: 3},
		{name: "exactly 25 fields", msg: bot.Message{Title: "t", Fields: fields(25, "a", "b")}, wantFields: 25},
		{name: "26 fields", msg: bot.Message{Title: "t", Fields: fields(26, "a", "b")}, wantFields: 25, overflow: true},
		{name: "6000 total", msg: bot.Message{Title: big, Lines: []string{big, big}, Fields: fields(10, big, big)}, overflow: true, wantFields: -1},
		{name: "long fields", msg: bot.Message{Title: "t", Fields: fields(8, big, big)}, overflow: true, wantFields: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := renderEmbed(tc.msg)
			if n := embedSize(e); n > adapterkit.DiscordMaxEmbedTotal {
				t.Errorf("size %d > %d", n, adapterkit.DiscordMaxEmbedTotal)
			}
			if runes(e.Title) > adapterkit.DiscordMaxEmbedTitle || runes(e.Description) > adapterkit.DiscordMaxEmbedDescription || len(e.Fields) > adapterkit.DiscordMaxEmbedFields {
				t.Errorf("title %d, description %d, %d fields", runes(e.Title), runes(e.Description), len(e.Fields))
			}
			for _, f := range e.Fields {
				if runes(f.Name) > adapterkit.DiscordMaxFieldName || runes(f.Value) > adapterkit.DiscordMaxFieldValue || f.Name == "" || f.Value == "" {
					t.Errorf("field %d/%d runes", runes(f.Name), runes(f.Value))
				}
			}
			if tc.wantFields >= 0 && len(e.Fields) != tc.wantFields {
				t.Errorf("%d fields, want %d", len(e.Fields), tc.wantFields)
			}
			gotOverflow := len(e.Fields) > 0 && e.Fields[len(e.Fields)-1].Name == "…"
			if gotOverflow != tc.overflow {
				t.Errorf("overflow marker %v, want %v", gotOverflow, tc.overflow)
			}
		})
	}
}

func TestRewriteTransport(t *testing.T) {
	tests := []struct{ base, in, want string }{
		{"http://127.0.0.1:8080/", "https://discord.com/api/v9/users/@me", "http://127.0.0.1:8080/api/v9/users/@me"},
		{"http://proxy.local/discord", "https://discord.com/api/v9/channels/1/messages?x=1", "http://proxy.local/discord/api/v9/channels/1/messages?x=1"},
		{"http://127.0.0.1:8080/", "https://cdn.discordapp.com/a.png", "https://cdn.discordapp.com/a.png"},
	}
	for _, tc := range tests {
		var got string
		a := NewBot(Options{APIURL: tc.base, Client: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.URL.String()
			return nil, errors.New("stop")
		})}}, nil)
		req, _ := http.NewRequest(http.MethodGet, tc.in, nil)
		_, _ = a.client.Do(req)
		if u, _ := url.Parse(got); u == nil || got != tc.want {
			t.Errorf("%s via %s → %s, want %s", tc.in, tc.base, got, tc.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func ptr[T any](v T) *T { return &v }

// embedSize is the number of characters Discord counts toward
// adapterkit.DiscordMaxEmbedTotal.
func embedSize(e *discordgo.MessageEmbed) int {
	n := runes(e.Title) + runes(e.Description)
	for _, f := range e.Fields {
		n += runes(f.Name) + runes(f.Value)
	}
	if e.Footer != nil {
		n += runes(e.Footer.Text)
	}
	if e.Author != nil {
		n += runes(e.Author.Name)
	}
	return n
}

func runes(s string) int { return utf8.RuneCountInString(s) }
