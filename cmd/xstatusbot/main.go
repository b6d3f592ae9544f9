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

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT
// says otherwise. The idle bot's live heap is a few MB; without a limit the
// collector lets the heap double before it runs, and resident memory goes
// above the 20 MB target (README, Measured figures). Under load (a large
// fan-out) the runtime lets the heap grow past it, spending at most half a
// core on collection.
const defaultMemoryLimit = 8 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
