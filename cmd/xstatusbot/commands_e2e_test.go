package main

import (
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// TestCommandLimitsAsWired runs the bot as main wires it: the subscription
// cap comes from MAX_SUBSCRIPTIONS_PER_USER, and one person flooding
// /status in a private chat and a group gets a bounded number of answers
// and one slow-down note, while another person is answered.
func TestCommandLimitsAsWired(t *testing.T) {
	f := startFakes(t, false)
	tg := f.tg
	env := f.env(t)
	env["MAX_SUBSCRIPTIONS_PER_USER"] = "1"
	in := start(t, env)
	waitFor(t, "telegram connected", func() bool { return strings.Contains(in.stderr.String(), "telegram connected") })

	const admin, group = 1001, -100777
	tg.SetMember(group, admin, "administrator")
	tg.Private(telegramtest.User{ID: admin}, "/subscribe")
	tg.Group(group, telegramtest.User{ID: admin}, "/subscribe")
	waitFor(t, "the cap's refusal", func() bool { return countContaining(tg.SentTo(group), "the most one person may") == 1 })
	if countContaining(tg.SentTo(admin), "Subscribed") != 1 {
		t.Errorf("the first subscription was not confirmed: %+v", tg.SentTo(admin))
	}

	const flooder, flood, other = 2002, -100888, 3003
	began := time.Now()
	for i := range 16 {
		if i%2 == 0 {
			tg.Private(telegramtest.User{ID: flooder}, "/status")
		} else {
			tg.Group(flood, telegramtest.User{ID: flooder}, "/status")
		}
	}
	tg.Private(telegramtest.User{ID: other}, "/status")
	waitFor(t, "the other person's answer and the flooder's note", func() bool {
		return countContaining(tg.SentTo(other), "X is") == 1 &&
			countContaining(append(tg.SentTo(flooder), tg.SentTo(flood)...), "too fast") >= 1
	})
	sent := append(tg.SentTo(flooder), tg.SentTo(flood)...)
	// Three at once, then one per 2 s elapsed at most.
	most := 3 + int(time.Since(began)/(2*time.Second)) + 1
	if n := countContaining(sent, "X is"); n == 0 || n > most {
		t.Errorf("the flooder got %d answers to 16 /status, want 1..%d", n, most)
	}
	if n := countContaining(sent, "too fast"); n != 1 {
		t.Errorf("the flooder got %d slow-down notes, want 1", n)
	}
}

func countContaining(msgs []telegramtest.SentMessage, s string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Plain, s) {
			n++
		}
	}
	return n
}
