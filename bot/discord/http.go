package discord

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// discordHost is the host discordgo's Endpoint* URLs point at.
const discordHost = "discord.com"

// newHTTPClient copies the base client (or makes one, see adapterkit.NewHTTPClient)
// and routes every request for https://discord.com/ to base, without
// touching discordgo's Endpoint* globals. observe sees every answer (to
// count invalid requests).
func newHTTPClient(baseClient *http.Client, base *url.URL, observe func(*http.Response)) *http.Client {
	c := adapterkit.NewHTTPClient(baseClient, 20*time.Second)
	c.Transport = &observingTransport{next: &rewriteTransport{base: base, next: c.Transport}, observe: observe}
	return c
}

// observingTransport shows every answer to observe before the caller reads it.
type observingTransport struct {
	next    http.RoundTripper
	observe func(*http.Response)
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && t.observe != nil {
		t.observe(resp)
	}
	return resp, err
}

// rewriteTransport replaces scheme, host and leading path of https://discord.com/… with base.
type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != discordHost || (t.base.Scheme == "https" && t.base.Host == discordHost && t.base.Path == "/") {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme = t.base.Scheme
	u.Host = t.base.Host
	u.Path = t.base.Path + strings.TrimPrefix(req.URL.Path, "/")
	if req.URL.RawPath != "" {
		u.RawPath = t.base.EscapedPath() + strings.TrimPrefix(req.URL.RawPath, "/")
	}
	r.URL = &u
	r.Host = ""
	return t.next.RoundTrip(r)
}

// rateInfo is what one answer said: its status (discordgo turns a 502 into
// a plain error) and its rate-limit headers (discordgo's RateLimitError
// drops the global flag, and a 429 without JSON body comes back as a bare
// JSON syntax error). Send reads it through a per-call client.
type rateInfo struct {
	status     int  // 0: no answer (network error, timeout)
	limited    bool // the answer was a 429
	global     bool
	headerless bool // a 429 without any X-RateLimit-* header (Cloudflare's)
	retryAfter time.Duration
}

type recordingTransport struct {
	next http.RoundTripper
	info *rateInfo
	now  func() time.Time // for a Retry-After given as an HTTP-date
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	t.info.status = resp.StatusCode
	if resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	h := resp.Header
	t.info.limited = true
	t.info.headerless = !hasRateLimitHeaders(h)
	t.info.global = strings.EqualFold(h.Get("X-RateLimit-Global"), "true") || strings.EqualFold(h.Get("X-RateLimit-Scope"), "global")
	if wait, ok := adapterkit.ParseRetryAfter(h.Get("Retry-After"), t.now()); ok {
		t.info.retryAfter = wait
	}
	return resp, nil
}

// recordingClient is a copy of c whose transport records rate-limit headers into info.
func recordingClient(c *http.Client, info *rateInfo, now func() time.Time) *http.Client {
	cp := *c
	cp.Transport = &recordingTransport{next: c.Transport, info: info, now: now}
	return &cp
}

// status is the HTTP status of a discordgo REST error, 0 if err is not one.
func status(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		return http.StatusTooManyRequests
	}
	return 0
}

// fromDiscord says whether a REST error's body is Discord's own JSON error
// ({"message": …, "code": …}). A 403 or 404 without it is a page from
// something in between (Cloudflare, a proxy, a captive portal): it says
// nothing about the channel, so the subscription must not end over it.
func fromDiscord(err error) bool {
	var re *discordgo.RESTError
	return errors.As(err, &re) && re.Message != nil
}

// code is Discord's JSON error code of a REST error, 0 if none.
func code(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil {
		return re.Message.Code
	}
	return 0
}

// rateLimitWait is the retry_after of a 429 discordgo read, 0 if err is no
// such 429.
func rateLimitWait(err error) time.Duration {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
		return rl.RetryAfter
	}
	return 0
}
