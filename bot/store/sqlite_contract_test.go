package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// The store contract every backend passes (bot/storetest).
func TestStoreContractSQLite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		NewDB: func(t *testing.T) string { return filepath.Join(t.TempDir(), "bot.db") },
		Open: func(t *testing.T, db string, o storetest.Options) storetest.Store {
			t.Helper()
			s, err := store.OpenSQLite(context.Background(), db,
				store.WithRetention(o.Retention), store.WithOutboxRetention(o.OutboxRetention), store.WithSpanGap(o.SpanGap))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Inspect: func(t *testing.T, st storetest.Store) storetest.Contents {
			t.Helper()
			s := st.(*store.Store)
			ctx := context.Background()
			rows, err := s.Outcomes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var c storetest.Contents
			for _, o := range rows {
				c.Outbox = append(c.Outbox, storetest.Row{ID: o.ID, ChangeID: o.ChangeID, Chat: o.Chat, Status: o.Status, MessageID: o.MessageID, Attempts: o.Attempts})
			}
			if c.Changes, err = s.ChangeCount(ctx); err != nil {
				t.Fatal(err)
			}
			if c.Incidents, err = s.IncidentCount(ctx); err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}
