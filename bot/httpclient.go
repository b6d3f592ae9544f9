package bot

import (
	"net/http"
	"time"
)

// NewHTTPClient returns the HTTP client for a platform's API: a copy of base
// (a new client if base is nil) whose nil Transport becomes a pooled one and
// whose zero Timeout becomes timeout. base itself is never changed.
func NewHTTPClient(base *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	if c.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Delivery sends to one API host from many workers at once;
		// DefaultTransport would keep only 2 idle connections per host and
		// open (and TLS-handshake) a new one for every other send.
		t.MaxIdleConnsPerHost = 32
		c.Transport = t
	}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	return &c
}
