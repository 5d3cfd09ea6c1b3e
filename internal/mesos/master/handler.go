package master

import (
	"log/slog"
	"net/http"
)

// NewHandler returns an http.Handler serving the Mesos master endpoints
// from p. Serving is being implemented; until then every request gets 503.
func NewHandler(p Provider, opts Options, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Master has not finished recovery", http.StatusServiceUnavailable)
	})
}
