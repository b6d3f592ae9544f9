package scenario_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/probe"
)

// reportFrom sends /report args as user in chat (a group when group is
// set), through svc, and returns the answer.
func (e *env) reportFrom(svc *command.Service, user, chat, args string) string {
	e.t.Helper()
	reply, ok := svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: chat},
		Kind: "group", Private: chat == user, Name: "report", Args: args, User: user})
	if !ok {
		e.t.Fatalf("/report %s from %s: no answer", args, user)
	}
	return reply.PlainText()
}

// crowdOf has n people report kind from their private chats.
func (e *env) crowdOf(n int, kinds ...string) {
	for i := range n {
		e.reportFrom(e.svc, fmt.Sprint("person", i), fmt.Sprint("person", i), kinds[i%len(kinds)])
	}
}

// TestReportsAloneRaiseDegradedThenFallBack: five people report while the
// probes pass. The chats that take degraded alerts hear it once, in their
// language, saying the probes pass; a chat on "outages" and a muted one do
// not. When the reports have been under the threshold for a whole window,
// the same chats hear they fell back; /status, /history and the incident
// say the people reported it, not the probes.
func TestReportsAloneRaiseDegradedThenFallBack(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all", "outages", "fr", "muted")
	e.subscribe(dcPlatform, "c")
	e.run(tgPlatform, "outages", "/alerts outages")
	e.run(tgPlatform, "fr", "/language fr")
	e.run(tgPlatform, "muted", "/mute 2h")
	e.step(up, up)

	e.crowdOf(4, "post")
	e.step(up, up, up)
	wantTitles(t, "all", e.tg.To("all")) // four people are not enough
	if got := e.reportFrom(e.svc, "person4", "person4", "dm"); !strings.Contains(got, "Thanks") || !strings.Contains(got, "5 reports in the last 10 min") {
		t.Fatalf("fifth report's answer %q", got)
	}
	e.step(up, up, up)
	crowdTitle := "People are reporting problems with X"
	wantTitles(t, "all", e.tg.To("all"), crowdTitle)
	wantTitles(t, "c", e.dc.To("c"), crowdTitle)
	wantTitles(t, "fr", e.tg.To("fr"), "Des utilisateurs signalent des problèmes avec X")
	wantTitles(t, "outages", e.tg.To("outages"))
	wantTitles(t, "muted", e.tg.To("muted"))
	alert := e.tg.To("all")[0].Msg
	if text := alert.PlainText(); !strings.Contains(text, "Mostly posting — 5 reports in 10 min; our probes of the public site pass.") || !alert.Silent {
		t.Fatalf("crowd alert %q (silent %v)", text, alert.Silent)
	}
	if fr := e.tg.To("fr")[0].Msg.PlainText(); !strings.Contains(fr, "Surtout : publier — 5 signalements en 10 min ; nos sondes du site public passent.") {
		t.Fatalf("French crowd alert %q", fr)
	}
	if st := e.ask("status", "en"); !strings.Contains(st, "X is degraded") || !strings.Contains(st, "People's reports in the last 10 min: 5 reports (posting 4, direct messages 1).") ||
		!strings.Contains(st, "People report problems with X; our probes of the public site pass.") {
		t.Fatalf("/status while reported: %q", st)
	}

	// The reports leave the window ten minutes after they came, the signal a
	// window later; two up rounds confirm. Nothing in between.
	e.every(time.Minute, 25*time.Minute)
	over := "Reports about X have fallen back"
	wantTitles(t, "all", e.tg.To("all"), crowdTitle, over)
	wantTitles(t, "c", e.dc.To("c"), crowdTitle, over)
	wantTitles(t, "fr", e.tg.To("fr"), "Des utilisateurs", "Les signalements sur X sont retombés")
	wantTitles(t, "outages", e.tg.To("outages"))
	if back := e.tg.To("all")[1].Msg; !strings.Contains(back.PlainText(), "our probes of the public site passed throughout") || back.ReplyTo == "" {
		t.Fatalf("fall-back message %q, reply to %q", back.PlainText(), back.ReplyTo)
	}
	if h := e.ask("history", "en"); !strings.Contains(h, "reported by people (5 reports), for 19m30s") {
		t.Fatalf("/history: %q", h)
	}
	incidents, err := e.store.Incidents(context.Background(), 1)
	if err != nil || len(incidents) != 1 || !bot.CrowdOnly(incidents[0].Causes) || incidents[0].Open() {
		t.Fatalf("incident %+v (%v), want one closed crowd-only incident", incidents, err)
	}
	if st := e.ask("status", "en"); !strings.Contains(st, "X is up") || strings.Contains(st, "People's reports") {
		t.Fatalf("/status after: %q", st)
	}
}

