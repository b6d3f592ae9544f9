// Package storetest is the contract test suite every bot store passes:
// the same tests, through the bot interfaces, run against SQLite and
// PostgreSQL. A backend's test calls Run with a Backend that makes empty
// databases and opens stores on them.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
)

// Store is what the suite tests: everything the service needs, the
// subscriptions of a platform SyncFixed reads, the list of them all, and Close. Close must be safe to call
// twice: the suite closes stores itself to reopen them, and again at cleanup.
//
// A store that is also a bot.Lease (one that fences leader writes) is asked
// to Acquire the lease when opened: the first store on a database leads.
// Where the suite opens two stores on one database, it saves rounds and
// calls Due, Finish and Retry through the first only (a row's outcome is
// written by the store that claimed it: a store may refuse it from another);
// the second does what a follower does (Load, subscriptions, settings,
// Backlog, history, regions).
// Before reopening a database the suite Releases the lease of the store it
// closes. Leader fencing and outbox claims are each backend's own tests.
type Store interface {
	bot.Store
	command.FixedStore
	// Subscriptions lists every subscription, for the tests.
	Subscriptions(ctx context.Context) ([]bot.Subscription, error)
	bot.SubscriptionCounter
	Close() error
}

// Options are the settings the tests need; each backend maps them to its own
// options. Every field is meant: Defaults gives the production values.
type Options struct {
	// Retention is how long raw round results are kept.
	Retention time.Duration
	// OutboxRetention is how long finished outbox rows are kept; 0 keeps
	// them for good.
	OutboxRetention time.Duration
	// SpanGap is how long after the previous round a round still continues
	// its time-in-state span.
	SpanGap time.Duration
}

// Defaults are the options a store has when none is given.
func Defaults() Options {
	return Options{Retention: 7 * 24 * time.Hour, OutboxRetention: 30 * 24 * time.Hour, SpanGap: 90 * time.Second}
}

// Backend makes databases and opens stores for the suite.
type Backend struct {
	// NewDB returns the address of a fresh, empty database (a file path for
	// SQLite, a URL for PostgreSQL), removed at the test's cleanup. Stores
	// opened on it are closed before that cleanup runs.
	NewDB func(t *testing.T) string
	// Open opens a store on db with its migrations applied, failing the test
	// if it cannot. Opening a second store on the same db must work: the
	// concurrency tests use two, as two replicas would.
	Open func(t *testing.T, db string, opts Options) Store
	// Inspect reads what no interface shows: every outbox row, finished ones
	// included, and how many changes and incidents are kept. The outbox
	// retention tests need it and skip when it is nil.
	Inspect func(t *testing.T, s Store) Contents
}

// Contents is what a database holds beyond what the interfaces show.
type Contents struct {
	// Outbox is every outbox row, in id order.
	Outbox    []Row
	Changes   int
	Incidents int
}

// Row is one outbox row as Inspect reads it.
type Row struct {
	ID        int64
	ChangeID  int64
	Chat      bot.ChatRef
	Status    bot.DeliveryStatus
	MessageID string
	Attempts  int
}

// Run runs the whole suite against b, one subtest per promise. The subtests
// run in parallel, each on its own databases.
func Run(t *testing.T, b Backend) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Subscriptions", subscriptionTests},
		{"SubscribedBy", subscribedByTests},
		{"State", stateTests},
		{"Outbox", outboxTests},
		{"Record", recordTests},
		{"FanOut", fanOutTests},
		{"History", historyTests},
		{"Settings", settingsTests},
		{"Retention", retentionTests},
		{"TwoStores", concurrencyTests},
		{"Vantage", vantageTests},
		{"Reports", reportTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, b)
				})
			}
		})
	}
}

// test is one promise of the contract.
type test struct {
	name string
	run  func(t *testing.T, b Backend)
}
