package bot

import "time"

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
}
