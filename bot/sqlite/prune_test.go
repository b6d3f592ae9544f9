package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/sqlite"
	"github.com/xstatusbot/xstatusbot/probe"
)

// upRound saves a round without a change; it is what triggers pruning.
func upRound(t testing.TB, s *sqlite.Store, at time.Time) {
	t.Helper()
	snap := &bot.Snapshot{Round: probe.Round{Start: at, Verdict: probe.VerdictUp}, Status: probe.Status{State: probe.StateUp, Since: at}}
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
}

// saveRecovery closes the open incident with a down→up change.
func saveRecovery(t testing.TB, s *sqlite.Store, at time.Time) {
	t.Helper()
	saved, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inc := *saved.Incident
	inc.End = at
	snap := &bot.Snapshot{
		Round:    probe.Round{Start: at, Verdict: probe.VerdictUp},
		Status:   probe.Status{State: probe.StateUp, Since: at},
		Incident: &inc,
		Change:   &bot.Change{Transition: probe.Transition{From: probe.StateDown, To: probe.StateUp, At: at, Began: at}},
	}
	if err := s.SaveRound(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
}

// rowsOf lists the outbox rows of one chat, by change.
func rowsOf(t *testing.T, s *sqlite.Store, c bot.ChatRef) map[int64]sqlite.Outcome {
	t.Helper()
	out, err := s.Outcomes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[int64]sqlite.Outcome{}
	for _, o := range out {
		if o.Chat == c {
			m[o.ChangeID] = o
		}
	}
	return m
}

func finish(t *testing.T, s *sqlite.Store, row sqlite.Outcome, status bot.DeliveryStatus, msg string, at time.Time) {
	t.Helper()
	if err := s.Finish(context.Background(), []int64{row.ID}, status, msg, "", at); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, f func(context.Context) (int, error)) int {
	t.Helper()
	n, err := f(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutboxRetentionKeepsWhatIsStillNeeded(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), sqlite.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// A change nobody was subscribed to: nothing refers to it once old.
	lonely := saveDown(t, s, t0.Add(-3*time.Hour))
	a, b, c := chat(tgPlatform, "a"), chat(tgPlatform, "b"), chat(dcPlatform, "c")
	subscribe(t, s, a, b, c)

	// Incident 1, over and fully delivered: every row of it may go.
	inc1 := saveDown(t, s, t0)
	finish(t, s, rowsOf(t, s, a)[inc1.Change.ID], bot.StatusSent, "m-a1", t0)
	finish(t, s, rowsOf(t, s, b)[inc1.Change.ID], bot.StatusGone, "", t0)
	finish(t, s, rowsOf(t, s, c)[inc1.Change.ID], bot.StatusExpired, "", t0)
	saveRecovery(t, s, t0.Add(time.Minute))
	for _, o := range rowsOf(t, s, a) {
		if o.Status == bot.StatusPending {
			finish(t, s, o, bot.StatusSent, "m-a1-up", t0.Add(time.Minute))
		}
	}
	for _, o := range rowsOf(t, s, c) {
		if o.Status == bot.StatusPending {
			finish(t, s, o, bot.StatusCoalesced, "", t0.Add(time.Minute))
		}
	}
	// Incident 2, over, but a's recovery still pending: it replies to m-a2.
	inc2 := saveDown(t, s, t0.Add(10*time.Minute))
	finish(t, s, rowsOf(t, s, a)[inc2.Change.ID], bot.StatusSent, "m-a2", t0.Add(10*time.Minute))
	finish(t, s, rowsOf(t, s, c)[inc2.Change.ID], bot.StatusSent, "m-c2", t0.Add(10*time.Minute))
	saveRecovery(t, s, t0.Add(20*time.Minute))
	for _, o := range rowsOf(t, s, c) {
		if o.Status == bot.StatusPending {
			finish(t, s, o, bot.StatusSent, "m-c2-up", t0.Add(20*time.Minute))
		}
	}
	// Incident 3, still open: its sent row is what the recovery will reply to.
	inc3 := saveDown(t, s, t0.Add(30*time.Minute))
	finish(t, s, rowsOf(t, s, c)[inc3.Change.ID], bot.StatusSent, "m-c3", t0.Add(30*time.Minute))

	before, _ := s.Outcomes(ctx)
	upRound(t, s, t0.Add(5*time.Hour))

	var kept []string
	for _, o := range mustOutcomes(t, s) {
		kept = append(kept, o.Chat.ID+":"+string(o.Status)+":"+o.MessageID)
	}
	want := []string{
		"a:sent:m-a2", "c:sent:m-c2", // incident 2's alerts, replied to by a's pending recovery
		"a:pending:", "c:sent:m-c2-up", // incident 2's recovery
		"a:pending:", "c:sent:m-c3", // incident 3, open
	}
	if !slices.Equal(kept, want) {
		t.Fatalf("kept rows %v, want %v (of %d)", kept, want, len(before))
	}
	// Incident 1's two changes and the lonely one are gone; incidents stay.
	if n := count(t, s.ChangeCount); n != 3 {
		t.Errorf("changes kept %d, want 3", n)
	}
	if n := count(t, s.IncidentCount); n != 4 {
		t.Errorf("incidents kept %d, want all 4 (lonely %d)", n, lonely.Incident.ID)
	}
	due, err := s.Due(ctx, tgPlatform, t0.Add(5*time.Hour), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ReplyTo != "m-a2" || due[0].Change.Transition.To != probe.StateUp || due[1].Change.ID != inc3.Change.ID {
		t.Fatalf("due after pruning %+v", due)
	}

	// Once incident 2 is delivered, its rows go, at the next pruning: not
	// sooner than a few minutes after the last one.
	finish(t, s, mustOne(t, due[:1]), bot.StatusSent, "m-a2-up", t0.Add(time.Hour))
	upRound(t, s, t0.Add(5*time.Hour+time.Minute))
	if n := len(mustOutcomes(t, s)); n != 6 {
		t.Fatalf("pruned again within a minute: %d rows left", n)
	}
	upRound(t, s, t0.Add(5*time.Hour+5*time.Minute))
	kept = kept[:0]
	for _, o := range mustOutcomes(t, s) {
		kept = append(kept, o.Chat.ID+":"+string(o.Status)+":"+o.MessageID)
	}
	if want := []string{"a:pending:", "c:sent:m-c3"}; !slices.Equal(kept, want) {
		t.Fatalf("kept rows %v, want %v", kept, want)
	}
	if n := count(t, s.ChangeCount); n != 1 {
		t.Errorf("changes kept %d, want incident 3's", n)
	}
}

func mustOutcomes(t *testing.T, s *sqlite.Store) []sqlite.Outcome {
	t.Helper()
	out, err := s.Outcomes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustOne(t *testing.T, d []bot.Delivery) sqlite.Outcome {
	t.Helper()
	if len(d) != 1 {
		t.Fatalf("%d deliveries, want 1", len(d))
	}
	return sqlite.Outcome{ID: d[0].ID}
}

// A large backlog is pruned a batch per round, each round's transaction
// short, until it is gone.
func TestOutboxPruningGoesInBatches(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), sqlite.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	chats := make([]bot.ChatRef, 2500)
	for i := range chats {
		chats[i] = chat(tgPlatform, string(rune('a'+i%26))+time.Duration(i).String())
	}
	subscribe(t, s, chats...)
	saveDown(t, s, t0)
	var ids []int64
	for _, o := range mustOutcomes(t, s) {
		ids = append(ids, o.ID)
	}
	if err := s.Finish(ctx, ids, bot.StatusExpired, "", "too old", t0); err != nil {
		t.Fatal(err)
	}
	var left []int
	for i := range 4 {
		upRound(t, s, t0.Add(2*time.Hour+time.Duration(i)*30*time.Second))
		left = append(left, len(mustOutcomes(t, s)))
	}
	if want := []int{1500, 500, 0, 0}; !slices.Equal(left, want) {
		t.Fatalf("rows left after each round %v, want %v", left, want)
	}
	if n := count(t, s.ChangeCount); n != 0 {
		t.Errorf("the change outlived its rows: %d left", n)
	}
}

func TestOutboxRetentionZeroKeepsEverything(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), sqlite.WithOutboxRetention(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	subscribe(t, s, chat(tgPlatform, "a"))
	saveDown(t, s, t0)
	o := mustOutcomes(t, s)
	finish(t, s, o[0], bot.StatusExpired, "", t0)
	upRound(t, s, t0.Add(365*24*time.Hour))
	if n := len(mustOutcomes(t, s)); n != 1 {
		t.Fatalf("%d rows left, want the one kept", n)
	}
}

// Rows coalesced by a chat migration before version 2 had no finished_at;
// the migration gives them their creation time so they are pruned too.
func TestMigrationTwoBackfillsFinishedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		string(v1),
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		fmt.Sprintf(`INSERT INTO changes (id, from_state, to_state, at, began) VALUES (1, 'up', 'down', %d, %d)`, t0.UnixNano(), t0.UnixNano()),
		fmt.Sprintf(`INSERT INTO outbox (change_id, platform, chat_id, status, reason, next_at, created_at) VALUES (1, 'telegram', '-100', 'coalesced', 'migrated', %d, %d)`, t0.UnixNano(), t0.UnixNano()),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("build a version 1 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path, sqlite.WithOutboxRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 5 {
		t.Fatalf("schema version %d, %v; want 5", v, err)
	}
	upRound(t, s, t0.Add(30*time.Minute))
	if n := len(mustOutcomes(t, s)); n != 1 {
		t.Fatalf("pruned within the retention: %d rows", n)
	}
	upRound(t, s, t0.Add(2*time.Hour))
	if out := mustOutcomes(t, s); len(out) != 0 {
		t.Fatalf("coalesced row from version 1 never pruned: %+v", out)
	}
}
