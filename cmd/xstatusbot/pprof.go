//go:build pprof

package main

// Built with -tags pprof, and only then, the binary serves net/http/pprof on
// the address in XSTATUSBOT_PPROF_ADDR when it is set (127.0.0.1:6060, say):
// a CPU or heap profile of the real binary at work. The default build holds
// none of it (not a byte more binary, nothing listening); BenchmarkFootprint
// builds it so with BENCH_PPROF_DIR set.

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

func init() {
	if addr := os.Getenv("XSTATUSBOT_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
