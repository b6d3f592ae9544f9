package discord

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// Commands are the global slash commands the bot registers: command.Names
// with English descriptions and French localizations, and the options of
// commandOptions. subscribe, unsubscribe and the commands that change a
// channel's settings need MANAGE_CHANNELS by default; they and /settings
// exist only in servers (a DM subscription would break as soon as the user
// shares no server with the bot); status, report, history and help also
// work in a DM with the bot.
func Commands() []*discordgo.ApplicationCommand { return commandsFor(command.Names) }

func commandsFor(names []string) []*discordgo.ApplicationCommand {
	out := make([]*discordgo.ApplicationCommand, 0, len(names))
	for _, name := range names {
		c := &discordgo.ApplicationCommand{
			Type:        discordgo.ChatApplicationCommand,
			Name:        name,
			Description: description("en", name),
			DescriptionLocalizations: &map[discordgo.Locale]string{
				discordgo.French: description("fr", name),
			},
			Options:          applicationOptions(name),
			IntegrationTypes: &[]discordgo.ApplicationIntegrationType{discordgo.ApplicationIntegrationGuildInstall},
		}
		if admin := command.AdminOnly(name); admin || settingsCommand(name) {
			if admin {
				perms := int64(discordgo.PermissionManageChannels)
				c.DefaultMemberPermissions = &perms
			}
			dm := false
			c.DMPermission = &dm
			c.Contexts = &[]discordgo.InteractionContextType{discordgo.InteractionContextGuild}
		} else {
			dm := true
			c.DMPermission = &dm
			c.Contexts = &[]discordgo.InteractionContextType{discordgo.InteractionContextGuild, discordgo.InteractionContextBotDM}
		}
		out = append(out, c)
	}
	return out
}

// description is a command's menu text, its name when the service has none
// (Discord refuses an empty description).
func description(lang, name string) string {
	if d := text.CommandDescription(lang, name); d != "" {
		return bot.Truncate(d, 100)
	}
	return name
}

// registerCommands bulk-overwrites the global commands (so re-deploys never
// duplicate them), retrying with backoff until it works or ctx ends.
func (a *Bot) registerCommands(ctx context.Context, s *discordgo.Session, appID string) {
	cmds := Commands()
	err := adapterkit.Retry(ctx, a.clock, a.backoff(), a.log, "register discord slash commands; retrying", func(ctx context.Context) (time.Duration, error) {
		_, err := s.ApplicationCommandBulkOverwrite(appID, "", cmds, discordgo.WithContext(ctx))
		if err == nil {
			return 0, nil
		}
		if st := status(err); st == http.StatusUnauthorized {
			a.revoke(err)
			return 0, adapterkit.Final(err)
		} else if st >= 400 && st < 500 && st != http.StatusTooManyRequests {
			a.log.Error("register discord slash commands", "err", err)
			return 0, adapterkit.Final(err) // retrying a refused payload or token would not help
		}
		return rateLimitWait(err), err
	})
	if err == nil {
		a.log.Info("discord slash commands registered", "count", len(cmds))
	}
}

// onInteraction answers one interaction: it defers at once (type 5, well
// within Discord's 3 s), does the work, then edits @original. Subscription
// changes and unknown commands are deferred ephemeral, status and help
// visible.
func (a *Bot) onInteraction(ctx context.Context, s *discordgo.Session, ic *discordgo.InteractionCreate) {
	if ic == nil || ic.Interaction == nil || ic.ID == "" || ic.Token == "" {
		return
	}
	i := ic.Interaction
	lang := interactionLang(i)
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
	case discordgo.InteractionApplicationCommandAutocomplete:
		a.respond(ctx, s, i, &discordgo.InteractionResponse{
			Type: discordgo.InteractionApplicationCommandAutocompleteResult,
			Data: &discordgo.InteractionResponseData{Choices: []*discordgo.ApplicationCommandOptionChoice{}},
		})
		return
	case discordgo.InteractionPing:
		return // only sent to HTTP interaction endpoints
	default: // buttons, modals: the bot sends none
		a.respond(ctx, s, i, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: text.NoticeText(lang, text.NoticeUnknownCommand), Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: noMentions()},
		})
		return
	}

	var name, args string
	if d, ok := i.Data.(discordgo.ApplicationCommandInteractionData); ok {
		name = strings.ToLower(strings.TrimSpace(d.Name))
		var valid bool
		if args, valid = optionValue(name, d); !valid {
			a.respond(ctx, s, i, &discordgo.InteractionResponse{
				Type: discordgo.InteractionResponseChannelMessageWithSource,
				Data: &discordgo.InteractionResponseData{Content: optionHelp(lang, name), Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: noMentions()},
			})
			return
		}
	}
	if known := slices.Contains(command.Names, name); known && a.limiter.Admit(a.command(i, name, args, lang)) != command.Admitted {
		// An interaction needs an answer within 3 s, or Discord shows
		// "interaction failed": a short one only the asker sees, which
		// costs no sending budget.
		a.respond(ctx, s, i, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: text.NoticeText(lang, text.NoticeSlowDown), Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: noMentions()},
		})
		return
	}
	known := slices.Contains(command.Names, name)
	// Changes, refusals and a person's own report ("your report counts")
	// are the asker's business; reading is not, except in a DM where
	// /settings is only refused.
	private := !known || command.AdminOnly(name) || name == reportCommand || (i.GuildID == "" && settingsCommand(name))
	deferred := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
	if private {
		deferred.Data = &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}
	}
	if !a.respond(ctx, s, i, deferred) {
		return
	}

	m := a.answer(ctx, i, name, args, lang)
	content, embeds := reply(m)
	edit := &discordgo.WebhookEdit{Content: &content, AllowedMentions: noMentions()}
	if embeds == nil {
		embeds = []*discordgo.MessageEmbed{}
	}
	edit.Embeds = &embeds
	if _, err := s.InteractionResponseEdit(i, edit, discordgo.WithContext(ctx)); err != nil {
		a.log.Warn("answer discord command", "err", redactInteraction(err, i), "chat", chatID(i), "command", name)
	}
}

