package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// DefaultRefusalsToEnd is how many sends in a row a chat may refuse for
// rights (NoRights) before its subscription ends. Each refusal drops its
// message; an admin who restores the rights in between loses only those.
const DefaultRefusalsToEnd = 3

// unavailable notes a send to chat that the platform did not answer, and
// reports whether the platform is now paused (the failed row then stays as
// it is). The platform pauses only once PauseAfter different chats failed so
// with no answer in between: a single broken chat (a webhook receiver
// answering 500, a chat the platform cannot serve) only ever backs off on
// its own, and /healthz keeps the platform ready.
func (d *Dispatcher) unavailable(c *lane, chat string, now time.Time, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		wait := c.Policy.TrialMin << min(c.trials, 16)
		c.trialAt = now.Add(min(wait, c.Policy.TrialMax))
		return true
	}
	c.failChats[chat] = true
	if len(c.failChats) < c.Policy.PauseAfter {
		return false
	}
	c.paused, c.pausedAt, c.trials = true, now, 0
	c.trialAt = now.Add(c.Policy.TrialMin)
	d.log.Warn("platform unavailable: delivery paused, alerts wait without spending attempts; trying until it answers",
		"platform", c.Platform, "err", reason, "chats_failed", len(c.failChats), "trial_every_max", c.Policy.TrialMax)
	clear(c.failChats)
	return true
}

// refused handles a send the platform refused because the bot may not post
// in the chat: the message is dropped at once (retrying cannot help until an
// admin acts), and the DefaultRefusalsToEnd-th refusal in a row ends the
// chat's subscription.
func (d *Dispatcher) refused(ctx context.Context, c *lane, chat string, live []bot.Delivery, at time.Time, reason string, took time.Duration) {
	c.mu.Lock()
	c.refusals[chat]++
	n := c.refusals[chat]
	if n >= DefaultRefusalsToEnd {
		delete(c.refusals, chat)
	}
	c.mu.Unlock()
	if n >= DefaultRefusalsToEnd {
		d.record(ctx, c, chat, bot.Outcome{IDs: idsOf(live), Status: bot.StatusGone,
			Reason: fmt.Sprintf("no rights to post, %d refusals in a row: %s", n, reason), At: at})
		d.metrics.Send(c.Platform, "gone", took)
		d.log.Warn("the bot may not post in this chat: subscription ended", "platform", c.Platform, "chat", chat,
			"refusals", n, "err", reason)
		return
	}
	d.record(ctx, c, chat, bot.Outcome{IDs: idsOf(live), Status: bot.StatusExpired,
		Reason: fmt.Sprintf("dropped: no rights to post (refusal %d of %d): %s", n, DefaultRefusalsToEnd, reason), At: at})
	d.metrics.Send(c.Platform, "no_rights", took)
	d.log.Warn("the bot may not post in this chat: message dropped", "platform", c.Platform, "chat", chat,
		"refusals", n, "ends_at", DefaultRefusalsToEnd, "err", reason)
}
