// Package adapterkit is what the platform adapters share and nothing else
// needs: the adapter contract (Config, built into an Adapter), an HTTP
// client that follows no redirect and bounds what it reads, secrets that
// never print, Retry-After parsing, a retry loop, the counter of panics
// recovered while answering commands, the platforms' message limits and the
// one Discord embed renderer (the Discord adapter and Discord webhooks post
// the same embeds). Adapters import it, never each other.
package adapterkit
