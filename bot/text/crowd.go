package text

import (
	"fmt"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// ParseReportKind reads /report's argument: a kind (in English as the
// menu shows it), or nothing for "other". ok is false for anything else.
func ParseReportKind(arg string) (bot.ReportKind, bool) {
	arg = strings.ToLower(strings.TrimSpace(arg))
	if arg == "" {
		return bot.ReportOther, true
	}
	for _, k := range bot.ReportKinds {
		if arg == string(k) {
			return k, true
		}
	}
	return "", false
}

// RenderReport answers /report: thanks (or that this person already
// counts), and how many reports the window holds.
func RenderReport(lang string, added bool, reports int, window time.Duration, perGroup int) bot.Message {
	c := For(lang)
	first := c.ReportThanks
	if !added {
		first = fmt.Sprintf(c.ReportAgain, span(window))
	}
	return bot.Message{Title: first, Lines: []string{fmt.Sprintf(c.ReportCount, c.reports(reports), span(window), perGroup)}, Private: true}
}

// ReportUsage answers /report with an argument that is not a kind.
func ReportUsage(lang string) bot.Message {
	kinds := make([]string, len(bot.ReportKinds))
	for i, k := range bot.ReportKinds {
		kinds[i] = string(k)
	}
	return Private(fmt.Sprintf(For(lang).ReportUsage, strings.Join(kinds, ", ")))
}

// reports is a count of reports: "1 report", "7 reports".
func (c *Catalog) reports(n int) string {
	if n == 1 {
		return c.ReportsOne
	}
	return fmt.Sprintf(c.ReportsMany, n)
}

// span is a window as people say it: "10 min", "1 h".
func span(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return FormatDuration(d)
}

// mostly is ", mostly posting"-like text for the kind most named, in the
// form the format asks; "" when no kind stands out.
func (c *Catalog) mostly(kind string, format string) string {
	if kind == "" || kind == string(bot.ReportOther) {
		return ""
	}
	return fmt.Sprintf(format, c.KindName[bot.ReportKind(kind)])
}

// crowdOf is the crowd's cause among causes, if any.
func crowdOf(causes []bot.Cause) (bot.Cause, bool) {
	for _, c := range causes {
		if c.Component == bot.CrowdComponent {
			return c, true
		}
	}
	return bot.Cause{}, false
}

// crowdValue is the crowd's cause as a field value: "7 reports in 10 min,
// mostly posting".
func (c *Catalog) crowdValue(cause bot.Cause) string {
	return fmt.Sprintf(c.CrowdValue, c.reports(cause.Reports), span(cause.Window), c.mostly(cause.Mostly, c.CrowdMostlyTail))
}

// CrowdValue is the crowd's cause in words, in a language, as /history
// and the page say it: "7 reports in 10 min, mostly posting".
func CrowdValue(lang string, cause bot.Cause) string { return For(lang).crowdValue(cause) }

// crowdAlert is the alert of a degraded state that people's reports alone
// raised: the probes pass.
func (c *Catalog) crowdAlert(m bot.Message, cause bot.Cause, start, now time.Time) bot.Message {
	m.Severity, m.Silent, m.Title = bot.SeverityDegraded, true, c.CrowdTitle
	m.Lines = []string{
		fmt.Sprintf(c.CrowdLine, c.mostly(cause.Mostly, c.CrowdMostly), c.reports(cause.Reports), span(cause.Window)),
		fmt.Sprintf(c.SinceLine, Stamp(start), c.since(start, now)),
	}
	return m
}

// crowdAlso is the line a probes' alert gets when people report too.
func (c *Catalog) crowdAlso(cause bot.Cause) string {
	return fmt.Sprintf(c.CrowdAlso, c.reports(cause.Reports), span(cause.Window), c.mostly(cause.Mostly, c.CrowdMostlyTail))
}

// statusCrowd is /status's line on people's reports; "" when there are none.
func (c *Catalog) statusCrowd(people bot.Crowd) string {
	if people.Reports == 0 {
		return ""
	}
	var kinds []string
	for _, k := range people.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", c.KindName[k.Kind], k.Count))
	}
	breakdown := ""
	if len(kinds) > 0 {
		breakdown = " (" + strings.Join(kinds, ", ") + ")"
	}
	return fmt.Sprintf(c.StatusCrowd, span(people.Window), c.reports(people.Reports), breakdown)
}

// CrowdLine is /status's line on people's reports in a language, for the
// status page; "" when there are none.
func CrowdLine(lang string, people bot.Crowd) string { return For(lang).statusCrowd(people) }

// KindName is a report kind's name in a language.
func KindName(lang string, k bot.ReportKind) string { return For(lang).KindName[k] }
