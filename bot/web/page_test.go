package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/web"
	"github.com/xstatusbot/xstatusbot/probe"
)

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func newServer(t *testing.T, bs *boards) *httptest.Server {
	srv := httptest.NewServer(web.Page(bs, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return srv
}

func TestPageBeforeFirstBoard(t *testing.T) {
	srv := newServer(t, &boards{})
	for _, tt := range []struct{ lang, want string }{
		{"en", "No check has completed yet"},
		{"fr", "Aucune vérification terminée"},
	} {
		resp, body := get(t, srv.URL+"/?lang="+tt.lang)
		if resp.StatusCode != 200 || !strings.Contains(body, tt.want) || strings.Contains(body, `id="days"`) {
			t.Fatalf("%s: %d %s", tt.lang, resp.StatusCode, body)
		}
	}
	resp, body := get(t, srv.URL+"/api/status")
	var s struct {
		State      probe.State `json:"state"`
		Components []any       `json:"components"`
		Since      *string     `json:"since"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil || resp.StatusCode != 200 || s.State != probe.StateUnknown || s.Components == nil || s.Since != nil {
		t.Fatalf("%d %v %s", resp.StatusCode, err, body)
	}
	if resp, body := get(t, srv.URL+"/api/incidents"); resp.StatusCode != 200 || body != `{"incidents":[]}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestPageAfterOutage(t *testing.T) {
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := newServer(t, bs)
	cells := regexp.MustCompile(`<li class="(up|degraded|down|unknown)" title="[^"]+"><span class="vh">`)
	for _, tt := range []struct {
		name, query, accept string
		lang                string
		want                []string
	}{
		{"english by default", "", "", "en", []string{
			"X is up", "Since 2026-12-02 01:10 UTC (13h50m).", "Last 24 hours", "95.13%",
			"no data for 1h20m, left out of the figure", "2026-12-01: down, downtime 30m00s", "2026-09-04: no data",
			"3 days with downtime, 20 days without data", "2026-12-01 23:30 UTC to 2026-12-02 01:10 UTC, lasted 1h40m.",
			"connection refused", "120 ms"}},
		{"french by Accept-Language", "", "de-DE,fr;q=0.8,en;q=0.5", "fr", []string{
			"X fonctionne", "Depuis le 2026-12-02 01:10 UTC", "95,13\u00a0%", "2026-12-01 : en panne, interruption 30m00s",
			"Du 2026-12-01 23:30 UTC au 2026-12-02 01:10 UTC, durée 1h40m."}},
		{"?lang wins over the header", "?lang=en", "fr-FR", "en", []string{"X is up", "Last 7 days"}},
		{"unknown ?lang falls back to the header", "?lang=xx", "fr-CA", "fr", []string{"Disponibilité"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/"+tt.query, "Accept-Language", tt.accept)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Language") != tt.lang || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
			if !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("html lang is not %s", tt.lang)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if n := len(cells.FindAllString(body, -1)); n != 90 {
				t.Errorf("%d day cells with text, want 90", n)
			}
			if strings.Contains(body, "<script") || strings.Contains(body, "<b>") ||
				!strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;b&gt;bold&lt;/b&gt;") {
				t.Errorf("a component name or detail is not escaped")
			}
		})
	}
}

func TestPageWhileDown(t *testing.T) {
	bs := &boards{}
	bs.p.Store(downBoard())
	srv := newServer(t, bs)
	_, body := get(t, srv.URL+"/")
	for _, w := range []string{`class="state down"`, "X is down", "Ongoing since 2026-12-02 14:15 UTC, 45m00s so far.", "<dt>Last 24 hours</dt><dd>no data</dd>"} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	var s struct {
		Uptime map[string]struct {
			Percent       *float64 `json:"percent"`
			NoDataSeconds int64    `json:"no_data_seconds"`
		} `json:"uptime"`
		Incidents []struct {
			End             *string `json:"end"`
			Ongoing         bool    `json:"ongoing"`
			DurationSeconds int64   `json:"duration_seconds"`
		} `json:"incidents"`
	}
	_, js := get(t, srv.URL+"/api/status")
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	if u := s.Uptime["24h"]; u.Percent != nil || u.NoDataSeconds != 86400 {
		t.Errorf("24h uptime %+v, want percent null and a day without data", u)
	}
	if p := s.Uptime["30d"].Percent; p == nil || *p != 99.7151 {
		t.Errorf("30d percent %v", p)
	}
	if in := s.Incidents[0]; !in.Ongoing || in.End != nil || in.DurationSeconds != 45*60 {
		t.Errorf("open incident %+v", in)
	}
}

func TestStatusJSON(t *testing.T) {
	bs := &boards{}
	b := outageBoard()
	bs.p.Store(b)
	srv := newServer(t, bs)
	resp, body := get(t, srv.URL+"/api/status")
	if resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("headers %v", resp.Header)
	}
	var s struct {
		State      probe.State `json:"state"`
		Since      string      `json:"since"`
		LastCheck  string      `json:"last_check"`
		Components []struct {
			Name      string `json:"name"`
			OK        bool   `json:"ok"`
			LatencyMS int64  `json:"latency_ms"`
		} `json:"components"`
		Days []struct {
			Date            string      `json:"date"`
			Worst           probe.State `json:"worst"`
			DowntimeSeconds int64       `json:"downtime_seconds"`
			NoDataSeconds   int64       `json:"no_data_seconds"`
		} `json:"days"`
		Incidents []struct {
			Start           string      `json:"start"`
			End             string      `json:"end"`
			DurationSeconds int64       `json:"duration_seconds"`
			Worst           probe.State `json:"worst"`
			Causes          []struct {
				Component string `json:"component"`
			} `json:"causes"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.State != b.State || s.Since != "2026-12-02T01:10:00Z" || s.LastCheck != "2026-12-02T14:59:40Z" ||
		len(s.Components) != 3 || s.Components[1].Name != xssName || s.Components[0].LatencyMS != 120 {
		t.Errorf("head %+v", s)
	}
	if len(s.Days) != 90 {
		t.Fatalf("%d days", len(s.Days))
	}
	for i, d := range s.Days {
		want := b.Days[i]
		if d.Date != want.Date.Format("2006-01-02") || d.Worst != want.Worst || d.DowntimeSeconds != int64(want.Downtime.Seconds()) || d.NoDataSeconds != int64(want.NoData.Seconds()) {
			t.Errorf("day %d: %+v, board has %+v", i, d, want)
		}
	}
	if len(s.Incidents) != 3 || s.Incidents[0].DurationSeconds != 100*60 || s.Incidents[0].End != "2026-12-02T01:10:00Z" ||
		s.Incidents[0].Worst != probe.StateDown || len(s.Incidents[0].Causes) != 2 || s.Incidents[2].Causes == nil {
		t.Errorf("incidents %+v", s.Incidents)
	}
}

func TestETagAndNewBoard(t *testing.T) {
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := newServer(t, bs)
	for _, path := range []string{"/", "/api/status", "/api/incidents?limit=2"} {
		t.Run(path, func(t *testing.T) {
			bs.p.Store(outageBoard())
			resp, _ := get(t, srv.URL+path)
			etag := resp.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
				t.Fatalf("ETag %q is not strong", etag)
			}
			if resp, body := get(t, srv.URL+path, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || body != "" {
				t.Fatalf("same board: %d", resp.StatusCode)
			}
			bs.p.Store(downBoard())
			resp, body := get(t, srv.URL+path, "If-None-Match", etag)
			if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || body == "" {
				t.Fatalf("new board: %d %q", resp.StatusCode, resp.Header.Get("ETag"))
			}
		})
	}
	// The two languages are different documents.
	en, _ := get(t, srv.URL+"/?lang=en")
	fr, _ := get(t, srv.URL+"/?lang=fr")
	if en.Header.Get("ETag") == fr.Header.Get("ETag") {
		t.Error("English and French share an ETag")
	}
}

func TestIncidentsLimit(t *testing.T) {
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := newServer(t, bs)
	for _, tt := range []struct {
		query string
		code  int
		n     int
	}{
		{"", 200, 3}, {"?limit=1", 200, 1}, {"?limit=2", 200, 2}, {"?limit=100", 200, 3},
		{"?limit=0", 400, 0}, {"?limit=101", 400, 0}, {"?limit=-3", 400, 0}, {"?limit=ten", 400, 0}, {"?limit=1.5", 400, 0},
	} {
		resp, body := get(t, srv.URL+"/api/incidents"+tt.query)
		var got struct {
			Incidents []struct {
				Start string `json:"start"`
			} `json:"incidents"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != tt.code {
			t.Errorf("%s: %d %v %s", tt.query, resp.StatusCode, err, body)
			continue
		}
		if tt.code == 400 && !strings.Contains(got.Error, "limit must be a whole number from 1 to 100") {
			t.Errorf("%s: error %q", tt.query, got.Error)
		}
		if tt.code == 200 && (len(got.Incidents) != tt.n || got.Incidents[0].Start != "2026-12-01T23:30:00Z") {
			t.Errorf("%s: %+v", tt.query, got.Incidents)
		}
	}
}

func TestPageRoutes(t *testing.T) {
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := newServer(t, bs)
	if resp, _ := get(t, srv.URL+"/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
	resp, err := http.Post(srv.URL+"/api/status", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp, _ = get(t, srv.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestPageSaysWhereXFails(t *testing.T) {
	bs := &boards{}
	b := downBoard()
	b.Regions = []bot.RegionVerdict{{Region: "ap-south", Verdict: probe.VerdictUp}, {Region: "eu-west", Verdict: probe.VerdictDown}, {Region: "us-east", Verdict: probe.VerdictDown}, {Region: "sa-east", Verdict: bot.VerdictSilent}}
	bs.p.Store(b)
	srv := newServer(t, bs)
	for lang, want := range map[string]string{
		"en": `<p id="regions">Down from eu-west, us-east; up from ap-south; not heard from sa-east.</p>`,
		"fr": `<p id="regions">En panne vu de eu-west, us-east ; en ligne vu de ap-south ; sans nouvelles de sa-east.</p>`,
	} {
		if _, body := get(t, srv.URL+"/?lang="+lang); !strings.Contains(body, want) {
			t.Errorf("page in %s lacks %s", lang, want)
		}
	}
	var s struct {
		Regions []bot.RegionVerdict `json:"regions"`
	}
	_, js := get(t, srv.URL+"/api/status")
	if err := json.Unmarshal([]byte(js), &s); err != nil || !slices.Equal(s.Regions, b.Regions) {
		t.Fatalf("regions in /api/status %+v, %v; want %+v", s.Regions, err, b.Regions)
	}

	bs.p.Store(downBoard()) // regions that agree, or one region: no line, no field
	if _, body := get(t, srv.URL+"/"); strings.Contains(body, `id="regions"`) {
		t.Error("page shows a breakdown without one")
	}
	if _, js := get(t, srv.URL+"/api/status"); strings.Contains(js, `"regions"`) {
		t.Errorf("/api/status has regions without a breakdown: %s", js)
	}
}
