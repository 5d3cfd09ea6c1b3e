//go:build !linux

package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/runtime"
)

func platformUnavailable() string { return "container networks need Linux" }

type localOverlay struct{}

func newLocalOverlay(*netStatus) *localOverlay { return &localOverlay{} }

func (*localOverlay) Join(string, string) (runtime.Joined, error) {
	return runtime.Joined{}, runtime.ErrNoContainerNetworks
}
func (*localOverlay) Leave(string) {}
func (*localOverlay) prepare(context.Context, upOverlayOptions) error {
	return runtime.ErrNoContainerNetworks
}
func (*localOverlay) stop() {}

type upOverlayOptions struct {
	StateDir, IP, MasterURL string
	Mux                     *http.ServeMux
	Registry                prometheus.Registerer
	Logger                  *slog.Logger
}

func (*localOverlay) isolation(context.Context, *hub.Subscription) error { return nil }
