// Command xstatusbot watches X (formerly Twitter) and tells subscribed
// Telegram chats and Discord channels when it goes down and when it is back.
//
//	xstatusbot          run the bot (settings from the environment and .env)
//	xstatusbot demo     watch a local fake X go down and come back, no network, no token
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// The Go runtime's soft memory limit unless GOMEMLIMIT says otherwise. The
// idle bot's live heap is a few MB; without a limit the collector lets the
// heap double before it runs, and resident memory goes above the 20 MB
// target (this folder's README.md, Memory). While alerts are being
// delivered the limit is lifted: at 8 MiB a fan-out's working set keeps the
// collector running, which cut a real binary's sending to a quarter of its
// rate.
const (
	idleMemoryLimit = 8 << 20
	busyMemoryLimit = 64 << 20
)

// idleProcs is how many threads run Go code at once while the bot is idle,
// unless GOMAXPROCS says otherwise. A round, a command or a page is one
// core's work, and with a second processor idle every timer, connection
// and query that wakes a goroutine also woke a thread to look for work:
// one processor cut an idle bot's CPU by a third and its memory by half a
// MB. While alerts are being delivered the runtime's own choice (the
// machine's or the container's cores) comes back.
const idleProcs = 1

// budget is the dispatcher's Working hook: the memory limit and processors
// of an idle bot, lifted while alerts are being delivered. Each applies only
// when its variable is unset (the operator's GOMEMLIMIT or GOMAXPROCS
// stands); nil when both are set, and in tests that call run.
var budget func(working bool)

func main() {
	_, memSet := os.LookupEnv("GOMEMLIMIT")
	_, procsSet := os.LookupEnv("GOMAXPROCS")
	if !memSet || !procsSet {
		budget = func(working bool) {
			if !memSet {
				limit := int64(idleMemoryLimit)
				if working {
					limit = busyMemoryLimit
				}
				debug.SetMemoryLimit(limit)
			}
			if !procsSet {
				if working {
					runtime.SetDefaultGOMAXPROCS()
				} else {
					runtime.GOMAXPROCS(idleProcs)
				}
			}
		}
		budget(false)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
