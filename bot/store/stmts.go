package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxStmts bounds the prepared statements kept: the store's own queries
// are far fewer, but a list of ? (anyOf) makes one text per length.
const maxStmts = 256

// stmtCache keeps statements prepared once and run again, by query text.
// On SQLite, parsing and planning a statement cost more than running most
// of ours (a round's dozen statements, the dispatcher's look for due rows
// every second): prepared, each call only binds and steps. It is safe for
// concurrent use.
//
// A statement is prepared on the database, outside any transaction: with
// SQLite's one connection, preparing while a transaction holds it would
// wait for that transaction. One first met inside a transaction runs as
// written and is prepared once the transaction is over (want, prepareWanted).
type stmtCache struct {
	db *sql.DB

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the statement prepared for query, preparing it now unless
// inTx (then it is wanted for later); nil when there is none (yet).
func (c *stmtCache) get(ctx context.Context, query string, inTx bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, ok := c.stmts[query]
	if !ok && inTx {
		c.wanted[query] = true
	}
	c.mu.Unlock()
	if ok || inTx {
		return st
	}
	return c.prepare(ctx, query)
}

// prepare prepares query on the database and keeps it. A failure is left to
// the query itself to report: it then runs unprepared.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[query]; ok { // prepared meanwhile by another caller
		_ = st.Close()
		return old
	}
	if len(c.stmts) >= maxStmts {
		// Rather than track use, start again: the statements run every
		// round are prepared again within the next round.
		for q, s := range c.stmts {
			_ = s.Close()
			delete(c.stmts, q)
		}
	}
	c.stmts[query] = st
	return st
}

// prepareWanted prepares the statements first met inside a transaction.
// Call it once the transaction is over.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	var queries []string
	for q := range c.wanted {
		if c.stmts[q] == nil {
			queries = append(queries, q)
		}
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range queries {
		c.prepare(ctx, q)
	}
}

// close closes every statement kept.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
}
