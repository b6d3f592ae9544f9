package discordtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot/discord/discordtest"
)

func post(t *testing.T, s *discordtest.Server, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bot "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestChannelMessagesAndFailures(t *testing.T) {
	s := discordtest.New()
	t.Cleanup(s.Close)
	embed := map[string]any{"embeds": []map[string]any{{"title": "t", "color": 1}}}
	tests := []struct {
		name       string
		setup      func()
		token      string
		channel    string
		body       any
		wantStatus int
		wantCode   int
		wantHeader map[string]string
	}{
		{name: "accepted", channel: "1", body: embed, wantStatus: 200},
		{name: "no token", token: "-", channel: "1", body: embed, wantStatus: 401},
		{name: "empty message", channel: "1", body: map[string]any{}, wantStatus: 400, wantCode: 50006},
		{name: "title too long", channel: "1", body: map[string]any{"embeds": []map[string]any{{"title": strings.Repeat("a", 257)}}}, wantStatus: 400, wantCode: 50035},
		{name: "429 once", setup: func() { s.FailChannel("2", discordtest.RateLimited(1500*time.Millisecond, true), 1) }, channel: "2", body: embed, wantStatus: 429,
			wantHeader: map[string]string{"X-RateLimit-Global": "true", "Retry-After": "2", "X-RateLimit-Reset-After": "1.500"}},
		{name: "then accepted", channel: "2", body: embed, wantStatus: 200},
		{name: "50001 persists", setup: func() { s.FailChannel("3", discordtest.MissingAccess(), 0) }, channel: "3", body: embed, wantStatus: 403, wantCode: 50001},
		{name: "50001 again", channel: "3", body: embed, wantStatus: 403, wantCode: 50001},
		{name: "next call", setup: func() { s.FailNext(discordtest.UnknownChannel()) }, channel: "4", body: embed, wantStatus: 404, wantCode: 10003},
		{name: "500", setup: func() { s.FailNext(discordtest.ServerError()) }, channel: "4", body: embed, wantStatus: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			token := s.Token
			if tc.token == "-" {
				token = ""
			}
			resp, body := post(t, s, "api/v9/channels/"+tc.channel+"/messages", token, tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			var e struct {
				Code       int     `json:"code"`
				RetryAfter float64 `json:"retry_after"`
			}
			_ = json.Unmarshal(body, &e)
			if tc.wantCode != 0 && e.Code != tc.wantCode {
				t.Errorf("code %d, want %d", e.Code, tc.wantCode)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if got := s.MessageCounts(); got["1"] != 1 || got["2"] != 1 || got["3"] != 0 {
		t.Errorf("message counts %v", got)
	}
	if s.Attempts("3") != 2 {
		t.Errorf("attempts on 3 = %d", s.Attempts("3"))
	}
}

func TestGlobalRateLimit(t *testing.T) {
	s := discordtest.New(discordtest.WithGlobalRateLimit(20))
	t.Cleanup(s.Close)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := time.Now()
	for k := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, _ := json.Marshal(map[string]any{"content": "hi"})
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%sapi/v9/channels/%d/messages", s.URL, k+1), bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bot "+s.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// The bucket refills while the requests arrive, slowly on a loaded
	// machine: bound the accepted ones by the burst plus the refill.
	most := 20 + int(20*time.Since(start).Seconds()) + 1
	if codes[200] < 20 || codes[200] > most || codes[200]+codes[429] != 60 {
		t.Errorf("status counts %v, want 20 to %d accepted and the rest 429", codes, most)
	}
	if n := s.RateLimitedCount(); n != int64(codes[429]) {
		t.Errorf("RateLimitedCount %d, want %d", n, codes[429])
	}
}

func TestPlatformFaults(t *testing.T) {
	s := discordtest.New()
	t.Cleanup(s.Close)
	embed := map[string]any{"embeds": []map[string]any{{"title": "t"}}}
	tests := []struct {
		name       string
		fault      func()
		wantStatus int
		wantNoJSON bool
		wantHeader map[string]string // "" means absent
	}{
		{name: "cloudflare 429 without retry-after", fault: func() { s.FailAll(discordtest.Cloudflare429(0)) }, wantStatus: 429, wantNoJSON: true,
			wantHeader: map[string]string{"Retry-After": "", "X-RateLimit-Global": "", "X-RateLimit-Scope": "", "X-RateLimit-Remaining": ""}},
		{name: "cloudflare 429 with retry-after", fault: func() { s.FailAll(discordtest.Cloudflare429(3 * time.Second)) }, wantStatus: 429, wantNoJSON: true,
			wantHeader: map[string]string{"Retry-After": "3", "X-RateLimit-Global": "", "X-RateLimit-Reset-After": ""}},
		{name: "502 html", fault: func() { s.FailAll(discordtest.HTMLError(http.StatusBadGateway)) }, wantStatus: 502, wantNoJSON: true},
		{name: "recovered", fault: s.Recover, wantStatus: 200},
		{name: "token revoked", fault: s.RevokeToken, wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			resp, body := post(t, s, "api/v9/channels/1/messages", s.Token, embed)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantNoJSON && json.Valid(body) {
				t.Errorf("body %q is JSON, want an HTML page", body)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	s := discordtest.New()
	t.Cleanup(s.Close)
	s.Refuse()
	resp, err := http.Get(s.URL + "api/v9/gateway")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("refusing fake answered %d, want a network error", resp.StatusCode)
	}
	s.Recover()
	resp, err = http.Get(s.URL + "api/v9/gateway")
	if err != nil {
		t.Fatalf("after Recover: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.Requests() != 2 {
		t.Errorf("status %d after %d requests, want 200 after 2", resp.StatusCode, s.Requests())
	}
}
