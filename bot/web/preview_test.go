package web_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPageRefreshesAndPreviewsTheState: a page left open reloads itself at
// the check interval (no script: a meta refresh), and its link preview
// (OpenGraph title and description, which Telegram and Discord show for a
// pasted link) gives the state and since when, in the page's language.
func TestPageRefreshesAndPreviewsTheState(t *testing.T) {
	b := downBoard()
	b.Every = 30 * time.Second
	bs := &boards{}
	bs.p.Store(b)
	srv := newServer(t, bs)
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"en", []string{
			`<meta http-equiv="refresh" content="30">`,
			`<meta property="og:title" content="X is down since 2026-12-02 14:15 UTC">`,
			`<meta property="og:description" content="Since 2026-12-02 14:15 UTC (45m00s). X is checked every 30s. Last check: 2026-12-02 14:59 UTC.">`,
			`<p class="muted" id="checked">X is checked every 30s. Last check: 2026-12-02 14:59 UTC.</p>`,
		}},
		{"fr", []string{
			`<meta http-equiv="refresh" content="30">`,
			`<meta property="og:title" content="X est en panne depuis le 2026-12-02 14:15 UTC">`,
			`X est vérifié toutes les 30s.`,
		}},
	} {
		_, body := get(t, srv.URL+"/?lang="+tc.lang)
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s page lacks %s", tc.lang, w)
			}
		}
	}
	var s struct {
		EverySeconds int64 `json:"every_seconds"`
	}
	if _, js := get(t, srv.URL+"/api/status"); json.Unmarshal([]byte(js), &s) != nil || s.EverySeconds != 30 {
		t.Errorf("/api/status every_seconds %d, want 30", s.EverySeconds)
	}

	// Up: the preview's title is the state alone; at @every 1s the page
	// reloads every 10 s, as often as caches let a reload show anything new.
	up := outageBoard()
	up.Every = time.Second
	bs.p.Store(up)
	_, body := get(t, srv.URL+"/?lang=en")
	for _, w := range []string{`<meta http-equiv="refresh" content="10">`, `<meta property="og:title" content="X is up">`,
		`<meta property="og:description" content="Since 2026-12-02 01:10 UTC`} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %s", w)
		}
	}
	// Before the first round there is nothing to refresh for: the board comes with it.
	bs.p.Store(nil)
	if _, body := get(t, srv.URL+"/"); strings.Contains(body, "http-equiv") || !strings.Contains(body, `og:description" content="No check has completed yet.`) {
		t.Errorf("page before the first board: %s", body[:min(len(body), 800)])
	}
}
