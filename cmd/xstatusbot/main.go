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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
