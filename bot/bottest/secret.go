package bottest

import (
	"net/url"
	"strings"
	"testing"
)

// AssertNoSecret fails t for each text that holds secret raw, path-escaped or
// query-escaped, in any letter case (an escape may print as %2f or %2F). The
// failure shows the text lower-cased with the secret masked, so the test log
// does not spread it either.
func AssertNoSecret(t testing.TB, secret string, texts ...string) {
	t.Helper()
	if secret == "" {
		t.Fatal("AssertNoSecret: empty secret")
	}
	var forms []string
	for _, f := range []string{secret, url.PathEscape(secret), url.QueryEscape(secret)} {
		forms = append(forms, strings.ToLower(f))
	}
	for i, text := range texts {
		low := strings.ToLower(text)
		masked := low
		for _, f := range forms {
			masked = strings.ReplaceAll(masked, f, "<SECRET>")
		}
		if masked != low {
			t.Errorf("text %d of %d holds the secret: %s", i+1, len(texts), masked)
		}
	}
}
