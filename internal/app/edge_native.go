package app

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
)

// newNativeEngine builds the native Go engine.
func newNativeEngine(EdgeConfig, *slog.Logger, prometheus.Registerer) (edge.Engine, error) {
	return nil, errors.New("--engine native: the native engine is not part of this build; install haproxy or use --engine haproxy")
}
