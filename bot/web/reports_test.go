package web_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/probe"
)

// TestPageShowsPeoplesReports: the page says what people reported in the
// last window, by kind, as /status does; when their reports alone make X
// degraded it says the probes pass; a crowd-only incident is marked as
// people's, not as a worst state with failing components; a mixed one names
// the reports among its causes in words. In both languages.
func TestPageShowsPeoplesReports(t *testing.T) {
	quiet := outageBoard()
	quiet.Crowd = bot.Crowd{Window: 10 * time.Minute, At: boardTime}
	few := outageBoard()
	few.Crowd = bot.Crowd{Reports: 2, Window: 10 * time.Minute, Kinds: []bot.KindCount{{Kind: bot.ReportLogin, Count: 2}}}
	// Before the board holds the open incident, the last round tells.
	signalOnly := reportedBoard()
	signalOnly.Incidents = signalOnly.Incidents[1:]
	slow := reportedBoard()
	slow.Incidents = slow.Incidents[1:]
	slow.Components[1].Slow = true

	for _, tc := range []struct {
		name  string
		board *bot.Board
		lang  string
		want  []string
		not   []string
	}{
		{"no reports", quiet, "en", nil,
			[]string{`id="reports"`, `id="crowd-only"`, "People&#39;s reports", "Reported by people", `class="tag reported"`}},
		{"no reports", quiet, "fr", nil,
			[]string{`id="reports"`, `id="crowd-only"`, "Signalements", "Signalé par des utilisateurs", `class="tag reported"`}},
		{"reports under the signal", few, "en",
			[]string{`<p id="reports">People&#39;s reports in the last 10 min: 2 reports (logging in 2).</p>`},
			[]string{`id="crowd-only"`, `class="tag reported"`}},
		{"reports under the signal", few, "fr",
			[]string{`<p id="reports">Signalements sur 10 min : 2 signalements (la connexion 2).</p>`},
			[]string{`id="crowd-only"`}},
		{"reports alone", reportedBoard(), "en", []string{
			`<p class="state degraded" id="state">X is degraded</p>`,
			`<p class="warn" id="crowd-only">People report problems with X; our probes of the public site pass.</p>`,
			`<p id="reports">People&#39;s reports in the last 10 min: 7 reports (posting 4, the feed 2, other 1).</p>`,
			`<meta property="og:description" content="People report problems with X; our probes of the public site pass. Since 2026-12-02 14:48 UTC`,
			`<li><span class="tag reported">reported</span> Ongoing since 2026-12-02 14:48 UTC, 12m00s so far.` + "\n" +
				`<br><span class="muted">Reported by people (7 reports in 10 min, mostly posting); our probes of the public site saw no failure.</span></li>`,
		}, []string{`<span class="name">reports</span>`, `<span class="tag degraded">degraded</span> Ongoing`, `class="tag failing"`}},
		{"reports alone", reportedBoard(), "fr", []string{
			`<p class="warn" id="crowd-only">Des utilisateurs signalent des problèmes avec X ; nos sondes du site public passent.</p>`,
			`<p id="reports">Signalements sur 10 min : 7 signalements (publier 4, le fil 2, autre 1).</p>`,
			`<li><span class="tag reported">signalé</span> En cours depuis le 2026-12-02 14:48 UTC, 12m00s jusqu&#39;ici.` + "\n" +
				`<br><span class="muted">Signalé par des utilisateurs (7 signalements en 10 min, surtout publier) ; nos sondes du site public n&#39;ont vu aucune panne.</span></li>`,
		}, []string{`<span class="name">reports</span>`, `<span class="tag degraded">dégradé</span> En cours`}},
		{"probes and reports", mixedBoard(), "en", []string{
			`<p id="reports">People&#39;s reports in the last 10 min: 7 reports (posting 4, the feed 2, other 1).</p>`,
			`<li><span class="tag down">down</span> Ongoing since 2026-12-02 14:15 UTC, 45m00s so far.` + "\n" +
				`<br><span class="muted">Causes:</span> <span class="name">api.x.com</span> (HTTP 502); <span class="name">People&#39;s reports</span> (7 reports in 10 min, mostly posting)</li>`,
		}, []string{`id="crowd-only"`, `<span class="name">reports</span>`, `class="tag reported"`, "Reported by people"}},
		{"probes and reports", mixedBoard(), "fr", []string{
			`<br><span class="muted">Causes :</span> <span class="name">api.x.com</span> (HTTP 502); <span class="name">Signalements</span> (7 signalements en 10 min, surtout publier)</li>`,
		}, []string{`id="crowd-only"`, `<span class="name">reports</span>`, "Signalé par des utilisateurs"}},
		{"signal before the incident is on the board", signalOnly, "en",
			[]string{`<p class="warn" id="crowd-only">People report problems with X; our probes of the public site pass.</p>`}, nil},
		{"signal while a probe is slow", slow, "en",
			[]string{`<p id="reports">People&#39;s reports in the last 10 min: 7 reports`}, []string{`id="crowd-only"`}},
	} {
		t.Run(tc.name+"/"+tc.lang, func(t *testing.T) {
			bs := &boards{}
			bs.p.Store(tc.board)
			srv := newServer(t, bs)
			_, body := get(t, srv.URL+"/?lang="+tc.lang)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("page has %s", n)
				}
			}
		})
	}
}