// TestReportsDuringAnOutageJoinTheDownAlert: people report and the probes
// fail: one down alert, which mentions the reports; no second message.
func TestReportsDuringAnOutageJoinTheDownAlert(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all", "outages")
	e.run(tgPlatform, "outages", "/alerts outages")
	e.step(up, up)
	e.crowdOf(6, "post", "feed", "post")
	e.step(down, down)
	wantTitles(t, "all", e.tg.To("all"), "X is down")
	wantTitles(t, "outages", e.tg.To("outages"), "X is down")
	if text := e.tg.To("all")[0].Msg.PlainText(); !strings.Contains(text, "People report it too: 6 reports in 10 min, mostly posting.") ||
		!strings.Contains(text, "web: timeout") || strings.Contains(text, "reports:") {
		t.Fatalf("down alert %q", text)
	}
	// Reports coming in while X is down change nothing sent.
	e.crowdOf(12, "dm")
	e.step(down, down, down)
	wantTitles(t, "all", e.tg.To("all"), "X is down")
	// The probes pass again while people still report: degraded (by the
	// reports), then up once they fall back, each once.
	e.step(up, up)
	e.every(time.Minute, 25*time.Minute)
	wantTitles(t, "all", e.tg.To("all"), "X is down", "partly back", "back up")
	wantTitles(t, "outages", e.tg.To("outages"), "X is down", "back up")
	incidents, err := e.store.Incidents(context.Background(), 5)
	if err != nil || len(incidents) != 1 || bot.CrowdOnly(incidents[0].Causes) {
		t.Fatalf("incidents %+v (%v), want one incident seen by the probes", incidents, err)
	}
}

// TestOnePersonOrOneGroupCannotRaiseTheSignal: a flood of /report from one
// person, and twenty new accounts in one group, count 1 + 2: no alert.
func TestOnePersonOrOneGroupCannotRaiseTheSignal(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all")
	e.step(up, up)
	first := e.reportFrom(e.svc, "troll", "troll", "post")
	var again string
	for _, k := range []string{"dm", "feed", "login", "media", "other", "", "post"} {
		again = e.reportFrom(e.svc, "troll", "troll", k)
	}
	if !strings.Contains(first, "Thanks") || !strings.Contains(again, "You already reported in the last 10 min") || !strings.Contains(again, "1 report in the last") {
		t.Fatalf("answers %q, then %q", first, again)
	}
	for i := range 20 {
		e.reportFrom(e.svc, fmt.Sprint("new", i), "-100group", "login")
	}
	e.every(time.Minute, 5*time.Minute)
	wantTitles(t, "all", e.tg.To("all"))
	if st := e.ask("status", "en"); !strings.Contains(st, "X is up") || !strings.Contains(st, "3 reports") {
		t.Fatalf("/status: %q", st)
	}
	// A kind the bot does not know records nothing and says what it takes.
	if got := e.reportFrom(e.svc, "someone", "someone", "everything"); !strings.Contains(got, "post, feed, login, dm, media, other") || !strings.Contains(got, "Nothing was recorded") {
		t.Fatalf("/report everything: %q", got)
	}
	if n, err := e.store.ReportCount(context.Background(), t0, t0.Add(time.Hour)); err != nil || n != 21 {
		t.Fatalf("%d reports stored (%v), want 21: one per person", n, err)
	}
}

// TestReportsReachTheLeaderAndSurviveARestart: reports made on another
// replica (its own service and tally, the same database) raise the
// leader's signal; a restart mid-signal neither repeats the alert nor
// loses the fall-back.
func TestReportsReachTheLeaderAndSurviveARestart(t *testing.T) {
	e := newEnv(t)
	e.replicas = true
	e.restart()
	e.subscribe(tgPlatform, "all")
	e.step(up, up)
	other := command.NewService(e.store, e.store, e.clock.Now, quiet(),
		command.WithReports(e.store, crowd.NewTally(crowd.Rule{Reports: 5, Window: 10 * time.Minute})))
	for i := range 5 {
		e.reportFrom(other, fmt.Sprint("p", i), fmt.Sprint("p", i), "media")
	}
	e.step(up, up)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X")
	e.restart()
	e.every(time.Minute, 8*time.Minute)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X")
	e.restart()
	e.every(time.Minute, 20*time.Minute)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X", "Reports about X have fallen back")
}

