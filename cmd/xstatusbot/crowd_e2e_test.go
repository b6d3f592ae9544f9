package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
)

// TestCrowdAsWired runs the bot as main wires it, X up all along: three
// people /report in their private chats (CROWD_REPORTS=3), a fourth floods
// a group with it; the subscribed chat hears "people are reporting" once,
// with the count, and never who reported.
func TestCrowdAsWired(t *testing.T) {
	f := startFakes(t, false)
	tg := f.tg
	env := f.env(t)
	env["CROWD_REPORTS"] = "3"
	env["CROWD_WINDOW"] = "1m"
	env["PROBE_DOWN_AFTER"] = "1"
	in := start(t, env)
	waitFor(t, "telegram connected", func() bool { return strings.Contains(in.stderr.String(), "telegram connected") })
	established(t, in)

	const subscriber = 1001
	tg.Private(telegramtest.User{ID: subscriber}, "/subscribe")
	waitFor(t, "subscribed", func() bool { return countContaining(tg.SentTo(subscriber), "Subscribed") == 1 })

	const group, flooder = -100555, 4004
	for range 5 {
		tg.Group(group, telegramtest.User{ID: flooder, UserName: "flooder_4004", FirstName: "Flo"}, "/report dm")
	}
	tg.Private(telegramtest.User{ID: 2001, LanguageCode: "fr"}, "/report post")
	waitFor(t, "the French thanks", func() bool { return countContaining(tg.SentTo(2001), "Merci, votre signalement compte.") == 1 })
	if got := countContaining(tg.SentTo(subscriber), "People are reporting"); got != 0 {
		t.Fatalf("one person and one group raised the signal: %d alerts", got)
	}
	tg.Private(telegramtest.User{ID: 2002}, "/report post")
	waitFor(t, "the people's alert", func() bool {
		return countContaining(tg.SentTo(subscriber), "People are reporting problems with X") == 1
	})
	alert := tg.SentTo(subscriber)[len(tg.SentTo(subscriber))-1].Plain
	for _, secret := range []string{"4004", "2001", "2002", "flooder", "Flo", "-100555"} {
		if strings.Contains(alert, secret) {
			t.Errorf("the alert names a reporter or their chat (%s): %q", secret, alert)
		}
	}
	if !strings.Contains(alert, "Mostly posting — 3 reports in 1 min") {
		t.Errorf("alert %q", alert)
	}
	waitFor(t, "the crowd's metrics", func() bool {
		resp, err := http.Get("http://" + in.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "xstatusbot_crowd_signal 1") &&
			strings.Contains(string(body), `xstatusbot_crowd_reports{kind="post"} 2`) &&
			strings.Contains(string(body), `xstatusbot_crowd_reports{kind="dm"} 1`)
	})
	tg.Private(telegramtest.User{ID: 3003}, "/status")
	waitFor(t, "/status with the reports", func() bool {
		return countContaining(tg.SentTo(3003), "People's reports in the last 1 min: 3 reports (posting 2, direct messages 1).") == 1
	})
}
