package probe

import (
	"strings"
	"testing"
)

func results(spec string) []Result {
	var out []Result
	for _, c := range spec {
		switch c {
		case 'o':
			out = append(out, Result{})
		case 's':
			out = append(out, Result{Slow: true})
		case 'x':
			out = append(out, Result{Class: ClassStatus})
		}
	}
	return out
}

func TestReduce(t *testing.T) {
	tests := []struct {
		targets, controls string
		want              Verdict
	}{
		{"oooo", "", VerdictUp},
		{"oooo", "xx", VerdictUp}, // X answers: the control check does not matter
		{"ooos", "", VerdictDegraded},
		{"ooox", "", VerdictDegraded},
		{"ooxx", "", VerdictDegraded}, // half is not most
		{"oxxx", "", VerdictDown},
		{"xxxx", "", VerdictDown},
		{"xxxx", "xo", VerdictDown}, // one control answers: our network works
		{"xxxx", "xx", VerdictUnknown},
		{"ooox", "xx", VerdictUnknown},
		{"x", "", VerdictDown},
		{"", "", VerdictUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.targets+"/"+tt.controls, func(t *testing.T) {
			if got := Reduce(results(tt.targets), results(tt.controls)); got != tt.want {
				t.Fatalf("Reduce = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("web=https://x.com/, https://api.x.com/2/openapi.json;status=200-299|401 , cdn=https://abs.twimg.com/;body=ok")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Name != "web" || ts[1].Name != "api.x.com" || ts[2].BodyContains != "ok" {
		t.Fatalf("targets = %+v", ts)
	}
	if !ts[1].Accepts(401) || ts[1].Accepts(302) || !ts[0].Accepts(302) || ts[0].Accepts(404) {
		t.Errorf("accepted statuses wrong: %+v", ts[1].Accept)
	}
	_, err = ParseTargets("ftp://x.com, web=https://x.com;status=abc, web=https://x.com;foo=1, a=https://a.com, a=https://b.com")
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"http:// or https://", "bad status", "unknown option", "duplicate target name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestParseTargetsDerivesDistinctNames(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{"http://h/a,http://h/b", []string{"h/a", "h/b"}},
		{"http://h/, http://h/a/, http://other:8080/x", []string{"h", "h/a", "other"}},
		{"http://h/a,http://h/a?lang=fr", []string{"h/a", "h/a-2"}},
		{"h=http://x/, http://h/", []string{"h", "h-2"}},
		{"h=http://x/, http://h/a", []string{"h", "h/a"}},
		{"h-2=http://x/, h=http://y/, http://h/", []string{"h-2", "h", "h-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			ts, err := ParseTargets(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tg := range ts {
				got = append(got, tg.Name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("names = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTargets("a=http://h/a, a=http://h/b"); err == nil || !strings.Contains(err.Error(), `duplicate target name "a"`) {
		t.Fatalf("explicit duplicate names: err = %v, want a duplicate name error", err)
	}
}
