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

// memoryBudget is the dispatcher's Working hook: nil when GOMEMLIMIT is set
// (the operator's limit stands) and in tests that call run.
var memoryBudget func(working bool)

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(idleMemoryLimit)
		memoryBudget = func(working bool) {
			limit := int64(idleMemoryLimit)
			if working {
				limit = busyMemoryLimit
			}
			debug.SetMemoryLimit(limit)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
