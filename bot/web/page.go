package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/probe"
)

// Boards gives the latest board without blocking; nil before the first round.
type Boards interface{ Board() *bot.Board }

// maxAge is how long browsers and proxies may reuse an answer: short next to
// a probe interval, long enough to absorb a crowd reloading the page.
const maxAge = "public, max-age=10"

// csp forbids every script and outside resource: the page needs none, and it
// keeps a name that slipped through escaping inert.
const csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Page serves the public status page: GET / (HTML, English or French),
// GET /api/status (JSON) and GET /api/incidents?limit=N. Answers are rendered
// once per board and language and then served from memory, so a crowd costs
// no template work and never reaches the database.
func Page(boards Boards, log *slog.Logger) http.Handler {
	p := &page{boards: boards, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		t := pickLang(r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
		e := p.get(key{kind: "html", lang: t.lang}, func(b *bot.Board) ([]byte, error) {
			return renderPage(newView(b, t)), nil
		})
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Content-Language", t.lang)
		p.serve(w, r, e, "text/html; charset=utf-8")
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, p.get(key{kind: "status"}, func(b *bot.Board) ([]byte, error) {
			return json.Marshal(newStatus(b))
		}), "application/json")
	})
	mux.HandleFunc("GET /api/incidents", func(w http.ResponseWriter, r *http.Request) {
		n := 20
		if v := r.URL.Query().Get("limit"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("limit must be a whole number from 1 to 100, got %q", v)})
				return
			}
		}
		p.serve(w, r, p.get(key{kind: "incidents", n: n}, func(b *bot.Board) ([]byte, error) {
			var in []bot.Incident
			if b != nil {
				in = b.Incidents[:min(n, len(b.Incidents))]
			}
			return json.Marshal(struct {
				Incidents []incidentJSON `json:"incidents"`
			}{incidentsJSON(in, asOf(b))})
		}), "application/json")
	})
	return mux
}

type page struct {
	boards Boards
	log    *slog.Logger

	mu    sync.Mutex
	board *bot.Board // the board the entries were rendered from
	out   map[key]*entry
}

type key struct {
	kind, lang string
	n          int
}

// entry is one rendered answer; once makes concurrent first requests share
// one rendering.
type entry struct {
	once sync.Once
	body []byte
	etag string
	err  error
}

// get returns the answer for k rendered from the current board, rendering it
// the first time only. A new board drops every earlier answer.
func (p *page) get(k key, render func(*bot.Board) ([]byte, error)) *entry {
	b := p.boards.Board()
	p.mu.Lock()
	if p.out == nil || p.board != b {
		p.board, p.out = b, map[key]*entry{}
	}
	e := p.out[k]
	if e == nil {
		e = &entry{}
		p.out[k] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		e.body, e.err = render(b)
		sum := sha256.Sum256(e.body)
		e.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	})
	return e
}

