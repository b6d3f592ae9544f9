package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StateStore keeps the tracker state, incidents and round history.
type StateStore interface {
	Load(ctx context.Context) (Saved, error)
	// SaveRound persists a round, the new status, the incident and any change
	// with its outbox rows, atomically. It sets Incident.ID and Change.ID.
	SaveRound(ctx context.Context, s *Snapshot) error
}

// SubscriptionStore keeps which chats want alerts.
type SubscriptionStore interface {
	// Subscribe adds a subscription; created is false if it existed already.
	Subscribe(ctx context.Context, s Subscription) (created bool, err error)
	// Unsubscribe ends one chat's subscription and drops its pending alerts.
	Unsubscribe(ctx context.Context, chat ChatRef) (removed bool, err error)
	// UnsubscribeGroup ends every subscription of a group (a Discord guild).
	UnsubscribeGroup(ctx context.Context, platform Platform, group string) (int, error)
	// MigrateChat moves a subscription and its pending alerts to a new chat id.
	MigrateChat(ctx context.Context, from, to ChatRef) error
}

// SubscriptionCounter counts the chats one person subscribed, so that
// subscriptions per person can be capped.
type SubscriptionCounter interface {
	// SubscribedBy counts the chats of platform p whose Subscription.By is user.
	SubscribedBy(ctx context.Context, p Platform, user string) (int, error)
}

// SettingsStore keeps each subscription's settings; ending a
// subscription drops them.
type SettingsStore interface {
	// Settings returns a chat's settings; subscribed is false (and the
	// settings zero) when the chat has no subscription.
	Settings(ctx context.Context, chat ChatRef) (s ChatSettings, subscribed bool, err error)
	// UpdateSettings applies change to a subscribed chat's settings in one
	// transaction and returns the result; subscribed is false, and nothing
	// changes, when the chat has no subscription.
	UpdateSettings(ctx context.Context, chat ChatRef, change func(*ChatSettings)) (s ChatSettings, subscribed bool, err error)
}

// Outbox is the durable queue of alerts to deliver.
type Outbox interface {
	// Due returns the pending rows of up to limit chats whose oldest pending
	// row is due at now, skipping the chats in busy; rows ordered by chat then id.
	Due(ctx context.Context, p Platform, now time.Time, limit int, busy map[string]bool) ([]Delivery, error)
	// Finish records the final status of rows (sent with a message id, gone,
	// expired, coalesced). A gone status also ends the chat's subscription.
	Finish(ctx context.Context, ids []int64, status DeliveryStatus, messageID, reason string, at time.Time) error
	// Retry reschedules a row after a failed attempt.
	Retry(ctx context.Context, id int64, next time.Time, attempts int, reason string) error
	// Record writes many outcomes in one transaction, each as Finish or
	// Retry would. When some are refused because another replica's claim
	// holds their rows, the others are written and the error is a
	// *RefusedError naming the refused ones; any other error means nothing
	// was written.
	Record(ctx context.Context, outs []Outcome) error
	// Backlog counts pending rows per platform and the age of the oldest.
	Backlog(ctx context.Context) (map[Platform]Backlog, error)
}

// Outcome is what became of one send, to be written to the outbox: rows
// finished with Status (sent with MessageID, coalesced, gone, expired) at
// At, or, with Status empty, the row IDs[0] rescheduled to Next with
// Attempts. Reason says why, for people reading the outbox.
type Outcome struct {
	IDs       []int64
	Status    DeliveryStatus
	MessageID string
	Reason    string
	At        time.Time
	Next      time.Time
	Attempts  int
}

// RefusedError is Record's answer when the outcomes at the indexes Refused
// were not written because their rows are claimed by another replica, which
// sends them now; the other outcomes were written. It wraps ErrDeposed.
type RefusedError struct {
	Refused []int
	Err     error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%d of the outcomes refused: %v", len(e.Refused), e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Backlog describes the pending rows of one platform.
type Backlog struct {
	Pending int       `json:"pending"`
	Oldest  time.Time `json:"oldest,omitempty"`
}

// Store is everything the service needs from persistence.
type Store interface {
	StateStore
	SubscriptionStore
	SettingsStore
	Outbox
	HistoryStore
	VantageStore
	ReportStore
}

// VantageStore keeps the latest round of each vantage point.
type VantageStore interface {
	// RecordRegion stores r as its region's latest round, replacing the
	// previous one.
	RecordRegion(ctx context.Context, r RegionRound) error
	// Regions returns the latest round of every region heard from within
	// SilentFor, ordered by region name; those not heard from within fresh
	// are marked Silent. A store shared by replicas judges this on its own
	// clock (PostgreSQL's now(), the same for every replica), never on a
	// replica's: now is the caller's clock, for a store used by one process.
	Regions(ctx context.Context, now time.Time, fresh time.Duration) ([]RegionRound, error)
}

// SilentFor is how long a region that stopped recording rounds is still
// named as silent; after that it is forgotten (a replica taken away).
const SilentFor = 24 * time.Hour

// ErrDeposed is returned (wrapped) by a store's leader-only writes (SaveRound,
// claiming outbox rows) when this replica no longer holds the leader lease:
// the write was refused, nothing changed.
var ErrDeposed = errors.New("not the leader: the lease is held by another replica or expired")

// Term is one leadership term: the replica holding the lease and the lease's
// epoch, which grows with every change of holder (the fence).
type Term struct {
	Holder string
	Epoch  int64
}

// Lease is the leader lease shared by replicas.
type Lease interface {
	// Acquire takes the lease for ttl if it is free or expired, or renews it
	// if this replica holds it. held is false when another replica holds it.
	// A store that fences leader writes starts or stops accepting them here.
	Acquire(ctx context.Context, ttl time.Duration) (t Term, held bool, err error)
	// Release gives the lease up at once, so another replica need not wait
	// for it to expire. It is called after the leader's work has stopped.
	Release(ctx context.Context) error
}

// HistoryStore reads time in state and past incidents.
type HistoryStore interface {
	// Spans returns the time in state overlapping [from, to), clipped to it, oldest first.
	Spans(ctx context.Context, from, to time.Time) ([]Span, error)
	// Incidents returns up to limit incidents, newest first.
	Incidents(ctx context.Context, limit int) ([]Incident, error)
}
