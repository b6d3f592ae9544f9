//go:build !nopostgres

package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/store/pgtest"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// A batch of outcomes from a replica whose claim on some rows passed to
// another is refused for those rows only: the others are written (in one
// statement, and in a transaction when the batch mixes reschedules and
// finishes), the refused ones are named, the error is ErrDeposed, OnDeposed
// is told, and the other replica's claim and rows are left alone.
func TestRecordRefusesOnlyTheRowsAnotherClaimed(t *testing.T) {
	for _, mixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("mixed=%v", mixed), func(t *testing.T) {
			url := pgtest.URL(t)
			ctx := context.Background()
			a := openPG(t, url, "a")
			var told atomic.Int32
			a.OnDeposed(func(error) { told.Add(1) })
			pgSubscribe(t, a, "1", "2", "3")
			lead(t, a)
			pgSave(t, a, storetest.DownSnapshot(t0))
			due, err := a.Due(ctx, tgPlatform, t0, 10, nil)
			if err != nil || !reflect.DeepEqual(chatsOf(due), []string{"1", "2", "3"}) {
				t.Fatalf("a's due: %v, %v", chatsOf(due), err)
			}
			// b took chat 2 once a's claim expired, as a new leader would.
			pgtest.Exec(t, url, `UPDATE outbox SET claimed_by = 'b', claim_epoch = claim_epoch + 1, claimed_until = now() + interval '1 minute' WHERE chat_id = '2'`)

			third := bot.Outcome{IDs: []int64{due[2].ID}, Status: bot.StatusSent, MessageID: "m-3", At: t0}
			if mixed {
				third = bot.Outcome{IDs: []int64{due[2].ID}, Next: t0.Add(time.Minute), Attempts: 1, Reason: "HTTP 502"}
			}
			err = a.Record(ctx, []bot.Outcome{
				{IDs: []int64{due[0].ID}, Status: bot.StatusSent, MessageID: "m-1", At: t0},
				{IDs: []int64{due[1].ID}, Status: bot.StatusSent, MessageID: "m-2", At: t0},
				third,
			})
			var refused *bot.RefusedError
			if !errors.As(err, &refused) || !errors.Is(err, bot.ErrDeposed) || !reflect.DeepEqual(refused.Refused, []int{1}) {
				t.Fatalf("Record: %v, want outcome 1 refused with ErrDeposed", err)
			}
			if told.Load() != 1 {
				t.Errorf("OnDeposed told %d times, want once", told.Load())
			}
			if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE chat_id = '1' AND status = 'sent' AND message_id = 'm-1' AND claimed_by = ''`); n != 1 {
				t.Errorf("chat 1's outcome not written")
			}
			if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE chat_id = '2' AND status = 'pending' AND message_id = '' AND claimed_by = 'b'`); n != 1 {
				t.Errorf("chat 2's row, b's now, was touched")
			}
			want := `status = 'sent' AND message_id = 'm-3'`
			if mixed {
				want = `status = 'pending' AND attempts = 1`
			}
			if n := pgCount(t, url, `SELECT COUNT(*) FROM outbox WHERE chat_id = '3' AND claimed_by = '' AND `+want); n != 1 {
				t.Errorf("chat 3's outcome not written")
			}
		})
	}
}

// Due leaves busy chats out however many they are, and still returns up to
// its limit of the others, oldest first.
func TestDueLeavesOutManyBusyChats(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s := openPG(t, url, "a")
	const chats, busy, limit = 400, 300, 50
	var all []string
	for i := range chats {
		all = append(all, fmt.Sprintf("c%03d", i))
	}
	pgSubscribe(t, s, all...)
	lead(t, s)
	pgSave(t, s, storetest.DownSnapshot(t0))
	skip := map[string]bool{}
	for _, id := range all[:busy] {
		skip[id] = true
	}
	due, err := s.Due(ctx, tgPlatform, t0, limit, skip)
	if err != nil {
		t.Fatal(err)
	}
	if got := chatsOf(due); !reflect.DeepEqual(got, all[busy:busy+limit]) {
		t.Fatalf("due chats %v, want the %d oldest of the chats not busy", got, limit)
	}
}