// statusReports is the part of /api/status this file reads.
type statusReports struct {
	Reports *struct {
		WindowSeconds *int64   `json:"window_seconds"`
		Count         *int     `json:"count"`
		Usual         *float64 `json:"usual"`
		Kinds         []struct {
			Kind  bot.ReportKind `json:"kind"`
			Count int            `json:"count"`
		} `json:"kinds"`
		Signal *bool `json:"signal"`
	} `json:"reports"`
	Incidents []incidentReports `json:"incidents"`
}

type incidentReports struct {
	Start   string      `json:"start"`
	Ongoing bool        `json:"ongoing"`
	Worst   probe.State `json:"worst"`
	Source  string      `json:"source"`
	Causes  []struct {
		Component     string `json:"component"`
		Detail        string `json:"detail"`
		FirstSeen     string `json:"first_seen"`
		Reports       int    `json:"reports"`
		Mostly        string `json:"mostly"`
		WindowSeconds int64  `json:"window_seconds"`
	} `json:"causes"`
}

// TestStatusJSONReports: /api/status carries people's reports of the last
// window (count 0 and no kinds when there are none, even before the first
// round), and each incident, there and in /api/incidents, says whether the
// probes saw it or people's reports alone raised it; existing fields stay.
func TestStatusJSONReports(t *testing.T) {
	quiet := outageBoard()
	quiet.Crowd = bot.Crowd{Window: 10 * time.Minute, At: boardTime}
	const seven = `"reports":{"window_seconds":600,"count":7,"usual":0.5,"kinds":[{"kind":"post","count":4},{"kind":"feed","count":2},{"kind":"other","count":1}],"signal":true}`
	for _, tc := range []struct {
		name    string
		board   *bot.Board
		reports string   // the "reports" member, exactly
		sources []string // each incident's source, newest first
	}{
		{"before the first round", nil, `"reports":{"window_seconds":0,"count":0,"usual":0,"kinds":[],"signal":false}`, nil},
		{"no reports", quiet, `"reports":{"window_seconds":600,"count":0,"usual":0,"kinds":[],"signal":false}`,
			[]string{"probes", "probes", "probes"}},
		{"reports alone", reportedBoard(), seven, []string{"reports", "probes", "probes", "probes"}},
		{"probes and reports", mixedBoard(), seven, []string{"probes", "probes", "probes", "probes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := &boards{}
			bs.p.Store(tc.board)
			srv := newServer(t, bs)
			_, body := get(t, srv.URL+"/api/status")
			if !strings.Contains(body, tc.reports) {
				t.Errorf("/api/status lacks %s:\n%s", tc.reports, body)
			}
			var s statusReports
			if err := json.Unmarshal([]byte(body), &s); err != nil {
				t.Fatal(err)
			}
			if r := s.Reports; r == nil || r.WindowSeconds == nil || r.Count == nil || r.Usual == nil || r.Kinds == nil || r.Signal == nil {
				t.Fatalf("reports %+v: every member must be there", r)
			}
			_, list := get(t, srv.URL+"/api/incidents?limit=100")
			var all struct {
				Incidents []incidentReports `json:"incidents"`
			}
			if err := json.Unmarshal([]byte(list), &all); err != nil {
				t.Fatal(err)
			}
			for name, in := range map[string][]incidentReports{"/api/status": s.Incidents, "/api/incidents": all.Incidents} {
				if len(in) != len(tc.sources) {
					t.Fatalf("%s: %d incidents, want %d", name, len(in), len(tc.sources))
				}
				for i, want := range tc.sources {
					if in[i].Source != want || in[i].Start == "" || in[i].Worst == "" || in[i].Causes == nil {
						t.Errorf("%s: incident %d %+v, want source %q and the usual fields", name, i, in[i], want)
					}
				}
			}
		})
	}

	// People's cause, in a crowd-only incident and beside a failing component.
	for _, b := range []*bot.Board{reportedBoard(), mixedBoard()} {
		bs := &boards{}
		bs.p.Store(b)
		srv := newServer(t, bs)
		var s statusReports
		if _, body := get(t, srv.URL+"/api/status"); json.Unmarshal([]byte(body), &s) != nil {
			t.Fatal(body)
		}
		causes := s.Incidents[0].Causes
		c := causes[len(causes)-1]
		if c.Component != bot.CrowdComponent || c.Reports != 7 || c.Mostly != "post" || c.WindowSeconds != 600 ||
			c.Detail != "7 reports in 10m0s, mostly post" || c.FirstSeen == "" {
			t.Errorf("people's cause %+v", c)
		}
		if len(causes) > 1 && (causes[0].Component != "api.x.com" || causes[0].Reports != 0 || causes[0].WindowSeconds != 0) {
			t.Errorf("a probe's cause %+v", causes[0])
		}
	}
}

