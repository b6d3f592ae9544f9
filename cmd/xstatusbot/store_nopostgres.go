//go:build nopostgres

package main

import (
	"context"
	"errors"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// withPostgres says whether this build can use DATABASE_URL: not this one,
// built with -tags nopostgres for a single machine (the PostgreSQL driver
// left out: a binary 0.6 MB smaller, see this folder's README.md, "Memory").
const withPostgres = false

func openPostgres(context.Context, Config, time.Duration) (storage, bot.Lease, error) {
	return nil, nil, errors.New("this build has no PostgreSQL support (built with -tags nopostgres)")
}
