package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

var _ bot.Notifier = (*Notifier)(nil)

// Notifier posts alerts to the configured webhooks.
type Notifier struct {
	client  *http.Client
	log     *slog.Logger
	targets map[string]*endpoint
	now     func() time.Time // for Retry-After given as an HTTP date
}

// endpoint is one URL ready to post to.
type endpoint struct {
	target
	post string // the URL requested (Discord's gets ?wait=true)
	// secrets are the texts that must never appear in an error: the URL and
	// its token-bearing parts, raw, path-escaped and query-escaped.
	secrets []string
}

// New checks s and prepares one endpoint per entry. A nil client gets one
// with a 10 s timeout; a nil log discards.
func New(s Settings, client *http.Client, log *slog.Logger) (*Notifier, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ts, _ := s.targets()
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{client: client, log: log, targets: make(map[string]*endpoint, len(ts)), now: time.Now}
	for _, t := range ts {
		n.targets[t.id] = newEndpoint(t)
	}
	return n, nil
}

func newEndpoint(t target) *endpoint {
	post := *t.url
	if t.kind == KindDiscord {
		// wait=true makes Discord answer with the message, and so its id.
		q := post.Query()
		q.Set("wait", "true")
		post.RawQuery = q.Encode()
	}
	e := &endpoint{target: t, post: post.String()}
	parts := []string{t.url.String(), e.post, t.url.Path, t.url.EscapedPath(), t.url.RawQuery, post.RawQuery}
	if t.url.User != nil {
		parts = append(parts, t.url.User.String(), t.url.User.Username())
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if len(p) < 2 { // "/" or "" would redact every path in a message
			continue
		}
		for _, f := range []string{p, url.PathEscape(p), url.QueryEscape(p)} {
			if !seen[f] {
				seen[f] = true
				e.secrets = append(e.secrets, f)
			}
		}
	}
	// Longest first, so a part never leaves pieces of a longer form behind.
	sort.Slice(e.secrets, func(i, j int) bool { return len(e.secrets[i]) > len(e.secrets[j]) })
	return e
}

// Send posts m to the webhook whose id is chatID and returns Discord's
// message id ("" for the other kinds). Errors are *bot.SendError and never
// contain the URL:
//   - 429: RateLimited for Retry-After (seconds or an HTTP date; 1 s if absent).
//   - 404, 410 (Slack no_service, channel_is_archived; Discord Unknown
//     Webhook), an id not configured: Permanent, ending the subscription.
//   - other 4xx: Retryable with the receiver's reason; delivery's attempt
//     limit expires the row.
//   - 5xx, network errors and timeouts: Retryable. Each URL is its own
//     receiver, so one's outage says nothing about the others.
func (n *Notifier) Send(ctx context.Context, chatID string, m bot.Message) (string, error) {
	e, ok := n.targets[chatID]
	if !ok {
		return "", &bot.SendError{Class: bot.Permanent, Err: fmt.Errorf("webhook %s: not configured", chatID)}
	}
	fail := func(se *bot.SendError, err error) (string, error) {
		se.Err = fmt.Errorf("webhook %s: %w", chatID, e.redact(err))
		return "", se
	}
	body, err := json.Marshal(e.payload(m))
	if err != nil {
		return fail(&bot.SendError{Class: bot.Retryable}, fmt.Errorf("encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.post, bytes.NewReader(body))
	if err != nil {
		return fail(&bot.SendError{Class: bot.Permanent}, errors.New("build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "xstatusbot")
	resp, err := n.client.Do(req)
	if err != nil {
		return fail(&bot.SendError{Class: bot.Retryable}, err)
	}
	defer func() {
		// Drain what is left so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if e.kind != KindDiscord {
			return "", nil
		}
		var sent struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&sent); err != nil {
			// The webhook took the message; sending again would post it twice.
			n.log.Warn("webhook accepted a message but its answer was unreadable", "platform", string(Platform), "chat", chatID, "err", e.redact(err))
			return "", nil
		}
		return sent.ID, nil
	}
	reason := fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet(resp.Body))
	switch st := resp.StatusCode; {
	case st == http.StatusTooManyRequests:
		return fail(&bot.SendError{Class: bot.RateLimited, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), n.now())}, reason)
	case st == http.StatusNotFound || st == http.StatusGone:
		return fail(&bot.SendError{Class: bot.Permanent}, reason)
	default:
		// Other 4xx: our payload or the receiver's setup is wrong; retrying the
		// same message is unlikely to help, so the attempt limit ends it soon.
		return fail(&bot.SendError{Class: bot.Retryable}, reason)
	}
}

func (e *endpoint) payload(m bot.Message) any {
	switch e.kind {
	case KindSlack:
		return renderSlack(m)
	case KindDiscord:
		return renderDiscord(m)
	default:
		return renderJSON(m)
	}
}

// retryAfter reads a Retry-After header: seconds (possibly fractional) or
// an HTTP date. Absent or unreadable, it is 1 s.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if s, err := strconv.ParseFloat(h, 64); err == nil && s > 0 && s < 1e6 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return time.Second
}

// snippet is the start of an error body on one line: the receiver's reason
// (Slack: "no_service"; Discord: {"message": …, "code": …}).
func snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 200))
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}

// redact returns err with every form of the URL removed. A *url.Error
// keeps its type, Op and cause (so errors.Is(err, context.Canceled) and
// Timeout still work); a cause whose own text holds a secret is replaced by
// its redacted text.
func (e *endpoint) redact(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		inner := ue.Err
		if inner != nil && e.leaks(inner.Error()) {
			inner = &redactedError{msg: e.redactText(inner.Error()), timeout: isTimeout(inner)}
		}
		return &url.Error{Op: ue.Op, URL: "[redacted]", Err: inner}
	}
	if !e.leaks(err.Error()) {
		return err
	}
	return &redactedError{msg: e.redactText(err.Error()), timeout: isTimeout(err)}
}

func (e *endpoint) leaks(s string) bool {
	for _, sec := range e.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

func (e *endpoint) redactText(s string) string {
	for _, sec := range e.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

// redactedError stands in for an error whose text held the URL.
type redactedError struct {
	msg     string
	timeout bool
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Timeout() bool { return r.timeout }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
