// Package obs holds what every long-running role exposes: a Prometheus
// registry of its own (never the global one), /metrics, and /health.
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

// Health aggregates named checks. A check returns nil when healthy.
type Health struct {
	mu     sync.Mutex
	checks map[string]func() error
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

// ServeHTTP answers 200 with {"status":"ok",…} when every check passes and
// 503 otherwise, listing each check's result.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	checks := make(map[string]func() error, len(h.checks))
	for k, v := range h.checks {
		checks[k] = v
	}
	h.mu.Unlock()
	res := map[string]string{}
	ok := true
	for name, c := range checks {
		if err := c(); err != nil {
			ok = false
			res[name] = err.Error()
		} else {
			res[name] = "ok"
		}
	}
	status := "ok"
	code := http.StatusOK
	if !ok {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": res, "time": time.Now().UTC().Format(time.RFC3339)})
}
