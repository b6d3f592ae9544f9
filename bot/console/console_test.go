package console_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/console"
)

func TestSendPrintsOneReadableBlock(t *testing.T) {
	var out bytes.Buffer
	at := time.Date(2026, 11, 30, 9, 31, 0, 0, time.UTC)
	n := console.New(&out, func() time.Time { return at })
	id, err := n.Send(context.Background(), console.ChatID, bot.Message{
		Severity: bot.SeverityDown, Title: "🔴 X is down", Lines: []string{"Since 09:30."},
		Fields: []bot.Field{{Name: "api", Value: "HTTP 503"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "2026-11-30T09:31:00Z [DOWN] 🔴 X is down\n    Since 09:30.\n    • api: HTTP 503\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	id2, _ := n.Send(context.Background(), console.ChatID, bot.Message{Severity: bot.SeverityUp, Title: "up"})
	if id == "" || id == id2 {
		t.Fatalf("message ids %q and %q are not distinct", id, id2)
	}
}
