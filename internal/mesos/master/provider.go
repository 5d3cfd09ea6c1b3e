// Package master serves the Mesos master HTTP APIs — the v0 `/master/state`
// document and the v1 operator API (`POST /api/v1`, including the SUBSCRIBE
// event stream) — from a state provider such as Sextant's local runtime.
//
// Everything served is derived from one provider state, so pollers of
// `/master/state` and stream subscribers never disagree. Events are not
// produced by the provider: the handler diffs successive provider states
// (a new task id is TASK_ADDED, a new latest status or state is
// TASK_UPDATED, …), which keeps the provider contract small.
//
// Imports of Sextant's own packages: internal/mesos/operator/recordio, internal/mesos/operator/v1,
// internal/mesos/state; nothing else of Sextant.
package master

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Provider is the source of the cluster state a Handler serves.
//
// Both methods may be called concurrently from many goroutines and must not
// block for long.
type Provider interface {
	// State returns the current cluster state in the v0 /master/state shape.
	// Callers must not modify it; the provider must not modify a state after
	// returning it (return a new one on every change).
	State() *state.State
	// Changed returns a channel that is closed at the next change after the
	// call. Callers call Changed before State so that no change is missed.
	Changed() <-chan struct{}
}

// Options tune a Handler. The zero value is usable.
type Options struct {
	// HeartbeatInterval is the period of HEARTBEAT events on SUBSCRIBE
	// streams and the value of subscribed.heartbeat_interval_seconds.
	// Default 15s, Mesos' fixed DEFAULT_HEARTBEAT_INTERVAL.
	HeartbeatInterval time.Duration
	// QueueSize bounds the records queued for one subscriber. A subscriber
	// whose queue overflows is disconnected (it resubscribes and gets a
	// fresh snapshot); the provider is never blocked. Default 1024.
	QueueSize int
	// MaxSubscribers caps concurrent SUBSCRIBE streams; beyond it the
	// oldest stream is closed, as Mesos ≥ 1.8 does. Default 1000.
	MaxSubscribers int
	// Version is reported by /version and GET_VERSION when the provider's
	// state carries none. Default "1.11.0".
	Version string
	// Leader, when set ("host:port"), makes the handler behave as a
	// non-leading master that redirects every API request to that leader
	// with 307 and a protocol-relative Location. Useful to test consumers.
	Leader string
	// Authenticate, when set, guards /api/v1 (the read-write realm
	// "mesos-master-readwrite"): requests it rejects get 401 with a Basic
	// challenge. Nil accepts every request, like a default Mesos master.
	Authenticate func(r *http.Request) bool
	// Registerer receives the handler's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (for start/registration times); default time.Now.
	Now func() time.Time
}
