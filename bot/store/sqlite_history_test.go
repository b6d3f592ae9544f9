package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// An incident row written before causes had times still decodes, with zero
// times. (The rest of the history contract is in bot/storetest.)
func TestIncidentRowWithoutCauseTimesDecodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	s := open(t, path)
	storetest.SaveDown(t, s, t0)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO incidents (start_at, end_at, worst, causes) VALUES (?, NULL, 'degraded', '[{"component":"web","detail":"slow"}]')`, t0.Add(5*time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = open(t, path)
	got, err := s.Incidents(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Open() || got[0].Causes[0] != (bot.Cause{Component: "web", Detail: "slow"}) || got[1].Causes[0].Detail != "HTTP 503" {
		t.Fatalf("old incident row %+v", got)
	}
}
