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
	// Retryable: 5xx, network errors. Retry with backoff.
	Retryable ErrorClass = iota
	// RateLimited: wait RetryAfter, then retry.
	RateLimited
	// Permanent: the chat is gone or refuses the bot; end its subscription.
	Permanent
	// Migrated: the chat has a new id (Telegram group → supergroup); re-key and resend.
	Migrated
)

func (c ErrorClass) String() string {
	switch c {
	case RateLimited:
		return "rate-limited"
	case Permanent:
		return "permanent"
	case Migrated:
		return "migrated"
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
