package telegram

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adaptertest"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// newReportHarness is a harness whose service takes reports into its SQLite
// store, with the crowd rule's defaults, on the frozen clock t0; answers
// go out without the chat's 1 s spacing. setup, when set, changes the
// adapter before Run.
func newReportHarness(t *testing.T, setup func(*Bot)) *harness {
	t.Helper()
	st := adaptertest.Store(t)
	tally := crowd.NewTally(crowd.Rule{Reports: 5, Window: 10 * time.Minute})
	return newHarnessOn(t, st, nil, nil, func() time.Time { return t0 }, func(a *Bot) {
		a.replier = delivery.NewGate(delivery.Policy{}, nil)
		if setup != nil {
			setup(a)
		}
	}, command.WithReports(st, tally))
}

// reports are the reports the harness's store keeps, oldest first.
func (h *harness) reports() []bot.Report {
	h.t.Helper()
	rs, err := h.store.ReportsSince(context.Background(), time.Time{}, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

// A report as these tests expect it: who, where, what.
type wantReport struct {
	user string
	chat int64
	kind bot.ReportKind
}

// /report through go-telegram-bot-api and the fake Bot API, over the real
// service and SQLite store: each case is a few messages and what the chat
// is answered, in order, and what the store then keeps.
func TestReportCommand(t *testing.T) {
	ann := telegramtest.User{ID: userID, FirstName: "Ann", LanguageCode: "en"}
	bob := telegramtest.User{ID: adminID, FirstName: "Bob", LanguageCode: "en"}
	cat := telegramtest.User{ID: 3003, FirstName: "Cat"}
	ann2 := telegramtest.User{ID: userID, FirstName: "Ann", LanguageCode: "fr"}
	const (
		thanks  = "Thanks, your report counts."
		already = "You already reported in the last 10 min: one report per person counts."
		usage   = "Use /report with what fails for you: post, feed, login, dm, media, other (or nothing). Nothing was recorded."
	)
	me, you := strconv.Itoa(userID), strconv.Itoa(adminID)
	tests := []struct {
		name string
		push []func(f *telegramtest.Server) int
		// chat gets one answer per entry of answers, each containing its
		// strings (none at all when answers is nil); they reply to the
		// command in a group.
		chat    int64
		answers [][]string
		records []wantReport
	}{
		{
			name:    "a kind, in a private chat",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.Private(ann, "/report post") }},
			chat:    userID,
			answers: [][]string{{thanks, "1 report in the last 10 min (one per person, at most 2 per chat or server)."}},
			records: []wantReport{{me, userID, bot.ReportPost}},
		},
		{
			name:    "no kind records other",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.Private(ann, "/report") }},
			chat:    userID,
			answers: [][]string{{thanks, "1 report"}},
			records: []wantReport{{me, userID, bot.ReportOther}},
		},
		{
			name: "the same person twice counts once",
			push: []func(f *telegramtest.Server) int{
				func(f *telegramtest.Server) int { return f.Private(ann, "/report post") },
				func(f *telegramtest.Server) int { return f.Private(ann, "/report dm") },
			},
			chat:    userID,
			answers: [][]string{{thanks, "1 report"}, {already, "1 report"}},
			records: []wantReport{{me, userID, bot.ReportPost}},
		},
		{
			name: "three people in one group count two",
			push: []func(f *telegramtest.Server) int{
				func(f *telegramtest.Server) int { return f.Group(groupID, ann, "/report feed") },
				func(f *telegramtest.Server) int { return f.Group(groupID, bob, "/report@XStatusTestBot dm") },
				func(f *telegramtest.Server) int { return f.Group(groupID, cat, "/REPORT@xstatustestbot Media") },
			},
			chat: groupID,
			answers: [][]string{
				{thanks, "1 report in the last 10 min"},
				{thanks, "2 reports in the last 10 min"},
				{thanks, "2 reports in the last 10 min"},
			},
			records: []wantReport{{me, groupID, bot.ReportFeed}, {you, groupID, bot.ReportDM}, {"3003", groupID, bot.ReportMedia}},
		},
		{
			name:    "French",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.Private(ann2, "/report login") }},
			chat:    userID,
			answers: [][]string{{"Merci, votre signalement compte.", "1 signalement sur 10 min (un par personne, 2 au plus par discussion ou serveur)."}},
			records: []wantReport{{me, userID, bot.ReportLogin}},
		},
		{
			name: "French, already reported",
			push: []func(f *telegramtest.Server) int{
				func(f *telegramtest.Server) int { return f.Group(groupID, ann2, "/report") },
				func(f *telegramtest.Server) int { return f.Group(groupID, ann2, "/report post") },
			},
			chat:    groupID,
			answers: [][]string{{"Merci"}, {"Vous avez déjà signalé un problème il y a moins de 10 min", "1 signalement"}},
			records: []wantReport{{me, groupID, bot.ReportOther}},
		},
		{
			name:    "a word that is no kind gets the usage",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.Private(ann, "/report nonsense") }},
			chat:    userID,
			answers: [][]string{{usage}},
		},
		{
			name:    "the usage in a group, then a report",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.Group(groupID, ann, "/report everything") }, func(f *telegramtest.Server) int { return f.Group(groupID, ann, "/report other") }},
			chat:    groupID,
			answers: [][]string{{usage}, {thanks, "1 report"}},
			records: []wantReport{{me, groupID, bot.ReportOther}},
		},
		{
			name: "a report for another bot is ignored",
			push: []func(f *telegramtest.Server) int{
				func(f *telegramtest.Server) int { return f.Group(groupID, ann, "/report@OtherBot post") },
				func(f *telegramtest.Server) int { return f.Private(ann, "/report@OtherBot") },
			},
			chat: groupID,
		},
		{
			name:    "a channel post reports for the channel",
			push:    []func(f *telegramtest.Server) int{func(f *telegramtest.Server) int { return f.ChannelPost(chanID, "/report media") }},
			chat:    chanID,
			answers: [][]string{{thanks, "1 report"}},
			records: []wantReport{{"chat:" + strconv.Itoa(chanID), chanID, bot.ReportMedia}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newReportHarness(t, nil)
			var last int
			for _, push := range tc.push {
				last = push(h.fake)
			}
			h.handled(last)
			got := h.fake.SentTo(tc.chat)
			if len(got) != len(tc.answers) {
				t.Fatalf("%d answers, want %d: %+v", len(got), len(tc.answers), got)
			}
			for i, want := range tc.answers {
				for _, w := range want {
					if !strings.Contains(got[i].Plain, w) {
						t.Errorf("answer %d %q lacks %q", i, got[i].Plain, w)
					}
				}
				if (got[i].ReplyTo != 0) != (tc.chat == groupID) {
					t.Errorf("answer %d replies to %d; want a reply to the command in a group only", i, got[i].ReplyTo)
				}
			}
			if others := len(h.fake.Sent()) - len(got); others != 0 {
				t.Errorf("%d messages went to other chats", others)
			}
			var recorded []wantReport
			for _, r := range h.reports() {
				recorded = append(recorded, wantReport{r.User, mustInt(t, r.Chat.ID), r.Kind})
				if r.Chat.Platform != Platform || r.Group != "" || !r.At.Equal(t0) {
					t.Errorf("report %+v: want a Telegram one, in no group, at %v", r, t0)
				}
			}
			if !slices.Equal(recorded, tc.records) {
				t.Errorf("recorded %+v, want %+v", recorded, tc.records)
			}
		})
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("chat id %q: %v", s, err)
	}
	return n
}

