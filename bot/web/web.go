// Package web serves the operational HTTP endpoints (/healthz and /metrics)
// and the public status page with its JSON.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Monitor reports the probing health.
type Monitor interface {
	Health(maxAge time.Duration) bot.Health
}

// Delivery reports undelivered notifications and how each platform fares;
// /healthz calls both per request, so both must answer from memory
// (CachedBacklog).
type Delivery interface {
	Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error)
	Platforms() map[bot.Platform]bot.PlatformHealth
}

// Leadership tells whether this replica leads, so that /healthz of each
// replica says which one decides and delivers.
type Leadership interface {
	Status() (bot.Term, bool)
}

// Health is the /healthz document.
type Health struct {
	bot.Health
	Status string `json:"status"`
	// Role is "leader" for the replica that decides and delivers, else
	// "follower" (which probes and serves, and takes over if the leader dies).
	Role string `json:"role"`
	// Epoch is the leader lease's epoch this replica holds or last held.
	Epoch     int64                               `json:"epoch,omitempty"`
	Outbox    map[bot.Platform]bot.Backlog        `json:"outbox,omitempty"`
	Platforms map[bot.Platform]bot.PlatformHealth `json:"platforms,omitempty"`
	Problem   string                              `json:"problem,omitempty"`
}

// Handler serves /healthz and /metrics: the metrics of set, then the Go
// runtime's and the process's (go_*, process_*, as
// github.com/VictoriaMetrics/metrics names them). maxAge is how old the last round may
// be before the service reports itself unhealthy (three probe intervals).
//
// A platform that is unavailable or refuses the token, or a store that
// refuses writes, shows as status "platform" or "store" with 200: the bot
// still probes and keeps the alerts, and a restart would not help.
func Handler(m Monitor, b Delivery, l Leadership, maxAge time.Duration, set *vm.Set) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		set.WritePrometheus(w)
		vm.WriteProcessMetrics(w)
		vm.WriteFDMetrics(w) // process_open_fds and process_max_fds, as Prometheus's own client had them
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := Health{Health: m.Health(maxAge), Status: "ok", Role: "follower"}
		term, leading := l.Status()
		if h.Epoch = term.Epoch; leading {
			h.Role = "leader"
		}
		code := http.StatusOK
		backlog, err := b.Backlog(r.Context())
		h.Platforms = b.Platforms()
		platformProblem, storeProblem := platformProblems(h.Platforms)
		switch {
		case h.Stale:
			code, h.Status, h.Problem = http.StatusServiceUnavailable, "stale", fmt.Sprintf("no probe round completed in the last %s", maxAge)
		case err != nil:
			code, h.Status, h.Problem = http.StatusServiceUnavailable, "error", "database: "+err.Error()
		case !h.ControlOK:
			// Still alive: the bot is fine, its network is not. Say so loudly.
			h.Status, h.Problem = "network", "control targets fail: the bot's own network is broken, X's state is not being judged"
		case storeProblem != "":
			h.Status, h.Problem = "store", storeProblem
		case platformProblem != "":
			h.Status, h.Problem = "platform", platformProblem
		}
		h.Outbox = backlog
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}

// platformProblems sums up the platforms that are not ready and the store
// errors delivery met, in platform order.
func platformProblems(ps map[bot.Platform]bot.PlatformHealth) (platform, store string) {
	names := make([]string, 0, len(ps))
	for p := range ps {
		names = append(names, string(p))
	}
	sort.Strings(names)
	var plat, st []string
	for _, n := range names {
		h := ps[bot.Platform(n)]
		switch h.State {
		case bot.PlatformReady, bot.PlatformConnecting:
		default:
			plat = append(plat, n+" "+string(h.State))
		}
		if h.StoreError != "" {
			st = append(st, fmt.Sprintf("%s: the store refuses delivery outcomes (%d held in memory): %s", n, h.Unrecorded, h.StoreError))
		}
	}
	if len(plat) > 0 {
		platform = "alerts wait in the outbox: " + strings.Join(plat, ", ")
	}
	return platform, strings.Join(st, "; ")
}

// Serve serves /healthz and /metrics (h, from Handler) and the status page
// (Page) on addr until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, addr string, h http.Handler, boards Boards, log *slog.Logger) error {
	return ServeLimited(ctx, addr, h, boards, log, DefaultLimits())
}

// ServeLimited is Serve with the given limits.
func ServeLimited(ctx context.Context, addr string, h http.Handler, boards Boards, log *slog.Logger, lim Limits) error {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	mux.Handle("/metrics", h)
	mux.Handle("/", Page(boards, log))
	return serve(ctx, addr, lim.server(mux), lim.MaxConns, log, "/healthz /metrics / /api/status /api/incidents")
}

// ServePage serves the status page alone on addr (the STATUS_ADDR setting),
// until ctx ends. It is a listener of its own so the page can face the
// internet while /healthz and /metrics stay on HTTP_ADDR's loopback: they
// tell outsiders about chats, backlogs and the bot's own network. Its limits
// suit strangers: slow or oversized requests are cut off.
func ServePage(ctx context.Context, addr string, boards Boards, log *slog.Logger) error {
	lim := DefaultLimits()
	return serve(ctx, addr, lim.server(Page(boards, log)), lim.MaxConns, log, "/ /api/status /api/incidents")
}

func serve(ctx context.Context, addr string, srv *http.Server, maxConns int, log *slog.Logger, paths string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	l = limitListen(l, maxConns)
	log.Info("http endpoints ready", "addr", l.Addr().String(), "paths", paths)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