// TestAloneReadsReportsBackAtItsFirstRoundOnly: alone on its store (SQLite,
// as main wires it), every /report passes through the process's own tally,
// so its rounds read no reports back, only its first one does: reports
// counted at once through the service raise the signal, and a restart
// finds those still in the window. A report written behind its back (no
// such writer exists alone) waits for that first round.
func TestAloneReadsReportsBackAtItsFirstRoundOnly(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all")
	e.step(up, up)
	ctx := context.Background()
	for i := range 5 {
		r := bot.Report{User: fmt.Sprint("b", i), Chat: bot.ChatRef{Platform: tgPlatform, ID: fmt.Sprint("b", i)},
			Kind: bot.ReportLogin, At: e.clock.Now()}
		if added, err := e.store.AddReport(ctx, &r, 10*time.Minute); err != nil || !added {
			t.Fatalf("report behind the process's back: added %v, %v", added, err)
		}
	}
	e.step(up, up)
	wantTitles(t, "all", e.tg.To("all"))
	e.restart()
	e.step(up, up)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X")
	e.every(time.Minute, 25*time.Minute)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X", "Reports about X have fallen back")
	for i := range 5 {
		e.reportFrom(e.svc, fmt.Sprint("p", i), fmt.Sprint("p", i), "media")
	}
	e.step(up, up)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X", "Reports about X have fallen back",
		"People are reporting problems with X")
}

// TestReportsFlapLikeAnyChange: waves of reports raising and dropping the
// signal fold into the flap rule's one unstable message.
func TestReportsFlapLikeAnyChange(t *testing.T) {
	e := newEnv(t)
	e.flapChanges, e.flapWindow = 2, 2*time.Hour
	e.restart()
	e.subscribe(tgPlatform, "all")
	e.step(up, up)
	for wave := range 3 {
		for i := range 5 {
			e.reportFrom(e.svc, fmt.Sprint("w", wave, "p", i), fmt.Sprint("w", wave, "p", i), "post")
		}
		e.every(time.Minute, 25*time.Minute)
	}
	wantTitles(t, "all", e.tg.To("all"), "People are reporting", "Reports about X have fallen back", "X is unstable")
	if e.probe.verdict != probe.VerdictUp {
		t.Fatal("the probes were meant to pass throughout")
	}
}

// TestReportsMustBeMarkedlyMoreThanUsual: where people report a few
// problems every day at this hour (30 an hour for three days: 5 per
// window), ten reports are the usual noise and fifteen are news.
func TestReportsMustBeMarkedlyMoreThanUsual(t *testing.T) {
	e := newEnv(t)
	e.subscribe(tgPlatform, "all")
	ctx := context.Background()
	for d := 1; d <= 3; d++ {
		for i := range 30 {
			r := bot.Report{User: fmt.Sprint("day", d, "p", i), Chat: bot.ChatRef{Platform: tgPlatform, ID: fmt.Sprint("day", d, "p", i)},
				Kind: bot.ReportFeed, At: t0.Add(-time.Duration(d)*24*time.Hour - 25*time.Minute + time.Duration(i)*time.Minute)}
			if added, err := e.store.AddReport(ctx, &r, 10*time.Minute); err != nil || !added {
				t.Fatalf("past report: added %v, %v", added, err)
			}
		}
	}
	e.step(up, up)
	e.crowdOf(10, "feed")
	e.every(time.Minute, 5*time.Minute)
	wantTitles(t, "all", e.tg.To("all"))
	if st := e.ask("status", "en"); !strings.Contains(st, "10 reports") {
		t.Fatalf("/status: %q", st)
	}
	for i := 10; i < 15; i++ {
		e.reportFrom(e.svc, fmt.Sprint("person", i), fmt.Sprint("person", i), "feed")
	}
	e.step(up, up)
	wantTitles(t, "all", e.tg.To("all"), "People are reporting problems with X")
}

// TestReportAnswersInTheReportersLanguage: the answer to /report is the
// reporter's alone, so it speaks their language, not the chat's.
func TestReportAnswersInTheReportersLanguage(t *testing.T) {
	e := newEnv(t)
	e.subscribeLang("-100en", "en") // an English group
	reply, ok := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-100en"},
		Kind: "group", Name: "report", Args: "dm", User: "42", Lang: "fr"})
	if !ok || !strings.Contains(reply.PlainText(), "Merci, votre signalement compte.") || !reply.Private {
		t.Fatalf("a French reporter in an English group got %q (private %v)", reply.PlainText(), reply.Private)
	}
	// Other answers in the group keep the group's language.
	st, _ := e.svc.Handle(context.Background(), command.Command{Chat: bot.ChatRef{Platform: tgPlatform, ID: "-100en"}, Kind: "group", Name: "status", User: "42", Lang: "fr"})
	if !strings.HasPrefix(st.PlainText(), "X is") {
		t.Fatalf("the group's /status left its language: %q", st.PlainText())
	}
}
