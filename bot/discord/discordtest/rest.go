package discordtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /gateway", s.serveGateway)
	mux.HandleFunc("GET /gateway/", s.serveGateway)
	mux.HandleFunc("GET /api/v9/gateway", s.gateway)
	mux.HandleFunc("GET /api/v9/gateway/bot", s.gateway)
	mux.HandleFunc("GET /api/v9/users/@me", s.me)
	mux.HandleFunc("PUT /api/v9/applications/{app}/commands", s.overwriteCommands)
	mux.HandleFunc("POST /api/v9/interactions/{id}/{token}/callback", s.callback)
	mux.HandleFunc("PATCH /api/v9/webhooks/{app}/{token}/messages/@original", s.editOriginal)
	mux.HandleFunc("POST /api/v9/channels/{id}/messages", s.createMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, Failure{Status: http.StatusNotFound, Message: "404: Not Found"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateway := strings.HasPrefix(r.URL.Path, "/gateway")
		if gateway {
			s.gatewayConnects.Add(1)
		} else {
			s.requests.Add(1)
		}
		if s.refusing.Load() {
			reset(w)
			return
		}
		if gateway {
			mux.ServeHTTP(w, r)
			return
		}
		if f := s.failAll.Load(); f != nil {
			if f.Status == http.StatusTooManyRequests {
				s.rateLimited.Add(1)
			}
			writeError(w, *f)
			return
		}
		callback := strings.HasPrefix(r.URL.Path, "/api/v9/interactions/")
		if s.limiter != nil && !callback {
			if ok, wait := s.limiter.take(time.Now()); !ok {
				s.rateLimited.Add(1)
				writeError(w, RateLimited(wait, true))
				return
			}
		}
		// Interaction callbacks and webhooks are authorized by their token.
		public := callback || strings.HasPrefix(r.URL.Path, "/api/v9/webhooks/") || strings.HasPrefix(r.URL.Path, "/api/v9/gateway")
		if !public && (r.Header.Get("Authorization") != "Bot "+s.Token || s.revoked.Load()) {
			writeError(w, Unauthorized())
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, f Failure) {
	if f.HTML {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
		}
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Error %d</title></head><body><h1>%d %s</h1><p>cloudflare</p></body></html>\n",
			f.Status, f.Status, http.StatusText(f.Status))
		return
	}
	if f.Status == http.StatusTooManyRequests {
		secs := f.RetryAfter.Seconds()
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
		h.Set("X-RateLimit-Limit", "5")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
		scope := "user"
		if f.Global {
			h.Set("X-RateLimit-Global", "true")
			scope = "global"
		}
		h.Set("X-RateLimit-Scope", scope)
		writeJSON(w, f.Status, map[string]any{"message": f.Message, "retry_after": secs, "global": f.Global, "code": 0})
		return
	}
	writeJSON(w, f.Status, map[string]any{"message": f.Message, "code": f.Code})
}

func (s *Server) gateway(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	shards, left, reset := s.shards, s.startsLeft, s.startsReset // Outgrow and IDENTIFYs change them
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    s.GatewayURL(),
		"shards": shards,
		"session_start_limit": map[string]int{
			"total": 1000, "remaining": max(left, 0), "reset_after": int(reset.Milliseconds()), "max_concurrency": s.maxConcurrency,
		},
	})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.botUser())
}

func (s *Server) botUser() map[string]any {
	return map[string]any{"id": s.BotID, "username": "xstatusbot", "discriminator": "0", "bot": true}
}

func (s *Server) overwriteCommands(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("app") != s.AppID {
		writeError(w, Failure{Status: http.StatusForbidden, Code: 50001, Message: "Missing Access"})
		return
	}
	var cmds []Command
	if err := json.NewDecoder(r.Body).Decode(&cmds); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	for _, c := range cmds {
		if v := commandViolation(c); v != "" {
			s.mu.Lock()
			s.violations = append(s.violations, v)
			s.mu.Unlock()
			writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
			return
		}
	}
	out := make([]map[string]any, 0, len(cmds))
	for _, c := range cmds {
		if c.Options == nil {
			c.Options = []OptionSpec{}
		}
		out = append(out, map[string]any{
			"id": s.id(), "application_id": s.AppID, "version": s.id(), "type": 1,
			"name": c.Name, "description": c.Description, "description_localizations": c.DescriptionLocalizations,
			"default_member_permissions": c.DefaultMemberPermissions, "options": c.Options,
		})
	}
	s.mu.Lock()
	s.overwrites = append(s.overwrites, cmds)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
