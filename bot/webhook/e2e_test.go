package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestEndToEnd: fake X goes down and comes back; a monitor, the SQLite
// store, the real dispatcher and this adapter deliver to one receiver of
// each kind plus a json receiver that answers 500 twice first. Each gets
// exactly one down alert and one recovery.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	store := adaptertest.Store(t)
	slack, discordHook, plain, flaky := newReceiver(t, KindSlack), newReceiver(t, KindDiscord), newReceiver(t, KindJSON), newReceiver(t, KindJSON)
	receivers := map[string]*receiver{"slack": slack, "discord": discordHook, "json": plain, "flaky json": flaky}
	settings := Config{Rate: 20, URLs: adapterkit.Secret(strings.Join([]string{
		"slack=" + slack.URL(), "discord=" + discordHook.URL(), plain.URL(), "json=" + flaky.URL(),
	}, ","))}
	logs := &bottest.Buffer{}
	log := textLogger(logs)
	n, err := New(settings, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range settings.Subscriptions() {
		sub.CreatedAt = time.Now()
		if _, err := store.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}

	policy := settings.Policy()
	policy.BackoffMin, policy.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	chain := adaptertest.Start(t, store, []delivery.Channel{{Platform: Platform, Notifier: n, Policy: policy}}, log)
	x, rounds := chain.X, func(k int) { t.Helper(); chain.Rounds(t, k) }
	// settled waits until every receiver has want messages and nothing is
	// left in the outbox, after which no further send can happen.
	settled := func(want int) {
		t.Helper()
		bottest.Eventually(t, "every receiver served and the outbox empty", func() bool {
			for _, r := range receivers {
				if len(r.delivered()) < want {
					return false
				}
			}
			b, err := store.Backlog(ctx)
			return err == nil && b[Platform].Pending == 0
		})
		for name, r := range receivers {
			if got := len(r.delivered()); got != want {
				t.Errorf("%s receiver has %d messages, want %d", name, got, want)
			}
		}
	}

	rounds(2) // the first state, up, is not announced
	flaky.fail(2, fault{status: 500, body: "<html>oops</html>"})

	x.Set(fakex.Down503)
	rounds(2)
	settled(1)
	if got := len(flaky.all()); got != 3 {
		t.Errorf("flaky receiver got %d requests, want 3 (500, 500, 200)", got)
	}

	x.Set(fakex.Up)
	rounds(2)
	settled(2)

	for name, r := range receivers {
		msgs := r.delivered()
		if len(msgs) != 2 {
			continue
		}
		for i, want := range []string{"down", "up"} {
			if got := stateIn(t, name, msgs[i]); got != want {
				t.Errorf("%s message %d announces %q, want %q", name, i+1, got, want)
			}
		}
	}
	// The json document carries the change as data: the previous state and
	// the incident, open in the down alert and closed in the recovery.
	if msgs := plain.delivered(); len(msgs) == 2 {
		var down, up Document
		if json.Unmarshal(msgs[0], &down) != nil || json.Unmarshal(msgs[1], &up) != nil {
			t.Fatalf("json documents: %s / %s", msgs[0], msgs[1])
		}
		if down.PreviousState == nil || *down.PreviousState != "up" || down.Incident == nil || down.Incident.End != nil {
			t.Errorf("down document: previous %v, incident %+v; want up and an open incident", down.PreviousState, down.Incident)
		}
		if up.PreviousState == nil || *up.PreviousState != "down" || up.Incident == nil || up.Incident.End == nil ||
			up.Incident.DurationSeconds <= 0 || !up.Incident.Start.Equal(down.Incident.Start) {
			t.Errorf("recovery document: previous %v, incident %+v; want down and the closed incident", up.PreviousState, up.Incident)
		}
	}
	subs, err := store.Subscriptions(ctx)
	if err != nil || len(subs) != 4 {
		t.Errorf("subscriptions after the run: %d, %v; want all 4 kept", len(subs), err)
	}
	if !strings.Contains(logs.String(), "send failed; will retry") {
		t.Errorf("the 500s were not logged:\n%s", logs)
	}
	assertNoSecret(t, "the logs", logs.String())
}

// stateIn reads which state a delivered payload announces.
func stateIn(t *testing.T, kind string, body []byte) string {
	t.Helper()
	switch kind {
	case "slack":
		var m struct{ Text string }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(m.Text, "X is down"):
			return "down"
		case strings.Contains(m.Text, "X is back up"):
			return "up"
		}
		return m.Text
	case "discord":
		var m discordMessage
		if err := json.Unmarshal(body, &m); err != nil || len(m.Embeds) != 1 {
			t.Fatalf("discord payload %s: %v", body, err)
		}
		switch m.Embeds[0].Color {
		case adapterkit.DiscordColorDown:
			return "down"
		case adapterkit.DiscordColorUp:
			return "up"
		}
		return m.Embeds[0].Title
	default:
		var d Document
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		return d.State
	}
}
