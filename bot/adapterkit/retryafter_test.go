package adapterkit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"3", 3 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true}, // Discord
		{"0.25", 250 * time.Millisecond, true}, // Discord's sub-second buckets
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 01 Mar 2026 12:00:05 GMT", 5 * time.Second, true},
		{"86400", adapterkit.MaxRetryAfter, true}, // bounded
		{"99999999999999999999999", adapterkit.MaxRetryAfter, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), adapterkit.MaxRetryAfter, true},
		{"", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1e9", 0, false},
		{"Inf", 0, false},
		{"NaN", 0, false},
		{"0x10", 0, false},
		{"1.2.3", 0, false},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false}, // already past
	} {
		got, ok := adapterkit.ParseRetryAfter(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
