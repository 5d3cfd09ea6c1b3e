package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/gateway/auth"
	"github.com/sextantdc/sextant/internal/gateway/ui"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/cdp"
)

// TestDashboardShowsBackendFigures: when the load balancer's /v1/vips
// reports per-backend counters, the dashboard shows them with the
// connection rate and the failure share, and keeps them current.
func TestDashboardShowsBackendFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	wf := newWatchFixture(t)
	var conns atomic.Int64
	// The node DNS role's /v1/vips as the L4 load balancer extends it:
	// state and counters per backend.
	netAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/vips":
			n := conns.Add(50)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `[{"vip":"echo.marathon.l4lb.thisdcos.directory:7","protocol":"tcp","plane":"userspace",
				"backend":[{"ip":"127.0.0.1","port":31000,"weight":1,"agent_ip":"127.0.0.1","state":"up",
				"connections":%d,"active":3,"failures":%d,"bytes_to_backend":1000,"bytes_from_backend":2000}]}]`, n, n/10)
		case "/v1/records":
			fmt.Fprint(w, `[{"name":"echo-tools.marathon.autoip.dcos.thisdcos.directory","host":"127.0.0.1","rtype":"A"}]`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(netAPI.Close)
	store, err := auth.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(store, auth.Options{})
	tok, _ := svc.Issue("admin", 0)
	gw := New(Options{Current: wf.h.Current, Watch: wf.w, Auth: svc, UI: ui.Files(), Net: netAPI.URL})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	// Started last, stopped first: its event streams would hold the
	// servers' Close.
	page := cdp.Start(t)

	if err := page.Call("Page.navigate", map[string]any{"url": srv.URL + "/#token=" + tok}, nil); err != nil {
		t.Fatal(err)
	}
	cell := func(fig string) string {
		var s string
		_ = page.Eval(fmt.Sprintf(`(document.querySelector('[data-vip="echo.marathon.l4lb.thisdcos.directory:7"] td[data-figure="%s"]') || {}).textContent || ""`, fig), &s)
		return s
	}
	testutil.Eventually(t, 60*time.Second, "the backend's counters in the page", func() bool {
		return cell("connections") != "" && cell("failures") != "" && cell("failure_pct") != ""
	})
	var heads []string
	_ = page.Eval(`[...document.querySelectorAll('[data-vip] thead th')].map(th => th.textContent)`, &heads)
	for _, h := range []string{"Connections", "Failures", "Failure %", "Active", "Bytes in", "Bytes out"} {
		if !strings.Contains(strings.Join(heads, "|"), h) {
			t.Errorf("column %q missing: %v", h, heads)
		}
	}
	if got := cell("failure_pct"); got != "9.0909" {
		t.Errorf("failure share %q, want 9.0909 (failures / (connections + failures))", got)
	}
	// The page polls the counters: the rate appears with the second
	// sample, and the count grows.
	first := cell("connections")
	testutil.Eventually(t, 60*time.Second, "a connection rate and a newer count", func() bool {
		return cell("connections_per_s") != "" && cell("connections") != first
	})
	if err := page.Screenshot(filepath.Join(t.ArtifactDir(), "backend-figures.png")); err != nil {
		t.Error(err)
	}
}
