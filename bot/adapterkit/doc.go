// Package adapterkit is what the platform adapters share and nothing else
// needs: an HTTP client that follows no redirect and bounds what it reads,
// secrets that never print, Retry-After parsing, a retry loop, and the
// counter of panics recovered while answering commands.
package adapterkit
