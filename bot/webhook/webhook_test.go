package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

var alertTime = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// downAlert is shaped like the bot's own down alert, with text that needs escaping.
func downAlert() bot.Message {
	return bot.Message{
		Severity: bot.SeverityDown,
		Title:    "🔴 X is down <b>&",
		Lines:    []string{"Since 2026-03-01 12:29:00 UTC (1m00s ago).", "a < b > c"},
		Fields:   []bot.Field{{Name: "web", Value: "HTTP 503"}, {Name: "api", Value: "timeout & reset"}},
		Time:     alertTime,
	}
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t, KindSlack)
	n := newNotifier(t, nil, nil, "slack="+r.URL())
	id, err := n.Send(context.Background(), idOf(t, "slack="+r.URL()), downAlert())
	if err != nil || id != "" {
		t.Fatalf("Send = %q, %v; want \"\", nil", id, err)
	}
	reqs := r.all()
	if len(reqs) != 1 || reqs[0].ContentType != "application/json" || !strings.HasPrefix(reqs[0].Path, "/services/") {
		t.Fatalf("requests %+v", reqs)
	}
	var got struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Fields   []struct{ Type, Text string } `json:"fields"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	wantText := "*🔴 X is down &lt;b&gt;&amp;*\nSince 2026-03-01 12:29:00 UTC (1m00s ago).\na &lt; b &gt; c\n• *web*: HTTP 503\n• *api*: timeout &amp; reset"
	if got.Text != wantText {
		t.Errorf("text\n%q\nwant\n%q", got.Text, wantText)
	}
	var types []string
	for _, b := range got.Blocks {
		types = append(types, b.Type)
	}
	if strings.Join(types, ",") != "header,section,section,context" {
		t.Fatalf("blocks %v", types)
	}
	if h := got.Blocks[0].Text; h.Type != "plain_text" || h.Text != "🔴 X is down <b>&" {
		t.Errorf("header %+v", h)
	}
	if s := got.Blocks[1].Text; s.Type != "mrkdwn" || s.Text != "Since 2026-03-01 12:29:00 UTC (1m00s ago).\na &lt; b &gt; c" {
		t.Errorf("lines section %+v", s)
	}
	if f := got.Blocks[2].Fields; len(f) != 2 || f[1].Text != "*api*\ntimeout &amp; reset" {
		t.Errorf("fields %+v", f)
	}
	if c := got.Blocks[3].Elements; len(c) != 1 || !strings.Contains(c[0].Text, "<!date^1772368200^") {
		t.Errorf("context %+v", c)
	}
}

func TestDiscordPayloadAndMessageID(t *testing.T) {
	r := newReceiver(t, KindDiscord)
	raw := "discord=" + r.URL()
	n := newNotifier(t, nil, nil, raw)
	m := downAlert()
	m.Severity, m.Silent = bot.SeverityDegraded, true
	id, err := n.Send(context.Background(), idOf(t, raw), m)
	if err != nil {
		t.Fatal(err)
	}
	if id != "900001" {
		t.Errorf("message id %q, want the receiver's 900001", id)
	}
	req := r.all()[0]
	if req.RawQuery != "wait=true" {
		t.Errorf("query %q, want wait=true", req.RawQuery)
	}
	var got struct {
		Embeds []struct {
			Title, Description, Timestamp string
			Color                         int
			Fields                        []struct{ Name, Value string }
		} `json:"embeds"`
		AllowedMentions *struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
		Flags int `json:"flags"`
	}
	if err := json.Unmarshal(req.Body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Embeds) != 1 {
		t.Fatalf("%d embeds", len(got.Embeds))
	}
	e := got.Embeds[0]
	if e.Title != m.Title || e.Description != strings.Join(m.Lines, "\n") || e.Color != adapterkit.DiscordColorDegraded || e.Timestamp != "2026-03-01T12:30:00Z" {
		t.Errorf("embed %+v", e)
	}
	if len(e.Fields) != 2 || e.Fields[0].Name != "web" || e.Fields[1].Value != "timeout & reset" {
		t.Errorf("fields %+v", e.Fields)
	}
	if got.AllowedMentions == nil || got.AllowedMentions.Parse == nil || len(got.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions %+v, want parse: []", got.AllowedMentions)
	}
	if got.Flags != discordSuppressNotifications {
		t.Errorf("flags %d, want suppress notifications for a silent message", got.Flags)
	}
}

func TestJSONDocument(t *testing.T) {
	r := newReceiver(t, KindJSON)
	n := newNotifier(t, nil, nil, r.URL()) // a plain URL on 127.0.0.1 is json
	id, err := n.Send(context.Background(), idOf(t, r.URL()), downAlert())
	if err != nil || id != "" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	req := r.all()[0]
	if !strings.Contains(req.RawQuery, "key=") || !strings.HasPrefix(req.Path, "/hook/") {
		t.Errorf("posted to %s?%s, want the configured path and query", req.Path, req.RawQuery)
	}
	var doc map[string]any
	if err := json.Unmarshal(req.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "state", "previous_state", "title", "lines", "components", "since", "incident", "silent"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("document lacks %q: %s", k, req.Body)
		}
	}
	var d Document
	if err := json.Unmarshal(req.Body, &d); err != nil {
		t.Fatal(err)
	}
	want := downAlert()
	if d.Version != 1 || d.State != "down" || d.Title != want.Title || len(d.Lines) != 2 || d.Lines[1] != "a < b > c" || d.Silent {
		t.Errorf("document %+v", d)
	}
	if len(d.Components) != 2 || d.Components[1] != (Component{Name: "api", Cause: "timeout & reset"}) {
		t.Errorf("components %+v", d.Components)
	}
	if d.Since == nil || !d.Since.Equal(alertTime) {
		t.Errorf("since %v, want %v", d.Since, alertTime)
	}

	// A recovery without causes still has lists, not nulls.
	if _, err := n.Send(context.Background(), idOf(t, r.URL()), bot.Message{Severity: bot.SeverityUp, Title: "up"}); err != nil {
		t.Fatal(err)
	}
	body := string(r.all()[1].Body)
	if !strings.Contains(body, `"lines":[]`) || !strings.Contains(body, `"components":[]`) || !strings.Contains(body, `"state":"up"`) || !strings.Contains(body, `"since":null`) {
		t.Errorf("recovery document %s", body)
	}
}

// TestJSONIncidentSource: an incident people's reports alone raised says
// so; one the probes saw says "probes".
func TestJSONIncidentSource(t *testing.T) {
	start := alertTime.Add(-time.Minute)
	for _, tc := range []struct {
		causes []bot.Cause
		want   string
	}{
		{[]bot.Cause{{Component: bot.CrowdComponent, Reports: 7, Window: 10 * time.Minute}}, "reports"},
		{[]bot.Cause{{Component: "web", Detail: "HTTP 503"}, {Component: bot.CrowdComponent, Reports: 7}}, "probes"},
		{nil, "probes"},
	} {
		m := bot.Message{Severity: bot.SeverityDegraded, Title: "degraded", Time: alertTime,
			Event: &bot.Event{State: "degraded", Previous: "up", At: alertTime, Began: start, Incident: &bot.Incident{Start: start, Causes: tc.causes}}}
		d := renderJSON(m)
		if d.Incident == nil || d.Incident.Source != tc.want {
			t.Errorf("causes %+v: incident %+v, want source %q", tc.causes, d.Incident, tc.want)
		}
	}
}

func TestLimitsAreRuneSafe(t *testing.T) {
	long := strings.Repeat("é<", 30000) // 60,000 runes; escaping grows it further
	m := bot.Message{Title: long, Lines: []string{long}, Fields: []bot.Field{{Name: long, Value: long}}}
	for i := range 40 {
		m.Fields = append(m.Fields, bot.Field{Name: "f", Value: strings.Repeat("x", i)})
	}

	s := renderSlack(m)
	if n := utf8.RuneCountInString(s.Text); n > maxSlackText || !utf8.ValidString(s.Text) || !strings.HasSuffix(s.Text, "…") {
		t.Errorf("slack text: %d runes, valid %v", n, utf8.ValidString(s.Text))
	}
	if strings.HasSuffix(strings.TrimSuffix(s.Text, "…"), "&") || strings.Contains(s.Text[len(s.Text)-8:], "&l…") {
		t.Errorf("slack text cut inside an entity: %q", s.Text[len(s.Text)-12:])
	}
	if len(s.Blocks) > maxSlackBlocks || utf8.RuneCountInString(s.Blocks[0].Text.Text) > maxSlackHeader {
		t.Errorf("slack blocks: %d, header %d runes", len(s.Blocks), utf8.RuneCountInString(s.Blocks[0].Text.Text))
	}
	for _, b := range s.Blocks {
		if b.Text != nil && b.Type == "section" && utf8.RuneCountInString(b.Text.Text) > maxSlackSection {
			t.Errorf("section text %d runes", utf8.RuneCountInString(b.Text.Text))
		}
		if len(b.Fields) > maxSlackFieldsPerSection {
			t.Errorf("%d fields in one section", len(b.Fields))
		}
		for _, f := range b.Fields {
			if utf8.RuneCountInString(f.Text) > maxSlackField {
				t.Errorf("field %d runes", utf8.RuneCountInString(f.Text))
			}
		}
	}

	d := renderDiscord(m).Embeds[0]
	total := utf8.RuneCountInString(d.Title) + utf8.RuneCountInString(d.Description)
	for _, f := range d.Fields {
		total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		if utf8.RuneCountInString(f.Name) > adapterkit.DiscordMaxFieldName || utf8.RuneCountInString(f.Value) > adapterkit.DiscordMaxFieldValue || f.Value == "" || f.Name == "" {
			t.Errorf("field %d/%d runes", utf8.RuneCountInString(f.Name), utf8.RuneCountInString(f.Value))
		}
	}
	if utf8.RuneCountInString(d.Title) != adapterkit.DiscordMaxEmbedTitle || utf8.RuneCountInString(d.Description) > adapterkit.DiscordMaxEmbedDescription || total > adapterkit.DiscordMaxEmbedTotal || len(d.Fields) > adapterkit.DiscordMaxEmbedFields {
		t.Errorf("embed: title %d, description %d, total %d, fields %d", utf8.RuneCountInString(d.Title), utf8.RuneCountInString(d.Description), total, len(d.Fields))
	}
	if !utf8.ValidString(d.Title) || !utf8.ValidString(d.Description) {
		t.Error("embed cut inside a rune")
	}
}

func TestErrorClasses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		kind       string
		fault      fault
		class      bot.ErrorClass
		retryAfter time.Duration
		reason     string
	}{
		{"429 with fractional seconds", KindDiscord, fault{status: 429, header: map[string]string{"Retry-After": "2.5"}, body: `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`}, bot.RateLimited, 2500 * time.Millisecond, "HTTP 429"},
		{"429 with an HTTP date", KindSlack, fault{status: 429, header: map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}}, bot.RateLimited, 3 * time.Second, "HTTP 429"},
		{"429 HTML without headers", KindJSON, fault{status: 429, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>\n<h1>Too Many Requests</h1></body></html>"}, bot.RateLimited, time.Second, "Too Many Requests"},
		{"404 no_service", KindSlack, fault{status: 404, body: "no_service"}, bot.Permanent, 0, "HTTP 404: no_service"},
		{"410 channel_is_archived", KindSlack, fault{status: 410, body: "channel_is_archived"}, bot.Permanent, 0, "HTTP 410: channel_is_archived"},
		{"404 unknown webhook", KindDiscord, fault{status: 404, body: `{"message": "Unknown Webhook", "code": 10015}`}, bot.Permanent, 0, "Unknown Webhook"},
		{"307 towards another host", KindJSON, fault{status: 307, header: map[string]string{"Location": "http://127.0.0.1:9/elsewhere"}, body: "<a href=\"http://127.0.0.1:9/elsewhere\">"}, bot.Permanent, 0, "HTTP 307: redirect not followed"},
		{"301", KindSlack, fault{status: 301, header: map[string]string{"Location": "/moved"}}, bot.Permanent, 0, "HTTP 301: redirect not followed"},
		{"400 invalid_payload", KindSlack, fault{status: 400, body: "invalid_payload"}, bot.Retryable, 0, "HTTP 400: invalid_payload"},
		{"403 action_prohibited", KindSlack, fault{status: 403, body: "action_prohibited"}, bot.Rejected, 0, "HTTP 403"},
		{"401 invalid token", KindJSON, fault{status: 401, body: "invalid token"}, bot.Rejected, 0, "HTTP 401: invalid token"},
		{"500 HTML", KindJSON, fault{status: 500, body: "<html>\n<title>502 Bad Gateway</title>\n</html>"}, bot.Unavailable, 0, "HTTP 500: <html> <title>502"},
		{"503 empty", KindDiscord, fault{status: 503}, bot.Unavailable, 0, "HTTP 503: (empty body)"},
		{"body echoes the URL", KindJSON, fault{status: 400, body: "bad request to /hook/" + secretMark + "path"}, bot.Retryable, 0, "[redacted]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver(t, c.kind)
			raw := c.kind + "=" + r.URL()
			logs := &bottest.Buffer{}
			n := newNotifier(t, nil, logs, raw)
			n.now = func() time.Time { return now }
			r.fail(1, c.fault)
			_, err := n.Send(context.Background(), idOf(t, raw), downAlert())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			se := bot.ClassOf(err)
			if se.Class != c.class || se.RetryAfter != c.retryAfter || se.Global {
				t.Errorf("class %v retry after %v global %v; want %v, %v, false (%v)", se.Class, se.RetryAfter, se.Global, c.class, c.retryAfter, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q lacks %q", err, c.reason)
			}
			assertNoSecret(t, "the error", err.Error())
			assertNoSecret(t, "the log", logs.String())
			// The next send goes through: the fault was the receiver's, once.
			if _, err := n.Send(context.Background(), idOf(t, raw), downAlert()); err != nil {
				t.Errorf("send after the fault: %v", err)
			}
		})
	}
}

func TestNetworkErrorsAreUnavailableAndRedacted(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		raw := closedURL(t)
		n := newNotifier(t, nil, nil, raw)
		_, err := n.Send(context.Background(), idOf(t, raw), downAlert())
		if err == nil {
			t.Fatal("Send to a closed port succeeded")
		}
		if c := bot.ClassOf(err).Class; c != bot.Unavailable {
			t.Errorf("class %v, want unavailable", c)
		}
		if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("error %q should say why and show the URL redacted", err)
		}
		assertNoSecret(t, "the error", err.Error())
	})
	t.Run("timeout", func(t *testing.T) {
		r := newReceiver(t, KindSlack)
		r.setHang(true)
		raw := "slack=" + r.URL()
		n := newNotifier(t, &http.Client{Timeout: time.Second}, nil, raw)
		_, err := n.Send(context.Background(), idOf(t, raw), downAlert())
		if err == nil {
			t.Fatal("Send to a hanging receiver succeeded")
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() || bot.ClassOf(err).Class != bot.Unavailable {
			t.Errorf("error %v: want an unavailable timeout", err)
		}
		assertNoSecret(t, "the error", err.Error())
	})
	t.Run("shutdown", func(t *testing.T) {
		r := newReceiver(t, KindDiscord)
		r.setHang(true)
		raw := "discord=" + r.URL()
		n := newNotifier(t, nil, nil, raw)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Cancel once the request is in flight; never call t.Fatal off the test goroutine.
			for deadline := time.Now().Add(10 * time.Second); len(r.all()) == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		_, err := n.Send(ctx, idOf(t, raw), downAlert())
		// Delivery tells a shutdown from a failure with errors.Is(err, ctx.Err()).
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
		assertNoSecret(t, "the error", err.Error())
	})
}

func TestUnknownChatIsPermanent(t *testing.T) {
	r := newReceiver(t, KindJSON)
	n := newNotifier(t, nil, nil, r.URL())
	_, err := n.Send(context.Background(), "json-000000000000", downAlert())
	if bot.ClassOf(err).Class != bot.Permanent {
		t.Errorf("unknown id: %v, want permanent", err)
	}
	if len(r.all()) != 0 {
		t.Error("a request was made for an unknown id")
	}
}

func TestUnreadableDiscordAnswerCountsAsSent(t *testing.T) {
	r := newReceiver(t, KindDiscord)
	raw := "discord=" + r.URL()
	logs := &bottest.Buffer{}
	n := newNotifier(t, nil, logs, raw)
	r.fail(1, fault{status: 200, body: "<html>ok</html>"})
	id, err := n.Send(context.Background(), idOf(t, raw), downAlert())
	if err != nil || id != "" {
		t.Errorf("Send = %q, %v; want the message counted as sent without an id", id, err)
	}
	if !strings.Contains(logs.String(), "unreadable") || !strings.Contains(logs.String(), "chat=") {
		t.Errorf("no warning logged: %s", logs)
	}
	assertNoSecret(t, "the log", logs.String())
}
