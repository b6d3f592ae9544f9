package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bwmarrin/discordgo"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
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
//   - 429 with Discord's rate-limit headers: RateLimited with its
//     retry_after and whether the limit is global; discordgo's endless
//     internal retry is off for this call.
//   - 429 without any X-RateLimit-* header (Cloudflare's HTML page):
//     RateLimited and Global, for Retry-After or else a pause of 1 s doubling
//     with each such 429 up to 1 min, back to 1 s after a success. During
//     that pause Send returns the same without calling Discord.
//   - 50013 Missing Permissions: NoRights. The bot sees the channel but may
//     not post: this message is dropped and delivery ends the subscription
//     after a few refusals in a row (an admin can restore the permission;
//     the refusals are rare enough not to approach the IP ban).
//   - 10003 Unknown Channel, 50001 Missing Access, 50007, any other 403 or
//     404 with Discord's JSON body: Permanent. Discord bans IPs that keep
//     making such requests, so the subscription must end at once. A 403 or
//     404 whose body is not Discord's JSON (an HTML page from Cloudflare or
//     a proxy) is Unavailable: it is not the channel's answer, so the row
//     is kept.
//   - 400 and other 4xx (our payload is wrong; delivery's attempt limit
//     bounds the retries): Retryable.
//   - 5xx, a redirect (never followed), network errors, timeouts, the
//     gateway not connected yet: Unavailable (Discord's failure, not the
//     channel's).
//   - 401: the token was revoked. Unavailable wrapping ErrUnauthorized, and
//     from then on every Send returns that without calling Discord.
//   - InvalidRequestLimit invalid answers in InvalidRequestWindow:
//     Unavailable without calling Discord until the count falls below it.
func (a *Bot) Send(ctx context.Context, channelID string, m bot.Message) (string, error) {
	fail := func(class bot.ErrorClass, err error) (string, error) {
		return "", &bot.SendError{Class: class, Err: fmt.Errorf("discord: send to channel %s: %w", channelID, err)}
	}
	if a.unauthorized.Load() {
		return fail(bot.Unavailable, ErrUnauthorized)
	}
	s := a.sess.Load()
	if s == nil {
		return fail(bot.Unavailable, errNotReady)
	}
	if !isSnowflake(channelID) {
		return fail(bot.Permanent, errors.New("not a Discord channel id"))
	}
	if a.tooManyInvalid() {
		return fail(bot.Unavailable, errTooManyInvalid)
	}
	if wait := a.headerless.remaining(a.clock.Now()); wait > 0 {
		// Whatever the caller's gate does, no request goes out during the
		// pause: each one would count towards the IP ban.
		return "", &bot.SendError{Class: bot.RateLimited, Global: true, RetryAfter: wait,
			Err: fmt.Errorf("discord: send to channel %s: %w", channelID, errPaused)}
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
		discordgo.WithClient(recordingClient(a.client, &info, a.clock.Now)),
	)
	if err == nil || errors.Is(err, discordgo.ErrJSONUnmarshal) {
		a.headerless.ok()
		a.setState(bot.PlatformReady)
		if err != nil {
			// Discord answered 2xx, so the message is out; resending would post it twice.
			a.log.Warn("discord accepted a message but its answer was unreadable", "err", err, "chat", channelID)
			return "", nil
		}
		if msg == nil {
			return "", nil
		}
		return msg.ID, nil
	}
	se := a.classify(err, info)
	se.Err = fmt.Errorf("discord: send to channel %s: %w", channelID, err)
	if se.Class == bot.Unavailable {
		a.setState(bot.PlatformUnavailable)
		if info.status == http.StatusUnauthorized {
			se.Err = fmt.Errorf("discord: send to channel %s: %w: %w", channelID, ErrUnauthorized, err)
		}
	}
	return "", se
}

// tooManyInvalid reports whether the invalid-request count is at the limit,
// and logs the start and the end of each such episode once.
func (a *Bot) tooManyInvalid() bool {
	n := a.invalid.count(a.clock.Now())
	if n >= a.invalidLimit {
		if !a.overLimit.Swap(true) {
			a.log.Error("too many invalid requests to discord; sends paused until the 10-minute count falls below the limit",
				"invalid_requests", n, "limit", a.invalidLimit)
		}
		return true
	}
	if a.overLimit.Swap(false) {
		a.log.Info("discord invalid-request count below the limit; sends resume", "invalid_requests", n, "limit", a.invalidLimit)
	}
	return false
}

// classify maps a discordgo error and what the answer said to a bot error class.
func (a *Bot) classify(err error, info rateInfo) *bot.SendError {
	var rl *discordgo.RateLimitError
	isRL := errors.As(err, &rl)
	if info.limited && info.headerless {
		return &bot.SendError{Class: bot.RateLimited, Global: true, RetryAfter: a.headerless.limited(a.clock.Now(), info.retryAfter)}
	}
	if isRL {
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
	case codeMissingPermissions:
		return &bot.SendError{Class: bot.NoRights}
	case codeUnknownChannel, codeMissingAccess, codeCannotMessageUser:
		return &bot.SendError{Class: bot.Permanent}
	}
	st := info.status
	if st == 0 {
		st = status(err)
	}
	switch {
	case st == http.StatusUnauthorized:
		a.revoke(err)
		return &bot.SendError{Class: bot.Unavailable}
	case (st == http.StatusForbidden || st == http.StatusNotFound) && !fromDiscord(err):
		return &bot.SendError{Class: bot.Unavailable} // a proxy's page: the platform's problem
	case st == http.StatusForbidden || st == http.StatusNotFound:
		return &bot.SendError{Class: bot.Permanent}
	case st >= 500 || st == 0 || adapterkit.IsRedirect(st):
		// Discord (or the way to it) failed, not this channel. A timeout or a
		// refused connection gives no status at all; a redirect is never
		// followed (the API base is misconfigured or hijacked).
		return &bot.SendError{Class: bot.Unavailable}
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
