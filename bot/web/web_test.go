package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/web"
	"github.com/xstatusbot/xstatusbot/probe"
)

type monitor struct{ h bot.Health }

func (m monitor) Health(time.Duration) bot.Health { return m.h }

type backlog map[bot.Platform]bot.Backlog

func (b backlog) Backlog(context.Context) (map[bot.Platform]bot.Backlog, error) { return b, nil }

func TestHealthz(t *testing.T) {
	for _, tt := range []struct {
		name   string
		health bot.Health
		code   int
		status string
	}{
		{"fresh", bot.Health{State: probe.StateUp, ControlOK: true, LastVerdict: probe.VerdictUp}, 200, "ok"},
		{"stale", bot.Health{State: probe.StateUp, ControlOK: true, Stale: true}, 503, "stale"},
		{"own network broken", bot.Health{State: probe.StateUp, ControlOK: false, LastVerdict: probe.VerdictUnknown}, 200, "network"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			srv := httptest.NewServer(web.Handler(monitor{tt.health}, backlog{bot.Telegram: {Pending: 3}}, time.Minute, reg))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got web.Health
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code || got.Status != tt.status || got.Outbox[bot.Telegram].Pending != 3 {
				t.Fatalf("%d %+v", resp.StatusCode, got)
			}
		})
	}
}
