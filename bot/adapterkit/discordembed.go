package adapterkit

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Discord embed colours per severity.
const (
	DiscordColorDown     = 0xED4245 // red
	DiscordColorDegraded = 0xE67E22 // orange
	DiscordColorUp       = 0x57F287 // green
	DiscordColorInfo     = 0x99AAB5 // neutral grey
)

// DiscordColor is the embed colour of a severity.
func DiscordColor(s bot.Severity) int {
	switch s {
	case bot.SeverityDown:
		return DiscordColorDown
	case bot.SeverityDegraded:
		return DiscordColorDegraded
	case bot.SeverityUp:
		return DiscordColorUp
	default:
		return DiscordColorInfo
	}
}

// DiscordEmbed is a message as one Discord embed. Its JSON is what Discord
// reads; the Discord adapter copies it into discordgo's type.
type DiscordEmbed struct {
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Color       int            `json:"color"`
	Timestamp   string         `json:"timestamp,omitempty"`
	Fields      []DiscordField `json:"fields,omitempty"`
}

// DiscordField is one name and value of an embed.
type DiscordField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RenderDiscordEmbed formats a message as one embed within Discord's
// limits: title first, then the description (Lines), then as many fields as
// fit; a last "…" field counts the fields left out.
func RenderDiscordEmbed(m bot.Message) DiscordEmbed {
	e := DiscordEmbed{Color: DiscordColor(m.Severity)}
	if !m.Time.IsZero() {
		e.Timestamp = m.Time.UTC().Format(time.RFC3339)
	}
	budget := DiscordMaxEmbedTotal

	e.Title = bot.Truncate(m.Title, DiscordMaxEmbedTitle)
	budget -= runes(e.Title)

	e.Description = bot.Truncate(strings.Join(m.Lines, "\n"), min(DiscordMaxEmbedDescription, budget))
	budget -= runes(e.Description)

	if len(m.Fields) > 0 {
		e.Fields = make([]DiscordField, 0, min(len(m.Fields), DiscordMaxEmbedFields))
	}
	const overflowName = "…"
	reserve := runes(overflowName) + 4 // room for the "+N" field, kept while fields remain
	for i, f := range m.Fields {
		left := len(m.Fields) - i
		if len(e.Fields) == DiscordMaxEmbedFields-1 && left > 1 {
			return withOverflow(e, left, budget)
		}
		name := bot.Truncate(DiscordNonBlank(f.Name), DiscordMaxFieldName)
		value := bot.Truncate(DiscordNonBlank(f.Value), DiscordMaxFieldValue)
		room := budget
		if left > 1 {
			room -= reserve
		}
		if need := runes(name) + runes(value); need > room {
			// Cut the value if a useful part fits, else stop here.
			if v := room - runes(name); v >= 16 {
				value = bot.Truncate(value, v)
			} else {
				return withOverflow(e, left, budget)
			}
		}
		e.Fields = append(e.Fields, DiscordField{Name: name, Value: value})
		budget -= runes(name) + runes(value)
	}
	return e
}

func withOverflow(e DiscordEmbed, omitted, budget int) DiscordEmbed {
	f := DiscordField{Name: "…", Value: fmt.Sprintf("+%d", omitted)}
	if runes(f.Name)+runes(f.Value) <= budget && len(e.Fields) < DiscordMaxEmbedFields {
		e.Fields = append(e.Fields, f)
	}
	return e
}

// DiscordNonBlank stands a zero-width space in for an empty text, which
// Discord rejects as a field name, a field value or a message's content.
func DiscordNonBlank(s string) string {
	if strings.TrimSpace(s) == "" {
		return "\u200b"
	}
	return s
}

func runes(s string) int { return utf8.RuneCountInString(s) }
