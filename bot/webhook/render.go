package webhook

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// Slack's limits, in characters.
const (
	maxSlackText             = 40000 // message text
	maxSlackHeader           = 150   // header block
	maxSlackSection          = 3000  // section text
	maxSlackField            = 2000  // one section field
	maxSlackFieldsPerSection = 10    // fields per section
	maxSlackBlocks           = 50    // blocks per message
)

// discordSuppressNotifications is Discord's message flag for a silent
// message (SUPPRESS_NOTIFICATIONS).
const discordSuppressNotifications = 1 << 12

// stateOf names the state a message announces.
func stateOf(s bot.Severity) string {
	switch s {
	case bot.SeverityDown:
		return "down"
	case bot.SeverityDegraded:
		return "degraded"
	case bot.SeverityUp:
		return "up"
	default:
		return "info"
	}
}

// ---- Slack ----

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackTextObj  `json:"text,omitempty"`
	Fields   []slackTextObj `json:"fields,omitempty"`
	Elements []slackTextObj `json:"elements,omitempty"`
}

type slackTextObj struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// renderSlack formats m as mrkdwn text (what notifications and old clients
// show) plus blocks: a header, the lines, the fields, the time.
func renderSlack(m bot.Message) slackMessage {
	var b strings.Builder
	if m.Title != "" {
		b.WriteString("*" + slackEscape(m.Title) + "*")
	}
	for _, l := range m.Lines {
		b.WriteString("\n" + slackEscape(l))
	}
	for _, f := range m.Fields {
		b.WriteString("\n• *" + slackEscape(f.Name) + "*: " + slackEscape(f.Value))
	}
	msg := slackMessage{Text: cutEscaped(strings.TrimPrefix(b.String(), "\n"), maxSlackText)}
	if msg.Text == "" {
		msg.Text = "…" // Slack refuses an empty message
	}

	if m.Title != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "header",
			Text: &slackTextObj{Type: "plain_text", Text: bot.Truncate(m.Title, maxSlackHeader), Emoji: true}})
	}
	if len(m.Lines) > 0 {
		var lines []string
		for _, l := range m.Lines {
			lines = append(lines, slackEscape(l))
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section",
			Text: &slackTextObj{Type: "mrkdwn", Text: cutEscaped(strings.Join(lines, "\n"), maxSlackSection)}})
	}
	for i := 0; i < len(m.Fields) && len(msg.Blocks) < maxSlackBlocks-1; i += maxSlackFieldsPerSection {
		sec := slackBlock{Type: "section"}
		for _, f := range m.Fields[i:min(i+maxSlackFieldsPerSection, len(m.Fields))] {
			text := "*" + slackEscape(f.Name) + "*\n" + slackEscape(f.Value)
			sec.Fields = append(sec.Fields, slackTextObj{Type: "mrkdwn", Text: cutEscaped(text, maxSlackField)})
		}
		msg.Blocks = append(msg.Blocks, sec)
	}
	if !m.Time.IsZero() {
		// Slack shows <!date^…> in the reader's time zone; the text after | is the fallback.
		ts := fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", m.Time.Unix(), m.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackTextObj{{Type: "mrkdwn", Text: ts}}})
	}
	return msg
}

// slackEscape escapes the three characters Slack treats as markup.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

// cutEscaped shortens escaped text to n runes, marking the cut with "…" and
// never leaving half an entity (&am…) behind.
func cutEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	body := strings.TrimSuffix(bot.Truncate(s, n), "…")
	if i := strings.LastIndexByte(body, '&'); i >= 0 && !strings.Contains(body[i:], ";") {
		body = body[:i]
	}
	return body + "…"
}

// ---- Discord ----

type discordMessage struct {
	Embeds          []adapterkit.DiscordEmbed `json:"embeds"`
	AllowedMentions allowedMentions           `json:"allowed_mentions"`
	Flags           int                       `json:"flags,omitempty"`
}

// allowedMentions with an empty parse list stops our text from pinging anyone.
type allowedMentions struct {
	Parse []string `json:"parse"`
}

// renderDiscord formats m as one embed, as the Discord adapter does.
func renderDiscord(m bot.Message) discordMessage {
	msg := discordMessage{
		Embeds:          []adapterkit.DiscordEmbed{adapterkit.RenderDiscordEmbed(m)},
		AllowedMentions: allowedMentions{Parse: []string{}},
	}
	if m.Silent {
		msg.Flags = discordSuppressNotifications
	}
	return msg
}

// ---- JSON ----

// Document is the body a json webhook receives. Receivers parse it, so it
// is a public schema, documented in this package's README.md (What each
// kind receives): Version changes when a field changes meaning.
type Document struct {
	// Version changes only when a field changes meaning or goes away.
	Version int `json:"version"`
	// State is what the message announces: up, degraded, down (info for anything else).
	State string `json:"state"`
	// PreviousState is the state before this change; null for command answers.
	PreviousState *string     `json:"previous_state"`
	Title         string      `json:"title"`
	Lines         []string    `json:"lines"`
	Components    []Component `json:"components"`
	// Since is when the announced state began (RFC 3339, UTC), null if unknown.
	Since *time.Time `json:"since"`
	// Incident is the outage this change opens, updates or closes; null if none.
	Incident *Incident `json:"incident"`
	Silent   bool      `json:"silent"`
}

// Component is a failing component and its cause.
type Component struct {
	Name  string `json:"name"`
	Cause string `json:"cause"`
}

// Incident is the outage a message belongs to.
type Incident struct {
	Start           time.Time  `json:"start"`
	End             *time.Time `json:"end"`
	DurationSeconds float64    `json:"duration_seconds"`
	// Source is "reports" when people's reports alone raised the incident
	// (the probes passed), else "probes".
	Source string `json:"source"`
}

// DocumentVersion is the version of Document this package writes.
const DocumentVersion = 1

func renderJSON(m bot.Message) Document {
	d := Document{
		Version:    DocumentVersion,
		State:      stateOf(m.Severity),
		Title:      m.Title,
		Lines:      append([]string{}, m.Lines...),
		Components: make([]Component, 0, len(m.Fields)),
		Silent:     m.Silent,
	}
	for _, f := range m.Fields {
		d.Components = append(d.Components, Component{Name: f.Name, Cause: f.Value})
	}
	if !m.Time.IsZero() {
		t := m.Time.UTC()
		d.Since = &t
	}
	ev := m.Event
	if ev == nil {
		return d
	}
	prev := string(ev.Previous)
	d.PreviousState = &prev
	if !ev.Began.IsZero() {
		t := ev.Began.UTC()
		d.Since = &t
	}
	if inc := ev.Incident; inc != nil && !inc.Start.IsZero() {
		out := &Incident{Start: inc.Start.UTC(), Source: "probes"}
		if bot.CrowdOnly(inc.Causes) {
			out.Source = "reports"
		}
		end := ev.At
		if !inc.End.IsZero() {
			e := inc.End.UTC()
			out.End, end = &e, e
		}
		out.DurationSeconds = end.Sub(inc.Start).Seconds()
		d.Incident = out
		if d.Since == nil || ev.State != "up" {
			t := inc.Start.UTC()
			d.Since = &t
		}
	}
	return d
}
