package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
)

// Limits bound what clients can hold of a listener: a slow client is cut
// off by the timeouts, and past MaxConns connections new ones wait in the
// kernel's backlog until one closes.
type Limits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxConns                      int
}

// DefaultLimits are the limits of HTTP_ADDR and STATUS_ADDR: a request's
// headers within 5 s and all of it within 10 s, its answer written within
// 10 s, a keep-alive connection idle 60 s, 64 connections at once.
func DefaultLimits() Limits {
	return Limits{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 10 * time.Second, Idle: 60 * time.Second, MaxConns: 64}
}

func (l Limits) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    16 << 10,
	}
}

// limitListener accepts at most cap(slots) connections at once.
type limitListener struct {
	net.Listener
	slots  chan struct{}
	closed chan struct{}
	once   sync.Once
}

func limitListen(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitListener{Listener: l, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// Backlogger reads the undelivered rows per platform from the store.
type Backlogger interface {
	Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error)
}

// CachedBacklog holds the last backlog read, so that /healthz answers from
// memory: one query per Every whatever the request rate, instead of a
// COUNT per request.
type CachedBacklog struct {
	Store Backlogger
	Clock clock.Clock
	// Every is how often the backlog is read again (default 5 s).
	Every time.Duration
	last  atomic.Pointer[backlogReading]
	poke  chan struct{}
	once  sync.Once
}

func (c *CachedBacklog) pokes() chan struct{} {
	c.once.Do(func() { c.poke = make(chan struct{}, 1) })
	return c.poke
}

// Poke asks Run to read the backlog again at once, without waiting: wire
// it to the moment rows are queued, so /healthz shows a new alert's rows
// right away.
func (c *CachedBacklog) Poke() {
	select {
	case c.pokes() <- struct{}{}:
	default:
	}
}

type backlogReading struct {
	backlog map[bot.Platform]bot.Backlog
	err     error
}

// Refresh reads the backlog now.
func (c *CachedBacklog) Refresh(ctx context.Context) {
	b, err := c.Store.Backlog(ctx)
	if err != nil && ctx.Err() != nil {
		return // our own shutdown, not the store's failure
	}
	c.last.Store(&backlogReading{backlog: b, err: err})
}

// Run refreshes the backlog every Every, and after each Poke, until ctx ends.
func (c *CachedBacklog) Run(ctx context.Context) {
	every := c.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	clk := clock.Or(c.Clock)
	for {
		c.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-clk.After(every):
		case <-c.pokes():
		}
	}
}

// Backlog is the last backlog read, and the error of that read; nothing
// before the first Refresh.
func (c *CachedBacklog) Backlog(context.Context) (map[bot.Platform]bot.Backlog, error) {
	r := c.last.Load()
	if r == nil {
		return nil, nil
	}
	return r.backlog, r.err
}
