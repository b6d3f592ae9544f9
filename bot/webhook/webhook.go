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
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
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
	// secrets must never appear in an error: the URL and its token-bearing
	// parts (adapterkit.Secrets also removes their escaped forms).
	secrets adapterkit.Secrets
}

// New checks s and prepares one endpoint per entry. The client is used
// through adapterkit.NewHTTPClient: nil gets a pooled one with a 10 s timeout. A nil
// log discards.
func New(s Config, client *http.Client, log *slog.Logger) (*Notifier, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ts, _ := s.targets()
	client = adapterkit.NewHTTPClient(client, 10*time.Second)
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
	for _, p := range parts {
		if len(p) >= 2 { // "/" would redact every path in a message
			e.secrets = append(e.secrets, adapterkit.Secret(p))
		}
	}
	return e
}

// Send posts m to the webhook whose id is chatID and returns Discord's
// message id ("" for the other kinds). Errors are *bot.SendError and never
// contain the URL:
//   - 429: RateLimited for Retry-After (adapterkit.ParseRetryAfter: seconds or an
//     HTTP date, at most adapterkit.MaxRetryAfter; 1 s if absent).
//   - 404, 410 (Slack no_service, channel_is_archived; Discord Unknown
//     Webhook), an id not configured: Permanent, ending the subscription.
//   - 3xx: Permanent. The client never follows a redirect (it would re-post
//     the alert to a host nobody configured, with the secret URL in its
//     Referer); the reason names the status, never the Location.
//   - 401, 403 (the URL's credentials are wrong or revoked): Rejected, the
//     row expires at once; the subscription stays, since the receiver's
//     owner may fix its side.
//   - other 4xx: Retryable with the receiver's reason; delivery's attempt
//     limit expires the row.
//   - 5xx, network errors and timeouts: Unavailable. They spend no attempt
//     (the alert waits until DELIVERY_MAX_AGE); delivery retries that URL
//     with backoff, and pauses the webhook platform only when no receiver
//     answers at all, since each URL is its own receiver.
func (n *Notifier) Send(ctx context.Context, chatID string, m bot.Message) (string, error) {
	e, ok := n.targets[chatID]
	if !ok {
		return "", &bot.SendError{Class: bot.Permanent, Err: fmt.Errorf("webhook %s: not configured", chatID)}
	}
	fail := func(se *bot.SendError, err error) (string, error) {
		se.Err = fmt.Errorf("webhook %s: %w", chatID, e.secrets.RedactError(err))
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
		return fail(&bot.SendError{Class: bot.Unavailable}, err)
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
			n.log.Warn("webhook accepted a message but its answer was unreadable", "chat", chatID, "err", e.secrets.RedactError(err))
			return "", nil
		}
		return sent.ID, nil
	}
	if adapterkit.IsRedirect(resp.StatusCode) {
		n.log.Warn("webhook answered with a redirect, not followed: its subscription ends; fix the URL in WEBHOOK_URLS",
			"chat", chatID, "status", resp.StatusCode)
		return fail(&bot.SendError{Class: bot.Permanent}, fmt.Errorf("HTTP %d: redirect not followed", resp.StatusCode))
	}
	reason := fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet(resp.Body))
	switch st := resp.StatusCode; {
	case st == http.StatusTooManyRequests:
		wait, ok := adapterkit.ParseRetryAfter(resp.Header.Get("Retry-After"), n.now())
		if !ok {
			wait = time.Second
		}
		return fail(&bot.SendError{Class: bot.RateLimited, RetryAfter: wait}, reason)
	case st == http.StatusNotFound || st == http.StatusGone:
		return fail(&bot.SendError{Class: bot.Permanent}, reason)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return fail(&bot.SendError{Class: bot.Rejected}, reason)
	case st >= 500:
		return fail(&bot.SendError{Class: bot.Unavailable}, reason)
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
