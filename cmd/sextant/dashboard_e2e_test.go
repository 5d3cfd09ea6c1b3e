package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/cdp"
)

// TestDashboardInChromium: the banner's dashboard URL opens in a real
// browser, logs in with the admin token, lists the example apps' VIPs
// and backends, and follows an app scaling without a reload.
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	bin := testutil.Binary(t)
	browser := cdp.Start(t)
	dir := t.TempDir()
	fa := func() string { return testutil.FreeAddr(t) }
	cmd := exec.Command(bin, "up", "--state-dir", dir, "--marathon-addr", fa(), "--mesos-addr", fa(), "--dns-addr", fa(),
		"--mesos-dns-http-addr", fa(), "--node-dns-addr", fa(), "--net-api-addr", fa(), "--gateway-addr", fa(), "--max-tasks", "10")
	banner := &syncBuffer{}
	cmd.Stdout = banner
	proc := testutil.StartProcess(t, cmd)
	t.Cleanup(func() { proc.Stop(60 * time.Second) })
	proc.Eventually(60*time.Second, "the banner", func() bool { return strings.Contains(banner.String(), "dashboard: ") })
	m := regexp.MustCompile(`dashboard: (http://\S+)`).FindStringSubmatch(banner.String())
	if m == nil {
		t.Fatalf("no dashboard URL in the banner:\n%s", banner.String())
	}
	dashURL := m[1]
	var eps map[string]string
	b, _ := os.ReadFile(filepath.Join(dir, "endpoints.json"))
	if err := json.Unmarshal(b, &eps); err != nil || eps["gateway"] == "" || !strings.HasPrefix(dashURL, eps["gateway"]+"/#token=") {
		t.Fatalf("endpoints.json %s, banner URL %s", b, dashURL)
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "gateway_token"))
	if !strings.Contains(dashURL, strings.TrimSpace(string(tok))) {
		t.Fatal("the banner's URL does not carry the token of gateway_token")
	}
	if err := browser.Call("Page.enable", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := browser.Call("Page.navigate", map[string]any{"url": dashURL}, nil); err != nil {
		t.Fatal(err)
	}
	// backends counts a VIP's backend rows in the page that say serving.
	backends := func(vip string) int {
		var n int
		if err := browser.Eval(fmt.Sprintf(`[...document.querySelectorAll('[data-vip="%s"] tr[data-backend]')].filter(tr => tr.textContent.includes("serving") && !tr.textContent.includes("not serving")).length`, vip), &n); err != nil {
			return -1
		}
		return n
	}
	const echoVIP, twitVIP = "echo.marathon.l4lb.thisdcos.directory:7", "minitwit.marathon.l4lb.thisdcos.directory:80"
	proc.Eventually(120*time.Second, "the examples' VIPs with their backends in the page", func() bool {
		return backends(echoVIP) == 1 && backends(twitVIP) == 1
	})
	var live string
	_ = browser.Eval(`document.getElementById('live').textContent`, &live)
	if live != "live" {
		t.Errorf("live indicator %q, want live (the event streams are open)", live)
	}
	shot := filepath.Join(t.ArtifactDir(), "dashboard-vips.png")
	if err := browser.Screenshot(shot); err != nil {
		t.Errorf("screenshot: %v", err)
	}

	// Scale /tools/echo to 2 through Marathon's API; the open page shows
	// the second backend without reloading.
	req, _ := http.NewRequest(http.MethodPut, eps["marathon"]+"/v2/apps/tools/echo?force=true", strings.NewReader(`{"instances": 2}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("scale: %s", resp.Status)
	}
	proc.Eventually(120*time.Second, "the second echo backend in the open page", func() bool { return backends(echoVIP) == 2 })
	if err := browser.Screenshot(filepath.Join(t.ArtifactDir(), "dashboard-scaled.png")); err != nil {
		t.Errorf("screenshot: %v", err)
	}

	// The other pages render the same cluster.
	checks := map[string]string{
		"#/services": `document.querySelectorAll('[data-service="minitwit"]').length * document.querySelectorAll('tr[data-upstream="DCOSNet"]').length`,
		"#/edge":     `document.querySelectorAll('[data-route="minitwit_10001"]').length`,
		"#/networks": `document.querySelectorAll('[data-network="host"]').length`,
	}
	for hash, expr := range checks {
		if err := browser.Eval(`location.hash = "`+hash+`"; 1`, new(int)); err != nil {
			t.Fatal(err)
		}
		proc.Eventually(60*time.Second, hash+" rendered", func() bool {
			var n int
			return browser.Eval(expr, &n) == nil && n >= 1
		})
	}
	_ = browser.Eval(`location.hash = "#/dns"; document.getElementById('dns-search').value = "minitwit"; document.getElementById('dns-search').dispatchEvent(new Event('input')); 1`, new(int))
	proc.Eventually(60*time.Second, "DNS records matching the search", func() bool {
		var names []string
		if browser.Eval(`[...document.querySelectorAll('#dns-table tbody tr td:first-child')].map(td => td.textContent)`, &names) != nil || len(names) == 0 {
			return false
		}
		for _, n := range names {
			if !strings.Contains(n, "minitwit") {
				return false
			}
		}
		return true
	})
	if err := browser.Screenshot(filepath.Join(t.ArtifactDir(), "dashboard-dns.png")); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("screenshots in %s", t.ArtifactDir())
}
