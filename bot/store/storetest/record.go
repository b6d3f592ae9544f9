package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// recordTests: Record writes many outcomes at once, as Finish and Retry
// would one by one.
var recordTests = []test{
	{"ManyOutcomesAsIfOneByOne", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		inspect := inspector(t, b)
		ids := []string{"a", "b", "c", "d", "e", "f"}
		for _, id := range ids {
			subscribe(t, s, chat(tgPlatform, id))
		}
		SaveDown(t, s, t0)
		rows := map[string]int64{}
		for _, d := range due(t, s, tgPlatform, t0) {
			rows[d.Chat.ID] = d.ID
		}
		if len(rows) != len(ids) {
			t.Fatalf("due rows %v", rows)
		}
		one := func(id string) []int64 { return []int64{rows[id]} }
		err := s.Record(t.Context(), []bot.Outcome{
			{IDs: one("a"), Status: bot.StatusSent, MessageID: "m-a", At: t0},
			{IDs: one("b"), Next: t0.Add(time.Minute), Attempts: 2, Reason: "HTTP 502"},
			{IDs: one("c"), Status: bot.StatusGone, Reason: "blocked", At: t0},
			{IDs: one("d"), Status: bot.StatusExpired, Reason: "too old", At: t0},
			// The first finish of a row stands, as when written one by one.
			{IDs: one("e"), Status: bot.StatusSent, MessageID: "m-e", At: t0},
			{IDs: one("e"), Status: bot.StatusExpired, Reason: "late", At: t0},
			// A finish after a reschedule of the same row stands.
			{IDs: one("f"), Next: t0.Add(time.Hour), Attempts: 1, Reason: "HTTP 502"},
			{IDs: one("f"), Status: bot.StatusSent, MessageID: "m-f", At: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Row{
			"a": {Status: bot.StatusSent, MessageID: "m-a"},
			"b": {Status: bot.StatusPending, Attempts: 2},
			"c": {Status: bot.StatusGone},
			"d": {Status: bot.StatusExpired},
			"e": {Status: bot.StatusSent, MessageID: "m-e"},
			"f": {Status: bot.StatusSent, MessageID: "m-f", Attempts: 1},
		}
		for _, r := range inspect(s).Outbox {
			w := want[r.Chat.ID]
			if r.Status != w.Status || r.MessageID != w.MessageID || r.Attempts != w.Attempts {
				t.Errorf("chat %s: row %+v, want %+v", r.Chat.ID, r, w)
			}
		}
		for _, sub := range subscriptions(t, s) {
			if sub.Chat.ID == "c" {
				t.Errorf("the gone chat is still subscribed")
			}
		}
		if d := due(t, s, tgPlatform, t0); len(d) != 0 {
			t.Errorf("due at once: %+v; want b's row only a minute later", d)
		}
		if d := due(t, s, tgPlatform, t0.Add(time.Minute)); len(d) != 1 || d[0].Chat.ID != "b" || d[0].Attempts != 2 {
			t.Errorf("due a minute later: %+v; want b's row, attempt 2", d)
		}
		// Recording again changes nothing: each row's first outcome stands.
		if err := s.Record(t.Context(), []bot.Outcome{{IDs: one("a"), Status: bot.StatusExpired, At: t0}}); err != nil {
			t.Fatal(err)
		}
		SaveRecovery(t, s, t0.Add(2*time.Minute))
		for _, d := range due(t, s, tgPlatform, t0.Add(2*time.Minute)) {
			if d.Chat.ID == "a" && d.ReplyTo != "m-a" {
				t.Errorf("a's recovery replies to %q, want its down alert m-a", d.ReplyTo)
			}
		}
	}},
	{"MoreThanOneStatementHolds", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		inspect := inspector(t, b)
		const n = 300 // more rows than one statement takes
		for i := range n {
			subscribe(t, s, chat(tgPlatform, fmt.Sprintf("c%03d", i)))
		}
		SaveDown(t, s, t0)
		var outs []bot.Outcome
		for i, d := range due(t, s, tgPlatform, t0) {
			if i%3 == 0 {
				outs = append(outs, bot.Outcome{IDs: []int64{d.ID}, Next: t0.Add(time.Minute), Attempts: 1, Reason: "HTTP 502"})
				continue
			}
			outs = append(outs, bot.Outcome{IDs: []int64{d.ID}, Status: bot.StatusSent, MessageID: "m-" + d.Chat.ID, At: t0})
		}
		if len(outs) != 100 {
			t.Fatalf("%d due rows, want 100 (the limit of the helper)", len(outs))
		}
		if err := s.Record(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
		// The remaining 200 in one call: more finishes than one statement.
		outs = outs[:0]
		for _, d := range dueAll(t, s, t0) {
			outs = append(outs, bot.Outcome{IDs: []int64{d.ID}, Status: bot.StatusSent, MessageID: "m-" + d.Chat.ID, At: t0})
		}
		if len(outs) != n-100 {
			t.Fatalf("%d rows left, want %d", len(outs), n-100)
		}
		if err := s.Record(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
		sent, retried := 0, 0
		for _, r := range inspect(s).Outbox {
			switch {
			case r.Status == bot.StatusSent && r.MessageID == "m-"+r.Chat.ID:
				sent++
			case r.Status == bot.StatusPending && r.Attempts == 1:
				retried++
			default:
				t.Errorf("row %+v", r)
			}
		}
		if sent != n-34 || retried != 34 {
			t.Errorf("%d sent and %d rescheduled, want %d and 34", sent, retried, n-34)
		}
	}},
	{"NothingToRecord", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		if err := s.Record(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		// An id no row has is no error, as a row finished before is not.
		if err := s.Record(t.Context(), []bot.Outcome{{IDs: []int64{1 << 40}, Status: bot.StatusSent, MessageID: "m", At: t0}}); err != nil {
			t.Fatalf("an unknown row: %v", err)
		}
	}},
}

// dueAll is every Telegram row due at now, whatever their number.
func dueAll(t *testing.T, s Store, now time.Time) []bot.Delivery {
	t.Helper()
	d, err := s.Due(t.Context(), tgPlatform, now, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
