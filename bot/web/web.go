// Package web serves the operational HTTP endpoints: /healthz and /metrics
// (and later the status page).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xstatusbot/xstatusbot/bot"
)

// Monitor reports the probing health.
type Monitor interface {
	Health(maxAge time.Duration) bot.Health
}

// Backlog reports undelivered notifications.
type Backlog interface {
	Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error)
}

// Health is the /healthz document.
type Health struct {
	bot.Health
	Status  string                       `json:"status"`
	Outbox  map[bot.Platform]bot.Backlog `json:"outbox,omitempty"`
	Problem string                       `json:"problem,omitempty"`
}

// Handler serves /healthz and /metrics. maxAge is how old the last round may
// be before the service reports itself unhealthy (three probe intervals).
func Handler(m Monitor, b Backlog, maxAge time.Duration, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := Health{Health: m.Health(maxAge), Status: "ok"}
		code := http.StatusOK
		backlog, err := b.Backlog(r.Context())
		switch {
		case h.Stale:
			code, h.Status, h.Problem = http.StatusServiceUnavailable, "stale", fmt.Sprintf("no probe round completed in the last %s", maxAge)
		case err != nil:
			code, h.Status, h.Problem = http.StatusServiceUnavailable, "error", "database: "+err.Error()
		case !h.ControlOK:
			// Still alive: the bot is fine, its network is not. Say so loudly.
			h.Status, h.Problem = "network", "control targets fail: the bot's own network is broken, X's state is not being judged"
		}
		h.Outbox = backlog
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}

// Serve listens on addr until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Info("http endpoints ready", "addr", l.Addr().String(), "paths", "/healthz /metrics")
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
