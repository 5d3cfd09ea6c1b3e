package haproxy_test

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/edgetest"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

// suiteFactory is the HAProxy engine for the shared suite: marathon-lb's
// :80, :443 and :9091 moved to the suite's addresses, HAProxy 2.2's
// dialect (Debian's HAProxy 2.6 has no reqirep).
func suiteFactory(t *testing.T, a edgetest.Addrs) edgetest.Target {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed (Debian package haproxy, in the Makefile's TEST_DEBS)")
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	tm, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22})
	if err != nil {
		t.Fatal(err)
	}
	rebind := func(addr string) string {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return addr
		}
		switch port {
		case "80":
			return a.HTTP
		case "443":
			return a.HTTPS
		case "9091":
			return a.AppID
		}
		return addr
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	e, err := haproxy.NewEngine(haproxy.EngineOptions{ConfigFile: cfgFile, Rebind: rebind, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return edgetest.Target{Engine: e, Generate: func(apps []model.App, o edge.Options) (*edge.Generation, error) {
		o.ConfigFile = cfgFile
		return haproxy.Generate(apps, o, tm)
	}}
}

func TestSuite(t *testing.T) { edgetest.Run(t, suiteFactory) }

func TestRedeploysUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	edgetest.RunRedeploys(t, suiteFactory)
}
