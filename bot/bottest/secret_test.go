package bottest_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAssertNoSecret(t *testing.T) {
	const secret = "123:Tok/en+x"
	for _, tc := range []struct {
		name string
		text string
		fail bool
	}{
		{"raw", "url https://h/bot" + secret + "/getMe", true},
		{"path-escaped", "url https://h/bot" + url.PathEscape(secret) + "/getMe", true},
		{"query-escaped", "?token=" + url.QueryEscape(secret), true},
		{"lower-case escape", "?token=" + strings.ToLower(url.QueryEscape(secret)), true},
		{"absent", "url https://h/bot[redacted]/getMe", false},
		{"a prefix only", "123:Tok", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			bottest.AssertNoSecret(r, secret, "clean", tc.text)
			if (len(r.errs) > 0) != tc.fail {
				t.Fatalf("failures %q, want failing %v", r.errs, tc.fail)
			}
			for _, e := range r.errs {
				if !strings.Contains(e, "text 2 of 2") || !strings.Contains(e, "<SECRET>") || strings.Contains(strings.ToLower(e), "tok/en") {
					t.Errorf("failure %q: want the text's number and the secret masked", e)
				}
			}
		})
	}
}
