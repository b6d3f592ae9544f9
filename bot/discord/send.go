package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Discord JSON error codes that end a channel's subscription.
const (
	codeUnknownChannel     = 10003
	codeMissingAccess      = 50001
	codeCannotMessageUser  = 50007
	codeMissingPermissions = 50013
)

// Send posts m to a channel as one embed and returns the message id. Every
// error is a *bot.SendError:
//   - 429: RateLimited with Discord's retry_after and whether the limit is
//     global; discordgo's endless internal retry is off for this call.
//   - 10003 Unknown Channel, 50001 Missing Access, 50013 Missing Permissions,
//     50007, any other 403 or 404: Permanent. Discord bans IPs that keep
//     making such requests, so the subscription must end at once.
//   - 401: the token was revoked. Retryable (it is not the channel's fault),
//     and the adapter stops calling Discord until restarted.
//   - 5xx, network errors, timeouts, other 4xx (400 means our payload is
//     wrong; delivery's attempt limit bounds the retries): Retryable.
func (a *Adapter) Send(ctx context.Context, channelID string, m bot.Message) (string, error) {
	fail := func(class bot.ErrorClass, err error) (string, error) {
		return "", &bot.SendError{Class: class, Err: fmt.Errorf("discord: send to channel %s: %w", channelID, err)}
	}
	s := a.sess.Load()
	if s == nil {
		return fail(bot.Retryable, errNotReady)
	}
	if a.unauthorized.Load() {
		return fail(bot.Retryable, ErrUnauthorized)
	}
	if !isSnowflake(channelID) {
		return fail(bot.Permanent, errors.New("not a Discord channel id"))
	}
	data := &discordgo.MessageSend{
		Embeds:          []*discordgo.MessageEmbed{renderEmbed(m)},
		AllowedMentions: noMentions(),
	}
	if m.Silent {
		data.Flags = discordgo.MessageFlagsSuppressNotifications
	}
	if m.ReplyTo != "" {
		no := false
		data.Reference = &discordgo.MessageReference{MessageID: m.ReplyTo, ChannelID: channelID, FailIfNotExists: &no}
	}
	var info rateInfo
	msg, err := s.ChannelMessageSendComplex(channelID, data,
		discordgo.WithContext(ctx),
		discordgo.WithRetryOnRatelimit(false),
		discordgo.WithRestRetries(0),
		discordgo.WithClient(recordingClient(a.client, &info)),
	)
	if errors.Is(err, discordgo.ErrJSONUnmarshal) {
		// Discord answered 2xx, so the message is out; resending would post it twice.
		a.log.Warn("discord accepted a message but its answer was unreadable", "err", err, "chat", channelID)
		return "", nil
	}
	if err != nil {
		se := a.classify(err, info)
		se.Err = fmt.Errorf("discord: send to channel %s: %w", channelID, err)
		return "", se
	}
	if msg == nil {
		return "", nil
	}
	return msg.ID, nil
}

// classify maps a discordgo error to a bot error class.
func (a *Adapter) classify(err error, info rateInfo) *bot.SendError {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		se := &bot.SendError{Class: bot.RateLimited, Global: info.global, RetryAfter: info.retryAfter}
		if rl.RateLimit != nil && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			se.RetryAfter = rl.RetryAfter
		}
		return se
	}
	if info.limited {
		// A 429 whose body discordgo could not read.
		return &bot.SendError{Class: bot.RateLimited, Global: info.global, RetryAfter: info.retryAfter}
	}
	switch code(err) {
	case codeUnknownChannel, codeMissingAccess, codeMissingPermissions, codeCannotMessageUser:
		return &bot.SendError{Class: bot.Permanent}
	}
	switch st := status(err); {
	case st == http.StatusUnauthorized:
		if a.unauthorized.CompareAndSwap(false, true) {
			a.log.Error("discord rejected the bot token; no more sends until restart", "err", ErrUnauthorized)
		}
		return &bot.SendError{Class: bot.Retryable}
	case st == http.StatusForbidden || st == http.StatusNotFound:
		return &bot.SendError{Class: bot.Permanent}
	default:
		return &bot.SendError{Class: bot.Retryable}
	}
}

// isSnowflake reports whether id looks like a Discord id: 1 to 20 digits.
func isSnowflake(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
