package adapterkit

import "net/http"

// BaseTransport is the transport NewHTTPClient wrapped in its body limit.
func BaseTransport(c *http.Client) http.RoundTripper {
	if t, ok := c.Transport.(*limitTransport); ok {
		return t.next
	}
	return c.Transport
}

// In reports whether text holds the secret in any of the forms Redact removes.
func (s Secret) In(text string) bool { return Secrets{s}.In(text) }
