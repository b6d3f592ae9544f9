//go:build !nopostgres

package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// The store contract every backend passes (bot/storetest), on a real
// PostgreSQL: each test its own database.
func TestStoreContractPostgres(t *testing.T) {
	var (
		mu   sync.Mutex
		urls = map[storetest.Store]string{} // Inspect counts through a connection of its own
	)
	storetest.Run(t, storetest.Backend{
		NewDB: func(t *testing.T) string { return pgtest.URL(t) },
		Open: func(t *testing.T, db string, o storetest.Options) storetest.Store {
			t.Helper()
			s, err := store.OpenPostgres(context.Background(), db,
				store.WithRetention(o.Retention), store.WithOutboxRetention(o.OutboxRetention), store.WithSpanGap(o.SpanGap))
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			urls[s] = db
			mu.Unlock()
			return s
		},
		Inspect: func(t *testing.T, st storetest.Store) storetest.Contents {
			t.Helper()
			ctx := context.Background()
			rows, err := st.(*store.Replica).Outcomes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var c storetest.Contents
			for _, o := range rows {
				c.Outbox = append(c.Outbox, storetest.Row{ID: o.ID, ChangeID: o.ChangeID, Chat: o.Chat, Status: o.Status, MessageID: o.MessageID, Attempts: o.Attempts})
			}
			mu.Lock()
			url := urls[st]
			mu.Unlock()
			c.Changes = pgCount(t, url, `SELECT count(*) FROM changes`)
			c.Incidents = pgCount(t, url, `SELECT count(*) FROM incidents`)
			return c
		},
	})
}