// The command menu offers /report, described in English and French.
func TestReportInTheMenu(t *testing.T) {
	h := newReportHarness(t, nil)
	h.handled(h.fake.Private(telegramtest.User{ID: userID}, "/help"))
	for _, lang := range []string{"", "fr"} {
		menu := h.fake.Commands(lang)
		k := slices.IndexFunc(menu, func(c telegramtest.BotCommand) bool { return c.Command == "report" })
		if k < 0 || menu[k].Description != text.CommandDescription(lang, "report") || menu[k].Description == "" {
			t.Errorf("menu %q: %+v, want /report described as %q", lang, menu, text.CommandDescription(lang, "report"))
		}
	}
}

// A person flooding /report in a private chat and a group is slowed like
// for any command (three at once, then one every 2 s, one note a minute)
// and counts once; another person is not held up.
func TestFloodingReporterIsLimitedAndCountedOnce(t *testing.T) {
	words := map[string]struct{ thanks, already, two string }{
		"en": {"Thanks, your report counts.", "You already reported", "2 reports"},
		"fr": {"Merci, votre signalement compte.", "Vous avez déjà signalé", "2 signalements"},
	}
	for _, tt := range bottest.Languages() {
		t.Run(tt.Telegram, func(t *testing.T) {
			w := words[tt.Telegram]
			clock := bottest.NewClock(t0) // frozen: no budget comes back until the test says so
			h := newReportHarness(t, func(a *Bot) { a.limiter = command.NewLimiter(command.DefaultLimits(), clock) })
			user := telegramtest.User{ID: userID, LanguageCode: tt.Telegram}
			var last int
			for i := range 8 {
				if i%2 == 0 {
					last = h.fake.Private(user, "/report post")
				} else {
					last = h.fake.Group(groupID, user, "/report dm")
				}
			}
			h.handled(last)
			// Admitted: private, group, private; the group's second is
			// the note; the rest dropped.
			want := map[int64][]string{userID: {w.thanks, w.already}, groupID: {w.already, tt.SlowDown}}
			for chat, answers := range want {
				got := h.fake.SentTo(chat)
				if len(got) != len(answers) {
					t.Fatalf("chat %d got %d answers, want %d: %+v", chat, len(got), len(answers), got)
				}
				for i, a := range answers {
					if !strings.Contains(got[i].Plain, a) {
						t.Errorf("chat %d answer %d %q, want %q", chat, i, got[i].Plain, a)
					}
				}
			}
			if rs := h.reports(); len(rs) != 1 || rs[0].Kind != bot.ReportPost {
				t.Errorf("recorded %+v, want the first report only", rs)
			}

			// Another person in the group counts, at once.
			other := telegramtest.User{ID: adminID, LanguageCode: tt.Telegram}
			h.handled(h.fake.Group(groupID, other, "/report feed"))
			if g := h.fake.SentTo(groupID); len(g) != 3 || !strings.Contains(g[2].Plain, w.thanks) || !strings.Contains(g[2].Plain, w.two) {
				t.Errorf("another person's report: %+v, want thanks and a count of 2", g)
			}
			// 2 s later the flooder is answered again, and still counts once.
			clock.Advance(2 * time.Second)
			h.handled(h.fake.Private(user, "/report login"))
			if p := h.fake.SentTo(userID); len(p) != 3 || !strings.Contains(p[2].Plain, w.already) {
				t.Errorf("2 s later: %+v, want the already-reported answer last", p)
			}
			if rs := h.reports(); len(rs) != 2 {
				t.Errorf("%d reports recorded, want 2 (one per person)", len(rs))
			}
		})
	}
}
