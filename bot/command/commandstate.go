package command

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// saved is the state /status renders: the monitor's memory (with the last
// closed incident from the board) when the service has it, else the store's.
func (s *Service) saved(ctx context.Context) (bot.Saved, error) {
	if s.live == nil {
		return s.state.Load(ctx)
	}
	sv := s.live.Snapshot()
	if sv.Incident == nil {
		if b := s.board(); b != nil && len(b.Incidents) > 0 {
			inc := b.Incidents[0]
			if inc.Open() {
				// A board older than the recovery: the incident ended when
				// X came back.
				inc.End = sv.Status.Since
			}
			if !inc.End.Before(inc.Start) {
				sv.Incident = &inc
			}
		}
	}
	return sv, nil
}

// underCap tells whether cmd's sender may subscribe one more chat; when not,
// refusal says the cap. A chat already subscribed passes (Subscribe then
// says so). Two subscribes by one person at the same instant may both pass
// the count: the cap may be exceeded by the few commands in flight at once.
func (s *Service) underCap(ctx context.Context, cmd Command) (refusal bot.Message, ok bool) {
	counter, counts := s.subs.(bot.SubscriptionCounter)
	if s.maxSubs <= 0 || cmd.User == "" || !counts {
		return bot.Message{}, true
	}
	n, err := counter.SubscribedBy(ctx, cmd.Chat.Platform, cmd.User)
	if err != nil {
		s.log.Error("count the person's subscriptions", "err", err, "chat", cmd.Chat.String())
		return text.NoticeMessage(cmd.Lang, text.NoticeFailed), false
	}
	if n < s.maxSubs {
		return bot.Message{}, true
	}
	if st, ok := s.subs.(bot.SettingsStore); ok {
		if _, subscribed, err := st.Settings(ctx, cmd.Chat); err == nil && subscribed {
			return bot.Message{}, true
		}
	}
	s.log.Info("subscription refused: the person's cap is reached", "chat", cmd.Chat.String(), "count", n, "cap", s.maxSubs)
	return text.Private(fmt.Sprintf(text.For(cmd.Lang).SubscriptionCap, s.maxSubs)), false
}

// langTTL is how long a chat's language is remembered. Changes made through
// this service are seen at once; one made by another replica (after a
// change of leader) within this time.
const langTTL = time.Minute

// langCache remembers chats' languages ("" for a chat with none or not
// subscribed) for ttl; entries older than that are swept.
type langCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[bot.ChatRef]langEntry
	sweepAt time.Time
}

type langEntry struct {
	lang string
	at   time.Time
}

func newLangCache(ttl time.Duration) *langCache {
	return &langCache{ttl: ttl, entries: map[bot.ChatRef]langEntry{}}
}

func (c *langCache) get(chat bot.ChatRef, now time.Time) (lang string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[chat]
	if !ok || now.Sub(e.at) >= c.ttl || now.Before(e.at) {
		return "", false
	}
	return e.lang, true
}

func (c *langCache) put(chat bot.ChatRef, lang string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.sweepAt) {
		for k, e := range c.entries {
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		}
		c.sweepAt = now.Add(c.ttl)
	}
	c.entries[chat] = langEntry{lang: lang, at: now}
}

func (c *langCache) forget(chat bot.ChatRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, chat)
}

func (c *langCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// every is how often X is checked, from the published board; 0 without one.
func (s *Service) every() time.Duration {
	if b := s.board(); b != nil {
		return b.Every
	}
	return 0
}
