package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/probe"
)

// TestRedirectIsNotFollowedAndEndsTheRow: a receiver answers 307 towards
// another host. Through the real dispatcher and SQLite: the other host gets
// nothing (so neither the alert nor a Referer with the secret URL), the
// receiver is asked once, its row ends as gone with its subscription, the
// log says why without the URL, and the healthy receiver gets its alert.
func TestRedirectIsNotFollowedAndEndsTheRow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var elsewhere []string // Referer of each request the other host got
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Header.Get("Referer"))
		mu.Unlock()
	}))
	defer other.Close()
	moved, healthy := newReceiver(t, KindJSON), newReceiver(t, KindJSON)
	moved.fail(10, fault{status: http.StatusTemporaryRedirect, header: map[string]string{"Location": other.URL + "/catch"}})
	settings := Config{Rate: 20, URLs: adapterkit.Secret("json=" + moved.URL() + ",json=" + healthy.URL())}
	logs := &bottest.Buffer{}
	n, err := New(settings, nil, textLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	store := adaptertest.Store(t)
	for _, sub := range settings.Subscriptions() {
		sub.CreatedAt = time.Now()
		if _, err := store.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	verdict := probe.VerdictUp
	mon := monitor.New(monitor.Config{
		Probe: func(context.Context) probe.Round {
			return probe.Round{Start: time.Now(), Verdict: verdict, Targets: []probe.Result{{Target: "web", Status: 503, Class: probe.ClassStatus}}}
		},
		Tracker: probe.Tracker{DownAfter: 1, UpAfter: 1}, Store: store, Log: textLogger(nil),
	})
	if err := mon.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []probe.Verdict{probe.VerdictUp, probe.VerdictDown} {
		verdict = v
		if err := mon.RunRound(ctx); err != nil {
			t.Fatal(err)
		}
	}
	disp := delivery.NewDispatcher(store, []delivery.Channel{{Platform: Platform, Notifier: n, Policy: settings.Policy()}}, clock.System{}, textLogger(logs), nil)
	dctx, dcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	defer func() { dcancel(); <-done }()

	bottest.Eventually(t, "the outbox drained", func() bool {
		b, err := store.Backlog(ctx)
		return err == nil && b[Platform].Pending == 0 && len(healthy.delivered()) == 1
	})
	mu.Lock()
	got := append([]string(nil), elsewhere...)
	mu.Unlock()
	if len(got) != 0 {
		t.Fatalf("the redirect target got %d requests (Referer %q), want none", len(got), got)
	}
	if n := len(moved.all()); n != 1 {
		t.Errorf("redirecting receiver asked %d times, want once", n)
	}
	movedID := idOf(t, "json="+moved.URL())
	out, err := store.Outcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Chat.ID == movedID && (o.Status != bot.StatusGone || !strings.Contains(o.Reason, "redirect not followed")) {
			t.Errorf("redirecting receiver's row %+v, want gone: redirect not followed", o)
		}
	}
	subs, err := store.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].Chat.ID == movedID {
		t.Errorf("subscriptions %+v (%v), want only the healthy receiver's", subs, err)
	}
	if l := logs.String(); !strings.Contains(l, "redirect, not followed") || !strings.Contains(l, "chat="+movedID) {
		t.Errorf("no log line naming the redirect and the webhook's id:\n%s", l)
	}
	assertNoSecret(t, "the logs", logs.String())
	if strings.Contains(logs.String(), other.URL) {
		t.Errorf("the logs name the redirect's target:\n%s", logs)
	}
}