// TestReportsNeverSayWho: the page and the JSON show counts only. Reports
// made by known people in known chats, counted by the crowd rule as the
// monitor counts them, never bring a reporter id, user id, chat id, server
// id or report id into any answer, in either language.
func TestReportsNeverSayWho(t *testing.T) {
	const window = 10 * time.Minute
	tally := crowd.NewTally(crowd.Rule{Reports: 3, Window: window})
	at := boardTime.Add(-5 * time.Minute)
	tg := bot.ChatRef{Platform: tgPlatform, ID: "-1001847733501"}
	reports := []bot.Report{
		{ID: 770001, User: "tg-user-58213377", Chat: tg, Kind: bot.ReportPost, At: at},
		{ID: 770002, User: "tg-user-58213378", Chat: tg, Kind: bot.ReportFeed, At: at.Add(time.Second)},
		{ID: 770003, User: "tg-user-58213379", Chat: tg, Kind: bot.ReportPost, At: at.Add(2 * time.Second)}, // a third in one chat: not counted
		{ID: 770004, User: "chat:-1001847733502", Chat: bot.ChatRef{Platform: tgPlatform, ID: "-1001847733502"}, Kind: bot.ReportLogin, At: at.Add(3 * time.Second)},
		{ID: 770005, User: "dc-user-914400112233", Chat: bot.ChatRef{Platform: dcPlatform, ID: "dc-channel-1180099"}, Group: "dc-guild-5517002",
			Kind: bot.ReportPost, At: at.Add(4 * time.Second)},
		{ID: 770006, User: "tg-user-58213377", Chat: tg, Kind: bot.ReportDM, At: at.Add(5 * time.Second)}, // the same person again
	}
	tally.AddAll(reports)
	people := tally.Read(boardTime)
	if people.Reports != 4 || !people.Signal {
		t.Fatalf("the tally counts %+v, want 4 reports and the signal", people)
	}
	b := reportedBoard()
	b.Crowd = people
	b.Incidents[0].Causes = []bot.Cause{crowdCause(people, b.Since)}
	m := mixedBoard()
	m.Crowd = people
	m.Incidents[0].Causes[1] = crowdCause(people, m.Since)

	var secrets []string
	for _, r := range reports {
		secrets = append(secrets, r.User, r.Chat.ID, r.Chat.String(), strings.TrimPrefix(r.User, "chat:"), strconv.FormatInt(r.ID, 10))
		if r.Group != "" {
			secrets = append(secrets, r.Group)
		}
	}
	for _, board := range []*bot.Board{b, m} {
		bs := &boards{}
		bs.p.Store(board)
		srv := newServer(t, bs)
		for path, count := range map[string]string{
			"/?lang=en": "4 reports", "/?lang=fr": "4 signalements", "/api/status": `"count":4`, "/api/incidents?limit=100": `"reports":4`,
		} {
			_, body := get(t, srv.URL+path)
			if !strings.Contains(body, count) {
				t.Errorf("%s does not show the 4 reports (%s): %s", path, count, body)
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s shows %q: a report must never say who made it, or where", path, s)
				}
			}
			for _, key := range []string{`"user"`, `"chat"`, `"group"`, `"id"`, `"at"`} {
				if strings.Contains(body, key) {
					t.Errorf("%s has a %s member", path, key)
				}
			}
		}
	}
}
