package discord

import (
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