// respond sends the interaction callback and reports whether it worked.
func (a *Bot) respond(ctx context.Context, s *discordgo.Session, i *discordgo.Interaction, r *discordgo.InteractionResponse) bool {
	if a.unauthorized.Load() {
		return false // no more calls to Discord once it refused the token
	}
	if err := s.InteractionRespond(i, r, discordgo.WithContext(ctx)); err != nil {
		a.log.Warn("acknowledge discord interaction", "err", redactInteraction(err, i), "chat", chatID(i))
		return false
	}
	return true
}

// answer turns the interaction into a command.Command and asks the handler. It
// never panics: a failing handler gives the "something went wrong" answer.
func (a *Bot) answer(ctx context.Context, i *discordgo.Interaction, name, args, lang string) (m bot.Message) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("panic answering a discord command", "err", fmt.Errorf("panic: %v", p), "command", name, "chat", chatID(i))
			m = text.NoticeMessage(lang, text.NoticeFailed)
		}
	}()
	if i.ChannelID == "" {
		return text.NoticeMessage(lang, text.NoticeNoChannel)
	}
	if name == "" {
		return text.NoticeMessage(lang, text.NoticeUnknownCommand)
	}
	cmd := a.command(i, name, args, lang)
	if i.GuildID == "" {
		cmd.Kind, cmd.AdminOnly, cmd.Private = KindPrivate, false, true
		if command.AdminOnly(name) || settingsCommand(name) {
			return text.NoticeMessage(lang, text.NoticeServersOnly)
		}
	} else {
		cmd.Group = i.GuildID
		member := i.Member
		cmd.IsAdmin = func(context.Context) (bool, error) {
			return member != nil && member.Permissions&adminPermissions != 0, nil
		}
		if name == "subscribe" && i.AppPermissions != 0 &&
			i.AppPermissions&discordgo.PermissionAdministrator == 0 &&
			i.AppPermissions&neededInChannel != neededInChannel &&
			member != nil && member.Permissions&adminPermissions != 0 {
			// Subscribing would only earn a 50013 at the first outage.
			return text.NoticeMessage(lang, text.NoticeBotLacksPermissions)
		}
	}
	m, ok := a.h.Handle(ctx, cmd)
	if !ok {
		// The bot stays silent on unknown commands in groups, but an
		// interaction needs an answer.
		return text.NoticeMessage(lang, text.NoticeUnknownCommand)
	}
	return m
}

// command is the interaction as a command.Command, before the checks of answer.
func (a *Bot) command(i *discordgo.Interaction, name, args, lang string) command.Command {
	cmd := command.Command{
		Chat:      bot.ChatRef{Platform: Platform, ID: i.ChannelID},
		Kind:      KindServer,
		AdminOnly: true,
		Name:      name,
		Args:      args,
		Lang:      lang,
	}
	switch {
	case i.Member != nil && i.Member.User != nil:
		cmd.User = i.Member.User.ID
	case i.User != nil:
		cmd.User = i.User.ID
	}
	return cmd
}

// interactionLang is the invoking user's locale, else the server's.
func interactionLang(i *discordgo.Interaction) string {
	if i.Locale != "" {
		return string(i.Locale)
	}
	if i.GuildLocale != nil {
		return string(*i.GuildLocale)
	}
	return ""
}

func chatID(i *discordgo.Interaction) string {
	return bot.ChatRef{Platform: Platform, ID: i.ChannelID}.String()
}

// redactInteraction hides the interaction token (valid 15 minutes) that
// discordgo's errors carry in URLs.
func redactInteraction(err error, i *discordgo.Interaction) string {
	return adapterkit.Secret(i.Token).Redact(err.Error())
}
