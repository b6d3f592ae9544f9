package discord

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Discord's message limits, in characters.
const (
	LimitContent          = 2000
	LimitEmbedTitle       = 256
	LimitEmbedDescription = 4096
	LimitEmbedFields      = 25
	LimitFieldName        = 256
	LimitFieldValue       = 1024
	LimitEmbedTotal       = 6000 // title + description + field names and values, across all embeds
)

// Embed colours per severity.
const (
	ColorDown     = 0xED4245 // red
	ColorDegraded = 0xE67E22 // orange
	ColorUp       = 0x57F287 // green
	ColorInfo     = 0x99AAB5 // neutral grey
)

// blank stands in for an empty field name or value, which Discord rejects.
const blank = "\u200b"

// Color is the embed colour of a severity.
func Color(s bot.Severity) int {
	switch s {
	case bot.SeverityDown:
		return ColorDown
	case bot.SeverityDegraded:
		return ColorDegraded
	case bot.SeverityUp:
		return ColorUp
	default:
		return ColorInfo
	}
}

// renderEmbed formats a message as one embed within Discord's limits:
// title first, then the description (Lines), then as many fields as fit; a
// last "…" field counts the fields left out.
func renderEmbed(m bot.Message) *discordgo.MessageEmbed {
	e := &discordgo.MessageEmbed{Color: Color(m.Severity)}
	if !m.Time.IsZero() {
		e.Timestamp = m.Time.UTC().Format(time.RFC3339)
	}
	budget := LimitEmbedTotal

	e.Title = bot.Truncate(m.Title, LimitEmbedTitle)
	budget -= runes(e.Title)

	e.Description = bot.Truncate(strings.Join(m.Lines, "\n"), min(LimitEmbedDescription, budget))
	budget -= runes(e.Description)

	const overflowName = "…"
	reserve := runes(overflowName) + 4 // room for the "+N" field, kept while fields remain
	for i, f := range m.Fields {
		left := len(m.Fields) - i
		if len(e.Fields) == LimitEmbedFields-1 && left > 1 {
			return withOverflow(e, left, budget)
		}
		name := bot.Truncate(nonBlank(f.Name), LimitFieldName)
		value := bot.Truncate(nonBlank(f.Value), LimitFieldValue)
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
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: name, Value: value})
		budget -= runes(name) + runes(value)
	}
	return e
}

func withOverflow(e *discordgo.MessageEmbed, omitted, budget int) *discordgo.MessageEmbed {
	f := &discordgo.MessageEmbedField{Name: "…", Value: fmt.Sprintf("+%d", omitted)}
	if runes(f.Name)+runes(f.Value) <= budget && len(e.Fields) < LimitEmbedFields {
		e.Fields = append(e.Fields, f)
	}
	return e
}

// embedSize is the number of characters Discord counts toward LimitEmbedTotal.
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

func nonBlank(s string) string {
	if strings.TrimSpace(s) == "" {
		return blank
	}
	return s
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// reply is how an answer to a command looks: a short plain confirmation is
// content; anything with details or a state is an embed.
func reply(m bot.Message) (content string, embeds []*discordgo.MessageEmbed) {
	if len(m.Lines) == 0 && len(m.Fields) == 0 && m.Severity == bot.SeverityInfo {
		return bot.Truncate(nonBlank(m.Title), LimitContent), nil
	}
	return "", []*discordgo.MessageEmbed{renderEmbed(m)}
}

// noMentions stops any text of ours from pinging people or roles.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}
