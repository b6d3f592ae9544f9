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
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // the request context bounds the whole check
		DisableKeepAlives:     true,
		ForceAttemptHTTP2:     true,
	}
}
