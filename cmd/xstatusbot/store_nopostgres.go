//go:build nopostgres

package main

import (
	"context"
	"errors"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// withPostgres says whether this build can use DATABASE_URL: not this one,
// built with -tags nopostgres for a single machine (pgx left out: a binary
// 4.4 MB smaller, about 3 MB less resident, see this folder's README.md, "Measured figures").
const withPostgres = false

func openPostgres(context.Context, Config, time.Duration) (storage, bot.Lease, error) {
	return nil, nil, errors.New("this build has no PostgreSQL support (built with -tags nopostgres)")
}
