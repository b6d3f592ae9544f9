package telegram

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

func TestRenderFormat(t *testing.T) {
	tests := []struct {
		name string
		m    bot.Message
		want string
	}{
		{
			name: "alert",
			m: bot.Message{Title: "🔴 X is down", Lines: []string{"Since 2026-11-30 09:00 UTC (4m ago)."},
				Fields: []bot.Field{{Name: "api", Value: "HTTP 503"}, {Name: "web", Value: "timeout after 10s"}}},
			want: "<b>🔴 X is down</b>\nSince 2026-11-30 09:00 UTC (4m ago).\n\n• <b>api</b>: HTTP 503\n• <b>web</b>: timeout after 10s",
		},
		{
			name: "escapes every dynamic text",
			m:    bot.Message{Title: "<b>&</b>", Lines: []string{`a<script>"x"'y'`}, Fields: []bot.Field{{Name: "<i>", Value: "&amp;"}}},
			want: "<b>&lt;b&gt;&amp;&lt;/b&gt;</b>\na&lt;script&gt;&#34;x&#34;&#39;y&#39;\n\n• <b>&lt;i&gt;</b>: &amp;amp;",
		},
		{name: "fields only", m: bot.Message{Fields: []bot.Field{{Name: "a", Value: "b"}}}, want: "• <b>a</b>: b"},
		{name: "empty", m: bot.Message{}, want: "…"},
		{name: "invalid UTF-8 replaced", m: bot.Message{Title: "a\xffb"}, want: "<b>a\uFFFDb</b>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Render(tc.m); got != tc.want {
				t.Errorf("Render =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestRenderLimitThroughTelegram sends oversized, escape-heavy messages through
// the library to the fake, which rejects bad HTML and texts over 4096.
func TestRenderLimitThroughTelegram(t *testing.T) {
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	tests := []struct {
		name string
		m    bot.Message
	}{
		{"long title of escapes", bot.Message{Title: long("<&>", 3000)}},
		{"long title of emoji", bot.Message{Title: long("🔴", 5000)}},
		{"many lines", bot.Message{Title: "t", Lines: []string{long("é&", 1500), long("x", 1500), long("y", 1500)}}},
		{"many fields", bot.Message{Title: "t", Fields: func() []bot.Field {
			var fs []bot.Field
			for i := range 1000 {
				fs = append(fs, bot.Field{Name: "component-" + strconv.Itoa(i), Value: `HTTP 503 <"quoted">`})
			}
			return fs
		}()}},
		{"cut inside a field name", bot.Message{Title: long("a", 4080), Fields: []bot.Field{{Name: long("<", 50), Value: "v"}}}},
		{"exactly at the limit", bot.Message{Title: long("a", adapterkit.TelegramMaxText-len("<b></b>"))}},
	}
	h := newHarness(t, nil, nil)
	h.connected()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := Render(tc.m)
			if !utf8.ValidString(text) {
				t.Fatal("invalid UTF-8")
			}
			if n := units(text); n > adapterkit.TelegramMaxText {
				t.Fatalf("rendered %d UTF-16 units, limit %d", n, adapterkit.TelegramMaxText)
			}
			chat := int64(700 + i)
			if _, err := h.a.Send(context.Background(), strconv.FormatInt(chat, 10), tc.m); err != nil {
				t.Fatalf("Telegram refused it: %v", err)
			}
			got := h.fake.SentTo(chat)
			if len(got) != 1 || got[0].Text != text {
				t.Fatalf("sent %+v", got)
			}
			full := tc.m.PlainText()
			if units(full) > adapterkit.TelegramMaxText && !strings.HasSuffix(got[0].Plain, "…") {
				t.Errorf("cut text does not end with an ellipsis: …%q", got[0].Plain[len(got[0].Plain)-20:])
			}
		})
	}
}
