package discordtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
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

// gatewayClient is a bare websocket client of the fake's gateway.
type gatewayClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialGateway(t *testing.T, s *discordtest.Server) *gatewayClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.GatewayURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &gatewayClient{t: t, ws: ws}
	if op, _, _ := c.read(); op != 10 {
		t.Fatalf("first frame op %d, want HELLO", op)
	}
	return c
}

// read returns the next frame, or the close code the fake closed with.
func (c *gatewayClient) read() (op int, event string, d map[string]any) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var p struct {
		Op int            `json:"op"`
		T  string         `json:"t"`
		D  map[string]any `json:"d"`
	}
	if err := c.ws.ReadJSON(&p); err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return -ce.Code, "", nil
		}
		c.t.Fatalf("read: %v", err)
	}
	return p.Op, p.T, p.D
}

func (c *gatewayClient) identify(token string, shard []int) {
	c.t.Helper()
	d := map[string]any{"token": token, "intents": 1}
	if shard != nil {
		d["shard"] = shard
	}
	if err := c.ws.WriteJSON(map[string]any{"op": 2, "d": d}); err != nil {
		c.t.Fatal(err)
	}
}

func TestGatewayShards(t *testing.T) {
	// Server ids on shards 0, 1 and 2 of 3.
	var guilds [3]string
	for k := uint64(1); guilds[0] == "" || guilds[1] == "" || guilds[2] == ""; k++ {
		id := strconv.FormatUint(k<<22, 10)
		if n := discordtest.ShardOf(id, 3); guilds[n] == "" {
			guilds[n] = id
		}
	}
	s := discordtest.New(discordtest.WithShards(3, 2), discordtest.WithShardsRequired(2), discordtest.WithGuilds(guilds[:]...))
	t.Cleanup(s.Close)

	resp, err := http.Get(s.URL + "api/v9/gateway/bot")
	if err != nil {
		t.Fatal(err)
	}
	var gb struct {
		Shards int `json:"shards"`
		Limit  struct {
			MaxConcurrency int `json:"max_concurrency"`
		} `json:"session_start_limit"`
	}
	err = json.NewDecoder(resp.Body).Decode(&gb)
	resp.Body.Close()
	if err != nil || gb.Shards != 3 || gb.Limit.MaxConcurrency != 2 {
		t.Fatalf("gateway/bot = %+v, %v; want 3 shards, max_concurrency 2", gb, err)
	}

	for _, tc := range []struct {
		name  string
		shard []int
		code  int
	}{
		{"unsharded while shards are required", nil, 4011},
		{"one shard of one", []int{0, 1}, 4011},
		{"shard id out of range", []int{3, 3}, 4010},
	} {
		c := dialGateway(t, s)
		c.identify(s.Token, tc.shard)
		if op, _, _ := c.read(); op != -tc.code {
			t.Errorf("%s: got op/close %d, want close %d", tc.name, op, tc.code)
		}
	}

	c := dialGateway(t, s)
	c.identify(s.Token, []int{1, 3})
	op, event, d := c.read()
	if op != 0 || event != "READY" {
		t.Fatalf("got op %d %s, want READY", op, event)
	}
	if fmt.Sprint(d["shard"]) != "[1 3]" {
		t.Errorf("READY shard %v, want [1 3]", d["shard"])
	}
	if gs, _ := d["guilds"].([]any); len(gs) != 1 || gs[0].(map[string]any)["id"] != guilds[1] {
		t.Errorf("READY guilds %v, want only %s (shard 1's)", d["guilds"], guilds[1])
	}
	// The fake records an identify once READY is on its way: wait for it.
	bottest.Eventually(t, "the fourth identify recorded", func() bool { return len(s.Identified()) == 4 })
	got := s.Identified()
	if len(got) != 4 || got[0].Sharded || got[0].Refused != 4011 || got[2].Refused != 4010 ||
		got[3].Shard != (discordtest.ShardPair{ID: 1, Count: 3}) || !got[3].Sharded || got[3].Refused != 0 {
		t.Errorf("Identified() = %+v", got)
	}
	if cs := s.ConnectedShards(); len(cs) != 1 || cs[0] != (discordtest.ShardPair{ID: 1, Count: 3}) {
		t.Errorf("ConnectedShards() = %v", cs)
	}

	// Server events go to the server's shard; Shard(n) forces one.
	if err := s.GuildCreate(guilds[0]); err == nil {
		t.Error("GUILD_CREATE for a server of shard 0 reached shard 1")
	}
	if err := s.GuildCreate(guilds[1]); err != nil {
		t.Fatal(err)
	}
	if _, event, d := c.read(); event != "GUILD_CREATE" || d["id"] != guilds[1] {
		t.Errorf("got %s %v, want GUILD_CREATE of %s", event, d, guilds[1])
	}
	if _, err := s.Shard(0).Interact(discordtest.InteractionSpec{Name: "help", GuildID: guilds[1], ChannelID: "5"}); err == nil {
		t.Error("an interaction forced onto shard 0 found a client")
	}
	id, err := s.Shard(1).Interact(discordtest.InteractionSpec{Name: "help", GuildID: guilds[2], ChannelID: "5"})
	if err != nil {
		t.Fatal(err)
	}
	if _, event, d := c.read(); event != "INTERACTION_CREATE" || d["id"] != id {
		t.Errorf("got %s %v, want INTERACTION_CREATE %s", event, d, id)
	}

	// A cut shard is dropped and refused until Recover.
	s.CutShard(1)
	if op, _, _ := c.read(); op >= 0 {
		t.Errorf("cut shard still reads op %d", op)
	}
	c = dialGateway(t, s)
	c.identify(s.Token, []int{1, 3})
	if op, _, _ := c.read(); op >= 0 {
		t.Errorf("IDENTIFY of a cut shard answered op %d", op)
	}
	s.Recover()
	c = dialGateway(t, s)
	c.identify(s.Token, []int{1, 3})
	if _, event, _ := c.read(); event != "READY" {
		t.Errorf("after Recover: %q, want READY", event)
	}
}
