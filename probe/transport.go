package probe

import (
	"net"
	"net/http"
	"time"
)

// Transport is the HTTP transport probes should use: no keep-alive reuse
// (every round measures a fresh DNS lookup, connect and TLS handshake, as a
// user's first visit would) and proxies from the environment.
func Transport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// A connection serves one request: TCP keep-alive probes would never
		// be sent, and setting them up cost four system calls per connection.
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // the request context bounds the whole check
		DisableKeepAlives:     true,
		// Every round dials afresh, so each request pays for its connection's
		// buffers (4 KiB each way by default): small ones cut what a round leaves
		// to the garbage collector. Longer header lines still read correctly.
		ReadBufferSize:    1 << 10,
		WriteBufferSize:   1 << 10,
		ForceAttemptHTTP2: true,
	}
}
