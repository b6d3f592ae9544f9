package discord

import (
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// renderEmbed formats a message as one embed within Discord's limits, with
// the renderer the webhook adapter's Discord payloads use too.
func renderEmbed(m bot.Message) *discordgo.MessageEmbed {
	r := adapterkit.RenderDiscordEmbed(m)
	e := &discordgo.MessageEmbed{Title: r.Title, Description: r.Description, Color: r.Color, Timestamp: r.Timestamp}
	if len(r.Fields) == 0 {
		return e
	}
	fields := make([]discordgo.MessageEmbedField, len(r.Fields)) // one allocation for all
	e.Fields = make([]*discordgo.MessageEmbedField, len(r.Fields))
	for i, f := range r.Fields {
		fields[i] = discordgo.MessageEmbedField{Name: f.Name, Value: f.Value}
		e.Fields[i] = &fields[i]
	}
	return e
}

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

// reply is how an answer to a command looks: a short plain confirmation is
// content; anything with details or a state is an embed.
func reply(m bot.Message) (content string, embeds []*discordgo.MessageEmbed) {
	if len(m.Lines) == 0 && len(m.Fields) == 0 && m.Severity == bot.SeverityInfo {
		return bot.Truncate(adapterkit.DiscordNonBlank(m.Title), adapterkit.DiscordMaxContent), nil
	}
	return "", []*discordgo.MessageEmbed{renderEmbed(m)}
}

// noMentions stops any text of ours from pinging people or roles.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}
