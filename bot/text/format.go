package text

import (
	"fmt"
	"time"
)

// FormatDuration renders a duration for people: "40s", "4m10s", "2h05m", "3d4h".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05 UTC") }

func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func (c *Catalog) since(t, now time.Time) string {
	d := now.Sub(t)
	if d < time.Second {
		return c.JustNow
	}
	return fmt.Sprintf(c.Ago, FormatDuration(d))
}
