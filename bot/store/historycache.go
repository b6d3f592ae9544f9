package store

import (
	"context"
	"slices"
	"sync"

	"github.com/xstatusbot/xstatusbot/bot"
)

// historyCache keeps what Spans and Incidents last read, for a store alone
// on its file (SQLite). The board reads both after every round, and the
// incidents' causes are JSON to decode, every second; yet between two
// reads they change only by this store's own SaveRound, which keeps the
// cache in step (a span extended, or the cache dropped), or by another
// connection to the file, which PRAGMA data_version tells. Every answer is
// the one the queries would give. It is safe for concurrent use.
type historyCache struct {
	mu sync.Mutex
	// version is PRAGMA data_version when what follows was read: it
	// changes when another connection commits to the file.
	version int64
	// spans are the stored spans with to_at >= spansFrom (nanoseconds),
	// by from_at and id, with their ids; valid when spansOK.
	spans     []storedSpan
	spansFrom int64
	spansOK   bool
	// incidents are the latest incidents, newest first, as read with
	// LIMIT incidentsLimit; valid when incidentsOK.
	incidents      []bot.Incident
	incidentsLimit int
	incidentsOK    bool
}

// storedSpan is a span row.
type storedSpan struct {
	id int64
	bot.Span
}

// check drops what was read if another connection has written since; the
// caller holds mu. An error leaves the cache dropped, and the caller reads.
func (c *historyCache) check(ctx context.Context, db q) {
	var v int64
	if err := db.row(ctx, `PRAGMA data_version`).Scan(&v); err != nil || v != c.version {
		c.spansOK, c.incidentsOK = false, false
		c.version = v
		if err != nil {
			c.version = -1
		}
	}
}

// saved brings the cache in step with a committed SaveRound: the latest span
// extended to at, or a span opened (the spans are read again); an incident
// written (the incidents are read again); spans pruned (read again).
func (c *historyCache) saved(at int64, opened, incident, trimmed bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if incident {
		c.incidentsOK = false
	}
	if opened || trimmed || !c.spansOK {
		c.spansOK = false
		return
	}
	// recordSpan extended the latest span (by to_at, then id) to at.
	latest := -1
	for i, sp := range c.spans {
		if latest < 0 || sp.To.UnixNano() > c.spans[latest].To.UnixNano() ||
			sp.To.UnixNano() == c.spans[latest].To.UnixNano() && sp.id > c.spans[latest].id {
			latest = i
		}
	}
	if latest < 0 {
		c.spansOK = false // no span read, yet one was extended
		return
	}
	c.spans[latest].To = fromNanos(at)
}

// spansSince returns the stored spans with to_at >= from, by from_at and
// id, reading them only when the cache cannot answer.
func (c *historyCache) spansSince(ctx context.Context, db q, from int64, read func() ([]storedSpan, error)) ([]bot.Span, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.check(ctx, db)
	if !c.spansOK || from < c.spansFrom {
		rows, err := read()
		if err != nil {
			return nil, err
		}
		c.spans, c.spansFrom, c.spansOK = rows, from, true
	}
	out := make([]bot.Span, 0, len(c.spans))
	for _, sp := range c.spans {
		if sp.To.UnixNano() >= from {
			out = append(out, sp.Span)
		}
	}
	return out, nil
}

// latestIncidents returns up to limit (at least 1) incidents, newest
// first, reading them only when the cache cannot answer.
func (c *historyCache) latestIncidents(ctx context.Context, db q, limit int, read func() ([]bot.Incident, error)) ([]bot.Incident, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.check(ctx, db)
	// A read that came back short holds every incident: any smaller limit
	// is its beginning.
	if !c.incidentsOK || limit > c.incidentsLimit && len(c.incidents) == c.incidentsLimit {
		incs, err := read()
		if err != nil {
			return nil, err
		}
		c.incidents, c.incidentsLimit, c.incidentsOK = incs, limit, true
	}
	return slices.Clone(c.incidents[:min(limit, len(c.incidents))]), nil
}
