package webhook

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/store/storetest"
)

// Through the real dispatcher and store: a webhook answering 401 has its
// row expired after one request and keeps its subscription (its owner may
// fix the credentials); one answering 410 is gone, subscription and all;
// one answering 403 once has that row expired and stays subscribed.
func TestWebhookRefusalsEndTheRightThing(t *testing.T) {
	ctx := t.Context()
	store := adaptertest.Store(t)
	revoked, gone, once := newReceiver(t, KindJSON), newReceiver(t, KindJSON), newReceiver(t, KindJSON)
	revoked.fail(1000, fault{status: 401, body: "invalid token"})
	gone.fail(1000, fault{status: 410, body: "gone"})
	once.fail(1, fault{status: 403, body: "forbidden"})
	settings := Config{Rate: 20, URLs: adapterkit.Secret(strings.Join([]string{
		"json=" + revoked.URL(), "json=" + gone.URL(), "json=" + once.URL()}, ","))}
	log := textLogger(&bottest.Buffer{})
	n, err := New(settings, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	subs := settings.Subscriptions()
	for _, sub := range subs {
		sub.CreatedAt = time.Now().Add(-time.Hour)
		if _, err := store.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	policy := settings.Policy()
	policy.BackoffMin, policy.BackoffMax, policy.MaxAge = 20*time.Millisecond, 100*time.Millisecond, 0
	disp := delivery.NewDispatcher(store, []delivery.Channel{{Platform: Platform, Notifier: n, Policy: policy}}, clock.System{}, log, nil)
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	defer func() { cancel(); <-done }()

	storetest.SaveDown(t, store, time.Now())
	disp.Wake()
	bottest.Eventually(t, "the outbox to empty", func() bool { b, err := store.Backlog(ctx); return err == nil && b[Platform].Pending == 0 })
	if got := len(revoked.all()); got != 1 {
		t.Errorf("the 401 webhook got %d requests, want 1: a refusal is not retried", got)
	}
	out, err := store.Outcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]bot.DeliveryStatus{}
	for _, o := range out {
		status[o.Chat.ID] = o.Status
	}
	want := map[string]bot.DeliveryStatus{subs[0].Chat.ID: bot.StatusExpired, subs[1].Chat.ID: bot.StatusGone, subs[2].Chat.ID: bot.StatusExpired}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("webhook %s: row %s, want %s", id, status[id], st)
		}
	}
	left, err := store.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range left {
		ids = append(ids, s.Chat.ID)
	}
	wantLeft := []string{subs[0].Chat.ID, subs[2].Chat.ID}
	slices.Sort(ids)
	slices.Sort(wantLeft)
	if !slices.Equal(ids, wantLeft) {
		t.Errorf("subscriptions left %v, want the 401 and 403 webhooks (%s, %s), not the 410 one", ids, subs[0].Chat.ID, subs[2].Chat.ID)
	}
}
