package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Notifier delivers one message to one chat of its platform and returns the
// platform's id of the sent message. Errors should be *SendError so delivery
// knows whether to retry, wait, re-key or give up; anything else is retried.
type Notifier interface {
	Send(ctx context.Context, chatID string, m Message) (messageID string, err error)
}

// ErrorClass tells delivery what to do after a failed send.
type ErrorClass int

const (
	// Retryable: this chat or this message failed for a reason that may pass
	// (an odd 4xx, a chat-specific 5xx). Retry with backoff, bounded attempts.
	Retryable ErrorClass = iota
	// RateLimited: wait RetryAfter, then retry.
	RateLimited
	// Permanent: the chat is gone or refuses the bot; end its subscription.
	Permanent
	// Migrated: the chat has a new id (Telegram group → supergroup); re-key and resend.
	Migrated
	// Unavailable: the platform as a whole does not answer (network errors,
	// 5xx, not connected yet, token revoked). The row keeps its attempts and
	// expires only by age; delivery backs the chat off, and pauses and probes
	// the platform once several different chats fail so.
	Unavailable
	// NoRights: the chat exists and keeps the bot, but the bot may not post
	// there (Telegram "not enough rights to send", Discord 50013 Missing
	// Permissions). An admin can fix it, so one refusal drops only that
	// message; delivery ends the subscription after a few in a row.
	NoRights
	// Rejected: the receiver refused this message and would refuse it again
	// (a webhook answering 401 or 403: its credentials are wrong or revoked).
	// The row expires at once, spending no retries; the subscription stays.
	Rejected
)

func (c ErrorClass) String() string {
	switch c {
	case RateLimited:
		return "rate-limited"
	case Permanent:
		return "permanent"
	case Migrated:
		return "migrated"
	case Unavailable:
		return "unavailable"
	case NoRights:
		return "no-rights"
	case Rejected:
		return "rejected"
	default:
		return "retryable"
	}
}

// SendError is a classified delivery error.
type SendError struct {
	Class ErrorClass
	// RetryAfter is the wait the platform asked for (RateLimited).
	RetryAfter time.Duration
	// Global says a rate limit applies to the whole platform, not one chat.
	Global bool
	// NewChatID is the chat's new id (Migrated).
	NewChatID string
	Err       error
}

func (e *SendError) Error() string { return fmt.Sprintf("%s: %v", e.Class, e.Err) }
func (e *SendError) Unwrap() error { return e.Err }

// ClassOf returns the class of err: Retryable unless err wraps a *SendError.
func ClassOf(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Class: Retryable, Err: err}
}

// NotifierFunc is a function that is a Notifier.
type NotifierFunc func(ctx context.Context, chatID string, m Message) (string, error)

func (f NotifierFunc) Send(ctx context.Context, chatID string, m Message) (string, error) {
	return f(ctx, chatID, m)
}
