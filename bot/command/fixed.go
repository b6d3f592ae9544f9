package command

import (
	"context"
	"fmt"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// FixedStore is what SyncFixed needs from persistence.
type FixedStore interface {
	Subscribe(ctx context.Context, s bot.Subscription) (created bool, err error)
	Unsubscribe(ctx context.Context, chat bot.ChatRef) (removed bool, err error)
	// Subscriptions lists the subscriptions of the platforms given (all
	// without one).
	Subscriptions(ctx context.Context, platforms ...bot.Platform) ([]bot.Subscription, error)
}

// SyncFixed makes the subscriptions of platform p exactly want: the chats
// an adapter takes from its configuration (webhook URLs, the console). A
// chat that left the configuration ends its subscription and its pending
// alerts. It returns how many were added and removed.
func SyncFixed(ctx context.Context, subs FixedStore, p bot.Platform, want []bot.Subscription, now time.Time) (added, removed int, err error) {
	have, err := subs.Subscriptions(ctx, p) // not every chat's: 10,000 of them are garbage at start
	if err != nil {
		return 0, 0, fmt.Errorf("sync %s subscriptions: %w", p, err)
	}
	keep := make(map[bot.ChatRef]bool, len(want))
	for _, s := range want {
		s.Chat.Platform = p
		keep[s.Chat] = true
		if s.CreatedAt.IsZero() {
			s.CreatedAt = now
		}
		created, err := subs.Subscribe(ctx, s)
		if err != nil {
			return added, removed, fmt.Errorf("sync %s subscriptions: %w", p, err)
		}
		if created {
			added++
		}
	}
	for _, s := range have {
		if s.Chat.Platform != p || keep[s.Chat] {
			continue
		}
		ok, err := subs.Unsubscribe(ctx, s.Chat)
		if err != nil {
			return added, removed, fmt.Errorf("sync %s subscriptions: %w", p, err)
		}
		if ok {
			removed++
		}
	}
	return added, removed, nil
}