func (p *page) serve(w http.ResponseWriter, r *http.Request, e *entry, contentType string) {
	if e.err != nil {
		p.log.Error("status page: render failed", "err", e.err, "path", r.URL.Path)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", maxAge)
	h.Set("ETag", e.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", csp)
	// ServeContent answers If-None-Match with 304 from the ETag set above.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(e.body))
}

// asOf is the board's "now": open incidents and "since" are measured to it,
// so an answer stays the same until the next board.
func asOf(b *bot.Board) time.Time {
	if b == nil {
		return time.Time{}
	}
	if !b.Built.IsZero() {
		return b.Built
	}
	return b.LastCheck
}

// statusJSON is the document /api/status serves. Its fields are a public
// schema, documented in this package's README.md: change one only with it.
type statusJSON struct {
	State      probe.State     `json:"state"`
	Since      time.Time       `json:"since,omitzero"`
	LastCheck  time.Time       `json:"last_check,omitzero"`
	ControlOK  bool            `json:"control_ok"`
	Components []componentJSON `json:"components"`
	Uptime     struct {
		H24 uptimeJSON `json:"24h"`
		D7  uptimeJSON `json:"7d"`
		D30 uptimeJSON `json:"30d"`
	} `json:"uptime"`
	Days      []dayJSON      `json:"days"`
	Incidents []incidentJSON `json:"incidents"`
	// Reports is what people reported in the last window (never who).
	Reports reportsJSON `json:"reports"`
	// Regions is what each vantage point saw when they disagreed.
	Regions []bot.RegionVerdict `json:"regions,omitempty"`
	Built   time.Time           `json:"built,omitzero"`
	// EverySeconds is how often X is checked; 0 when not known.
	EverySeconds int64 `json:"every_seconds,omitempty"`
}

type componentJSON struct {
	Name      string `json:"name"`
	OK        bool   `json:"ok"`
	LatencyMS int64  `json:"latency_ms"`
	Detail    string `json:"detail,omitempty"`
}

type uptimeJSON struct {
	// Percent is null when the window holds no data at all.
	Percent         *float64 `json:"percent"`
	WindowSeconds   int64    `json:"window_seconds"`
	UpSeconds       int64    `json:"up_seconds"`
	DegradedSeconds int64    `json:"degraded_seconds"`
	DownSeconds     int64    `json:"down_seconds"`
	NoDataSeconds   int64    `json:"no_data_seconds"`
}

type dayJSON struct {
	Date            string      `json:"date"`
	Worst           probe.State `json:"worst"`
	DowntimeSeconds int64       `json:"downtime_seconds"`
	NoDataSeconds   int64       `json:"no_data_seconds"`
}

// reportsJSON is people's reports of the last window: how many, by kind,
// and whether they make X degraded. It holds counts only: a report is never
// shown with who made it, or where.
type reportsJSON struct {
	WindowSeconds int64            `json:"window_seconds"`
	Count         int              `json:"count"`
	Usual         float64          `json:"usual"`
	Kinds         []reportKindJSON `json:"kinds"`
	Signal        bool             `json:"signal"`
}

type reportKindJSON struct {
	Kind  bot.ReportKind `json:"kind"`
	Count int            `json:"count"`
}

// Incident sources: whether the probes saw X fail, or people's reports alone
// raised the incident while the probes passed.
const (
	sourceProbes  = "probes"
	sourceReports = "reports"
)

type incidentJSON struct {
	Start           time.Time   `json:"start"`
	End             time.Time   `json:"end,omitzero"`
	Ongoing         bool        `json:"ongoing"`
	DurationSeconds int64       `json:"duration_seconds"`
	Worst           probe.State `json:"worst"`
	Source          string      `json:"source"`
	Causes          []causeJSON `json:"causes"`
}

// causeJSON is one cause of an incident; people's reports are the
// component "reports", with their count, the kind most named and the window.
type causeJSON struct {
	Component     string    `json:"component"`
	Detail        string    `json:"detail"`
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	LastSeen      time.Time `json:"last_seen,omitzero"`
	Reports       int       `json:"reports,omitempty"`
	Mostly        string    `json:"mostly,omitempty"`
	WindowSeconds int64     `json:"window_seconds,omitempty"`
}

func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

func newStatus(b *bot.Board) statusJSON {
	s := statusJSON{State: probe.StateUnknown, Components: []componentJSON{}, Days: []dayJSON{},
		Reports: reportsJSON{Kinds: []reportKindJSON{}}}
	if b == nil {
		s.Incidents = []incidentJSON{}
		return s
	}
	s.State, s.Since, s.LastCheck, s.ControlOK, s.Built = b.State, b.Since, b.LastCheck, b.ControlOK, b.Built
	s.Regions, s.EverySeconds = b.Regions, seconds(b.Every)
	s.Reports.WindowSeconds, s.Reports.Count, s.Reports.Usual, s.Reports.Signal =
		seconds(b.Crowd.Window), b.Crowd.Reports, b.Crowd.Usual, b.Crowd.Signal
	for _, k := range b.Crowd.Kinds {
		s.Reports.Kinds = append(s.Reports.Kinds, reportKindJSON{Kind: k.Kind, Count: k.Count})
	}
	for _, c := range b.Components {
		s.Components = append(s.Components, componentJSON{Name: c.Name, OK: c.OK, LatencyMS: c.Latency.Milliseconds(), Detail: c.Detail})
	}
	s.Uptime.H24, s.Uptime.D7, s.Uptime.D30 = uptime(b.Uptime24h), uptime(b.Uptime7d), uptime(b.Uptime30d)
	for _, d := range b.Days {
		s.Days = append(s.Days, dayJSON{Date: d.Date.UTC().Format(time.DateOnly), Worst: d.Worst,
			DowntimeSeconds: seconds(d.Downtime), NoDataSeconds: seconds(d.NoData)})
	}
	s.Incidents = incidentsJSON(b.Incidents[:min(len(b.Incidents), history.ShownIncidents)], asOf(b))
	return s
}

func uptime(u bot.Uptime) uptimeJSON {
	j := uptimeJSON{WindowSeconds: seconds(u.Window), UpSeconds: seconds(u.Up), DegradedSeconds: seconds(u.Degraded),
		DownSeconds: seconds(u.Down), NoDataSeconds: seconds(u.NoData)}
	if u.Percent >= 0 {
		p := u.Percent
		j.Percent = &p
	}
	return j
}

func incidentsJSON(in []bot.Incident, now time.Time) []incidentJSON {
	out := make([]incidentJSON, 0, len(in))
	for _, i := range in {
		causes := make([]causeJSON, 0, len(i.Causes))
		for _, c := range i.Causes {
			causes = append(causes, causeJSON{Component: c.Component, Detail: c.Detail, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen,
				Reports: c.Reports, Mostly: c.Mostly, WindowSeconds: seconds(c.Window)})
		}
		source := sourceProbes
		if bot.CrowdOnly(i.Causes) {
			source = sourceReports
		}
		out = append(out, incidentJSON{Start: i.Start, End: i.End, Ongoing: i.Open(),
			DurationSeconds: seconds(i.Duration(now)), Worst: i.Worst, Source: source, Causes: causes})
	}
	return out
}
