package native_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/sextantdc/sextant/internal/edge/edgetest"
	"github.com/sextantdc/sextant/internal/edge/native"
)

func factory(t *testing.T, a edgetest.Addrs) edgetest.Target {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := native.New(native.Options{HTTPAddr: a.HTTP, HTTPSAddr: a.HTTPS, AppIDAddr: a.AppID, Logger: log})
	t.Cleanup(func() { e.Close() })
	return edgetest.Target{Engine: e}
}

func TestSuite(t *testing.T) { edgetest.Run(t, factory) }

func TestRedeploysUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	edgetest.RunRedeploys(t, factory)
}
