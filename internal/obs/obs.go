// Package obs holds what every long-running role exposes: a Prometheus
// registry of its own (never the global one), /metrics, and /health.
//
// # /health
//
// One rule for every role. The body lists the role's named checks and,
// when the role reads a cluster model, each source behind it:
//
//	{"status": "degraded",
//	 "checks": {"mesos-dns": "ok"},
//	 "sources": [{"name": "mesos", "state": "stale", "age_seconds": 12.5,
//	              "last_success": "…", "last_error": "…", "last_error_time": "…",
//	              "stale_after_seconds": 180}],
//	 "time": "…"}
//
// A source is "ok" (its last fetch succeeded), "stale" (its fetches fail
// and its last good observation is being served; age_seconds says how old
// that is) or "no-data" (it has never delivered). The status code follows
// from them: 503 ("unhealthy") when a check fails, a source has no data, or
// a source has been stale for longer than its stale_after_seconds (the
// source's "error" then says why); otherwise 200, with "degraded" while a
// source is stale within that bound and "ok" when all is well. A stale
// source within the bound keeps 200 because its last good data is still
// being served and a load balancer should not pull a node for one missed
// refresh; the body says which source is behind so that nobody is misled.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package obs

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// MetricsHandler serves the registry in the Prometheus text format.
func MetricsHandler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
}

// Source states, as SourceHealth.State.
const (
	SourceOK     = "ok"
	SourceStale  = "stale"
	SourceNoData = "no-data"
)

// Overall states, as the "status" of a /health body.
const (
	StatusOK        = "ok"
	StatusDegraded  = "degraded"
	StatusUnhealthy = "unhealthy"
)

// SourceHealth is one source behind a role's data, as /health shows it.
type SourceHealth struct {
	Name string
	// State is SourceOK, SourceStale or SourceNoData.
	State string
	// Age is how old the last good observation is (0 without one).
	Age time.Duration
	// LastSuccess is when the last good observation arrived (zero: never).
	LastSuccess time.Time
	// LastError and LastErrorTime describe the last failed fetch since
	// then, if any.
	LastError     string
	LastErrorTime time.Time
	// StaleAfter is how long the source may stay stale before it fails
	// /health.
	StaleAfter time.Duration
	// Failing says why the source fails /health now ("" while it does
	// not): no data yet, or stale for longer than StaleAfter.
	Failing string
}

// Sources reports the sources behind a role's data, with the health rule
// already applied to each (*hub.Hub implements it). SourceHealth is called
// on every /health request, from any goroutine; it must not block.
type Sources interface {
	SourceHealth() []SourceHealth
}

// Health aggregates named checks and the sources of a role. A check
// returns nil when healthy. The zero value is ready to use.
type Health struct {
	mu      sync.Mutex
	checks  map[string]func() error
	sources Sources
	notes   map[string]func() string
}

// Note registers (or replaces) a named note: information /health shows
// under "notes" that never fails it (a feature this process runs
// without, and why).
func (h *Health) Note(name string, note func() string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.notes == nil {
		h.notes = map[string]func() string{}
	}
	h.notes[name] = note
}

// Notes returns the current notes.
func (h *Health) Notes() map[string]string {
	h.mu.Lock()
	notes := make(map[string]func() string, len(h.notes))
	for k, v := range h.notes {
		notes[k] = v
	}
	h.mu.Unlock()
	out := make(map[string]string, len(notes))
	for k, f := range notes {
		out[k] = f()
	}
	return out
}

// Add registers (or replaces) a named check.
func (h *Health) Add(name string, check func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checks == nil {
		h.checks = map[string]func() error{}
	}
	h.checks[name] = check
}

// SetSources makes /health report s's sources (nil: none).
func (h *Health) SetSources(s Sources) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sources = s
}

// sourceJSON is one entry of "sources".
type sourceJSON struct {
	Name              string   `json:"name"`
	State             string   `json:"state"`
	AgeSeconds        *float64 `json:"age_seconds,omitempty"`
	LastSuccess       string   `json:"last_success,omitempty"`
	LastError         string   `json:"last_error,omitempty"`
	LastErrorTime     string   `json:"last_error_time,omitempty"`
	StaleAfterSeconds float64  `json:"stale_after_seconds"`
	Error             string   `json:"error,omitempty"`
}

// Report is a /health answer: its status code and body.
type Report struct {
	Code    int
	Status  string
	Checks  map[string]string
	Sources []SourceHealth
}

// Report runs every check and reads every source.
func (h *Health) Report() Report {
	h.mu.Lock()
	checks := make(map[string]func() error, len(h.checks))
	for k, v := range h.checks {
		checks[k] = v
	}
	src := h.sources
	h.mu.Unlock()
	r := Report{Code: http.StatusOK, Status: StatusOK, Checks: map[string]string{}}
	fail := false
	for name, c := range checks {
		if err := c(); err != nil {
			fail = true
			r.Checks[name] = err.Error()
		} else {
			r.Checks[name] = "ok"
		}
	}
	if src != nil {
		r.Sources = src.SourceHealth()
	}
	for _, s := range r.Sources {
		switch {
		case s.Failing != "" || s.State == SourceNoData:
			fail = true
		case s.State != SourceOK && r.Status == StatusOK:
			r.Status = StatusDegraded
		}
	}
	if fail {
		r.Code, r.Status = http.StatusServiceUnavailable, StatusUnhealthy
	}
	return r
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ServeHTTP answers the report as JSON (the package comment has the rule).
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r := h.Report()
	body := map[string]any{"status": r.Status, "checks": r.Checks, "time": time.Now().UTC().Format(time.RFC3339)}
	if notes := h.Notes(); len(notes) > 0 {
		body["notes"] = notes
	}
	if len(r.Sources) > 0 {
		ss := make([]sourceJSON, 0, len(r.Sources))
		for _, s := range r.Sources {
			j := sourceJSON{Name: s.Name, State: s.State, LastSuccess: timeString(s.LastSuccess), LastError: s.LastError,
				LastErrorTime: timeString(s.LastErrorTime), StaleAfterSeconds: s.StaleAfter.Seconds(), Error: s.Failing}
			if s.State != SourceNoData {
				age := float64(s.Age.Milliseconds()) / 1000
				j.AgeSeconds = &age
			}
			ss = append(ss, j)
		}
		body["sources"] = ss
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Code)
	_ = json.NewEncoder(w).Encode(body)
}
