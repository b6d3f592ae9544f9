package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/xstatusbot/xstatusbot/bot/web"
)

// TestPageInBrowser loads the page after an outage in Debian's chromium at
// phone width, reads what a person (and a screen reader) gets, and keeps a
// screenshot to look at; then the page while people's reports alone make X
// degraded, in French.
func TestPageInBrowser(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it): the browser test cannot run")
	}
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := httptest.NewServer(web.Page(bs, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	// Starting chromium under -race on a loaded machine can take long.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()

	var dialogs atomic.Int32
	if err := chromedp.Listen(bctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(360, 740),
		chromedp.Navigate(srv.URL+"/?lang=en"),
		chromedp.WaitVisible(chromedp.ID("incidents")),
	); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		State     string   `json:"state"`
		Cells     int      `json:"cells"`
		FirstCell string   `json:"firstCell"`
		LastCell  string   `json:"lastCell"`
		CellTitle string   `json:"cellTitle"`
		Names     []string `json:"names"`
		Incidents string   `json:"incidents"`
		Scripts   int      `json:"scripts"`
		Width     int      `json:"width"`
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[seen](`(() => {
		const cells = [...document.querySelectorAll('#days li')];
		return {
			state: document.getElementById('state').innerText,
			cells: cells.length,
			firstCell: cells[0].textContent,
			lastCell: cells[cells.length-1].textContent,
			cellTitle: cells[cells.length-1].title,
			names: [...document.querySelectorAll('#components .name')].map(e => e.textContent),
			incidents: document.getElementById('incidents').innerText,
			scripts: document.scripts.length,
			width: document.documentElement.scrollWidth,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "X is up" {
		t.Errorf("state text %q", got.State)
	}
	if got.Cells != 90 || got.FirstCell != "2026-09-04: no data" || got.LastCell != "2026-12-02: down, downtime 1h10m" || got.CellTitle != got.LastCell {
		t.Errorf("day cells: %d, first %q, last %q (title %q)", got.Cells, got.FirstCell, got.LastCell, got.CellTitle)
	}
	if !strings.Contains(got.Incidents, "2026-12-01 23:30 UTC to 2026-12-02 01:10 UTC, lasted 1h40m.") {
		t.Errorf("incidents: %q", got.Incidents)
	}
	if len(got.Names) != 3 || got.Names[1] != xssName || got.Scripts != 0 || dialogs.Load() != 0 {
		t.Errorf("component names %q, %d script elements, %d dialogs: the name must show as text", got.Names, got.Scripts, dialogs.Load())
	}
	if got.Width > 360 {
		t.Errorf("the page is %d px wide on a 360 px screen: it scrolls sideways", got.Width)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("XSTATUSBOT_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		path := filepath.Join(d, "status-page-360.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot at 360×740: %s", path)
	}

	// People's reports alone make X degraded: the note, the reports line and
	// the incident's tag read as text and fit the screen too.
	bs.p.Store(reportedBoard())
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/?lang=fr"), chromedp.WaitVisible(chromedp.ID("crowd-only"))); err != nil {
		t.Fatal(err)
	}
	type reported struct {
		Note    string `json:"note"`
		Reports string `json:"reports"`
		Tag     string `json:"tag"`
		Width   int    `json:"width"`
	}
	rep, err := chromedp.Run(bctx, chromedp.Evaluate[reported](`({
		note: document.getElementById('crowd-only').innerText,
		reports: document.getElementById('reports').innerText,
		tag: document.querySelector('#incidents .tag').innerText,
		width: document.documentElement.scrollWidth,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Note, "nos sondes du site public passent") || !strings.HasPrefix(rep.Reports, "Signalements sur 10 min : 7 signalements") ||
		rep.Tag != "signalé" || rep.Width > 360 {
		t.Errorf("page of people's reports: %+v", rep)
	}
}
