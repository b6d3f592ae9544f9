package probe_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// BenchmarkRound is one healthy round of 4 targets and 1 control on the
// fake X, with the bot's own transport; B/op is what a round leaves for the
// garbage collector, the main driver of the bot's resident memory.
//
//	go test -run '^$' -bench Round -benchmem ./probe
func BenchmarkRound(b *testing.B) {
	x := fakex.New()
	defer x.Close()
	u := x.URL()
	targets, err := probe.ParseTargets(u + "/home," + u + "/2/tweets," + u + "/static," + u + "/media")
	if err != nil {
		b.Fatal(err)
	}
	controls := []probe.Target{{Name: "control", URL: u + "/"}}
	c := &probe.Checker{Client: &http.Client{Transport: probe.Transport()}, Timeout: 10 * time.Second, RetryDelay: time.Second, Interval: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Round(context.Background(), targets, controls); r.Verdict != probe.VerdictUp {
			b.Fatalf("verdict %s: %+v", r.Verdict, r.Targets)
		}
	}
}
