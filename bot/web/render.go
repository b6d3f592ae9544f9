package web

import (
	"bytes"
	_ "embed"
	"html"
	"strconv"
)

// The page is written by hand rather than with html/template: the template
// engine's reflection makes the linker keep every exported method of the
// program, about 3 MB of binary that stays resident (the memory target is
// 20 MB). Every dynamic string goes through esc.

//go:embed page.css
var pageCSS string

var esc = html.EscapeString

// renderPage writes the status page for v.
func renderPage(v view) []byte {
	var b bytes.Buffer
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	w(`<!doctype html>
<html lang="`, esc(v.Lang), `">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
`)
	if v.Refresh > 0 {
		// A page left open follows X without any script (the CSP allows none).
		w(`<meta http-equiv="refresh" content="`, strconv.Itoa(v.Refresh), `">
`)
	}
	w(`<meta name="description" content="`, esc(v.OGDescription), `">
<meta property="og:type" content="website">
<meta property="og:site_name" content="`, esc(v.Title), `">
<meta property="og:title" content="`, esc(v.OGTitle), `">
<meta property="og:description" content="`, esc(v.OGDescription), `">
<meta property="og:locale" content="`, esc(v.Lang), `">
<title>`, esc(v.StateLine), ` · `, esc(v.Title), `</title>
<style>
`, pageCSS, `</style>
</head>
<body>
<main>
<header><h1>`, esc(v.Title), `</h1><a href="?lang=`, esc(v.OtherLangCode), `" lang="`, esc(v.OtherLangCode), `" hreflang="`, esc(v.OtherLangCode), `">`, esc(v.OtherLang), `</a></header>

<p class="state `, esc(v.State), `" id="state">`, esc(v.StateLine), "</p>\n")
	if v.Checked {
		if v.Since != "" {
			w("<p>", esc(v.Since), "</p>\n")
		}
		if v.CrowdOnly != "" {
			w(`<p class="warn" id="crowd-only">`, esc(v.CrowdOnly), "</p>\n")
		}
		if v.Regions != "" {
			w(`<p id="regions">`, esc(v.Regions), "</p>\n")
		}
		if v.Reports != "" {
			w(`<p id="reports">`, esc(v.Reports), "</p>\n")
		}
		w(`<p class="muted" id="checked">`)
		if v.Every != "" {
			w(esc(v.Every), " ")
		}
		w(esc(v.LastCheck), "</p>\n")
		if v.Network != "" {
			w(`<p class="warn" role="alert">`, esc(v.Network), "</p>\n")
		}
	} else {
		w(`<p id="no-check">`, esc(v.NoCheck), "</p>\n")
	}

	if v.Checked {
		w(`
<section aria-labelledby="h-components">
<h2 id="h-components">`, esc(v.ComponentsHeading), "</h2>\n")
		if len(v.Components) > 0 {
			w(`<ul class="plain" id="components">` + "\n")
			for _, c := range v.Components {
				class := "failing"
				if c.OK {
					class = "ok"
				}
				w(`<li><span class="tag `, class, `">`, esc(c.Result), `</span> <span class="name">`, esc(c.Name), "</span>")
				if c.Detail != "" {
					w(` <span class="muted">— `, esc(c.Detail), "</span>")
				}
				w("</li>\n")
			}
			w("</ul>")
		} else {
			w("<p>", esc(v.NoComponent), "</p>")
		}
		w(`
</section>

<section aria-labelledby="h-uptime">
<h2 id="h-uptime">`, esc(v.UptimeHeading), `</h2>
<dl class="uptime" id="uptime">
`)
		for _, u := range v.Uptime {
			w("<dt>", esc(u.Window), "</dt><dd>", esc(u.Figure))
			if u.Note != "" {
				w(" <small>(", esc(u.Note), ")</small>")
			}
			w("</dd>\n")
		}
		w(`</dl>
</section>

<section aria-labelledby="h-days">
<h2 id="h-days">`, esc(v.DaysHeading), "</h2>\n")
		if v.DaysSummary != "" {
			w("<p>", esc(v.DaysSummary), "</p>\n")
		}
		w(`<ol class="bar" id="days" aria-label="`, esc(v.DaysLabel), "\">\n")
		for _, d := range v.Days {
			w(`<li class="`, esc(d.State), `" title="`, esc(d.Text), `"><span class="vh">`, esc(d.Text), "</span></li>")
		}
		w("\n</ol>\n")
		if v.FirstDay != "" {
			w(`<p class="range" aria-hidden="true"><span>`, esc(v.FirstDay), "</span><span>", esc(v.LastDay), "</span></p>\n")
		}
		w(`<p class="muted">`, esc(v.Legend), "</p>\n</section>\n")
	}

	w(`
<section aria-labelledby="h-incidents">
<h2 id="h-incidents">`, esc(v.IncidentsHeading), "</h2>\n")
	if len(v.Incidents) > 0 {
		w(`<ul class="plain" id="incidents">` + "\n")
		for _, in := range v.Incidents {
			w(`<li><span class="tag `, esc(in.State), `">`, esc(in.Worst), "</span> ", esc(in.When))
			if in.Crowd != "" {
				w("\n", `<br><span class="muted">`, esc(in.Crowd), "</span>")
			}
			if len(in.Causes) > 0 {
				w("\n", `<br><span class="muted">`, esc(v.CausesHeading), "</span> ")
				for i, c := range in.Causes {
					if i > 0 {
						w("; ")
					}
					w(`<span class="name">`, esc(c.Name), "</span>")
					if c.Detail != "" {
						w(" (", esc(c.Detail), ")")
					}
				}
			}
			w("</li>\n")
		}
		w("</ul>")
	} else {
		w("<p>", esc(v.NoIncident), "</p>")
	}
	w("\n</section>\n\n<footer>")
	if v.Updated != "" {
		w("<p>", esc(v.Updated), "</p>")
	}
	w(`<p><a href="/api/status">/api/status</a> · <a href="/api/incidents">/api/incidents</a></p></footer>
</main>
</body>
</html>
`)
	return b.Bytes()
}
