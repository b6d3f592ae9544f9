package adapterkit

import "net/http"

// BaseTransport is the transport NewHTTPClient wrapped in its body limit.
func BaseTransport(c *http.Client) http.RoundTripper {
	if t, ok := c.Transport.(*limitTransport); ok {
		return t.next
	}
	return c.Transport
}
