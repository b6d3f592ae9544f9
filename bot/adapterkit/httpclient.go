package adapterkit

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// MaxAnswerBytes bounds how much of one answer from a platform's API or a
// webhook receiver is read. Telegram's largest answers (getUpdates with 100
// long messages) stay well below it; a broken or hostile endpoint streaming
// without end costs at most this much.
const MaxAnswerBytes = 4 << 20

// ErrAnswerTooLarge is returned by the body of an answer longer than
// MaxAnswerBytes, once that much has been read.
var ErrAnswerTooLarge = fmt.Errorf("answer larger than %d bytes: not read further", MaxAnswerBytes)

// NewHTTPClient returns the HTTP client for a platform's API or a webhook: a
// copy of base (a new client if base is nil) whose nil Transport becomes a
// pooled one and whose zero Timeout becomes timeout. base itself is never
// changed.
//
// The copy never follows a redirect: a 3xx comes back as the answer, for
// the caller to treat as a failed send. Following one would re-post the
// message to a host nobody configured, with the secret URL (a webhook's
// token, the Bot API's token path) in its Referer header. Every answer's
// body is read through MaxAnswerBytes.
func NewHTTPClient(base *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	next := c.Transport
	if next == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Delivery sends to one API host from many workers at once;
		// DefaultTransport would keep only 2 idle connections per host and
		// open (and TLS-handshake) a new one for every other send.
		t.MaxIdleConnsPerHost = 32
		next = t
	}
	c.Transport = &limitTransport{next: next}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	c.CheckRedirect = noRedirect
	return &c
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// IsRedirect reports whether an HTTP status is a redirect, which the bot's
// clients never follow.
func IsRedirect(status int) bool { return status >= 300 && status < 400 }

// limitTransport hands out answers whose body reads at most MaxAnswerBytes.
type limitTransport struct{ next http.RoundTripper }

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: MaxAnswerBytes}
	}
	return resp, err
}

// CloseIdleConnections passes on to the wrapped transport, so
// http.Client.CloseIdleConnections still reaches the pool.
func (t *limitTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64 // bytes still allowed; -1 once over
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrAnswerTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more tells a body of exactly the limit from a longer one
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n = int(b.left)
	b.left = -1
	return n, ErrAnswerTooLarge
}

func (b *limitedBody) Close() error { return b.rc.Close() }
