package bot

import (
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// PlatformState is how an adapter sees its platform, for /healthz and
// /metrics.
type PlatformState string

const (
	// PlatformConnecting: the adapter has not reached the platform yet.
	PlatformConnecting PlatformState = "connecting"
	// PlatformReady: the platform answers.
	PlatformReady PlatformState = "ready"
	// PlatformUnavailable: the platform does not answer (network, 5xx); sends
	// are paused and probed.
	PlatformUnavailable PlatformState = "unavailable"
	// PlatformUnauthorized: the platform refused the token while running. The
	// adapter makes no more calls; alerts wait (until DELIVERY_MAX_AGE) for a
	// restart with a valid token.
	PlatformUnauthorized PlatformState = "unauthorized"
)

// PlatformStates lists every state, for metrics.
var PlatformStates = []PlatformState{PlatformConnecting, PlatformReady, PlatformUnavailable, PlatformUnauthorized}

// PlatformHealth is what /healthz shows of one platform.
type PlatformHealth struct {
	State PlatformState `json:"state"`
	// PausedSince is set while delivery is paused because the platform does not answer.
	PausedSince time.Time `json:"paused_since,omitzero"`
	// Unrecorded counts outcomes the store has not taken yet.
	Unrecorded int `json:"unrecorded,omitempty"`
	// StoreError is the store error of an ongoing episode.
	StoreError string `json:"store_error,omitempty"`
	// Shards are the gateway shards of a platform that shards its
	// connection (Discord), in shard order; State is then the whole
	// platform's.
	Shards []ShardHealth `json:"shards,omitempty"`
}

// ShardHealth is what /healthz shows of one gateway shard.
type ShardHealth struct {
	ID    int           `json:"id"`
	State PlatformState `json:"state"`
	// Since is when the shard entered State.
	Since time.Time `json:"since,omitzero"`
	// Guilds counts the servers Discord sends on this shard.
	Guilds int `json:"guilds"`
}

// Health is what /healthz reports about probing.
type Health struct {
	// State and Since are X's announced state, as the leader decided it.
	State probe.State `json:"state"`
	Since time.Time   `json:"since,omitzero"`
	// LastRound, LastVerdict and ControlOK are this replica's own last
	// round: what it saw from its region, before the vote.
	LastRound   time.Time     `json:"last_round,omitzero"`
	LastVerdict probe.Verdict `json:"last_verdict,omitempty"`
	ControlOK   bool          `json:"control_ok"`
	// Stale is set when no round has completed within the allowed age.
	Stale bool `json:"stale"`
}
