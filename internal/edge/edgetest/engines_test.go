package edgetest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/edgetest"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

// haproxyTarget is the HAProxy engine with the suite's addresses.
func haproxyTarget(t *testing.T, a edgetest.Addrs) edgetest.Target {
	dir := t.TempDir()
	admin := edgetest.FreeAddr(t)
	e, err := haproxy.NewEngine(haproxy.EngineOptions{ConfigFile: filepath.Join(dir, "haproxy.cfg"),
		Rebind: func(addr string) string {
			switch {
			case strings.HasSuffix(addr, ":80"):
				return a.HTTP
			case strings.HasSuffix(addr, ":443"):
				return a.HTTPS
			case strings.HasSuffix(addr, ":9091"):
				return a.AppID
			case strings.HasSuffix(addr, ":9090"):
				return admin
			}
			return addr
		}})
	if err != nil {
		t.Skipf("HAProxy engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	tm, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22})
	if err != nil {
		t.Fatal(err)
	}
	return edgetest.Target{Engine: e, Generate: func(apps []model.App, o edge.Options) (*edge.Generation, error) {
		o.ConfigFile = filepath.Join(dir, "haproxy.cfg")
		return haproxy.Generate(apps, o, tm)
	}}
}

// TestHAProxyEngine runs the suite on the HAProxy engine: the same
// requests reach the same servers as through the native engine
// (internal/edge/native runs it there).
func TestHAProxyEngine(t *testing.T) { edgetest.Run(t, haproxyTarget) }

func TestHAProxyEngineRedeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	edgetest.RunRedeploys(t, haproxyTarget)
}
