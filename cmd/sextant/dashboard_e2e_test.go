package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sextantdc/sextant/internal/testutil"
)

// cdp is a minimal Chrome DevTools Protocol client on one page target.
type cdp struct {
	t    *testing.T
	conn *websocket.Conn
	id   atomic.Int64
}

func (c *cdp) call(method string, params any, result any) error {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := c.id.Add(1)
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return err
	}
	for {
		_, msg, err := c.conn.Read(ctx)
		if err != nil {
			return err
		}
		var resp struct {
			ID     int64           `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(msg, &resp) != nil || resp.ID != id {
			continue // an event, or another call's answer
		}
		if resp.Error != nil {
			return fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(resp.Result, result)
		}
		return nil
	}
}

// eval runs a JavaScript expression in the page and returns its JSON value.
func (c *cdp) eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	return json.Unmarshal(r.Result.Value, out)
}

func (c *cdp) screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// startChromium starts Debian's headless Chromium with the flags this
// machine's closed network needs, and connects to its first page.
func startChromium(t *testing.T) *cdp {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium is not installed (Debian package chromium): the dashboard's browser test needs it")
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=1400,1100", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	proc := testutil.StartProcess(t, cmd)
	t.Cleanup(func() { proc.Stop(10 * time.Second) })
	wsURL := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				wsURL <- m[1]
			}
		}
	}()
	var browser string
	select {
	case browser = <-wsURL:
	case <-time.After(60 * time.Second):
		t.Fatalf("chromium did not open its DevTools port\n%s", proc.Log)
	}
	host := strings.TrimPrefix(browser, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	var page string
	testutil.Eventually(t, 30*time.Second, "a page target", func() bool {
		resp, err := http.Get("http://" + host + "/json/list")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var targets []struct{ Type, WebSocketDebuggerURL string }
		_ = json.NewDecoder(resp.Body).Decode(&targets)
		for _, tg := range targets {
			if tg.Type == "page" {
				page = tg.WebSocketDebuggerURL
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, page, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &cdp{t: t, conn: conn}
}

// TestDashboardInChromium: the banner's dashboard URL opens in a real
// browser, logs in with the admin token, lists the example apps' VIPs
// and backends, and follows an app scaling without a reload.
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	bin := testutil.Binary(t)
	browser := startChromium(t)
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
	if err := browser.call("Page.enable", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := browser.call("Page.navigate", map[string]any{"url": dashURL}, nil); err != nil {
		t.Fatal(err)
	}
	// backends counts a VIP's backend rows in the page that say serving.
	backends := func(vip string) int {
		var n int
		if err := browser.eval(fmt.Sprintf(`[...document.querySelectorAll('[data-vip="%s"] tr[data-backend]')].filter(tr => tr.textContent.includes("serving") && !tr.textContent.includes("not serving")).length`, vip), &n); err != nil {
			return -1
		}
		return n
	}
	const echoVIP, twitVIP = "echo.marathon.l4lb.thisdcos.directory:7", "minitwit.marathon.l4lb.thisdcos.directory:80"
	proc.Eventually(120*time.Second, "the examples' VIPs with their backends in the page", func() bool {
		return backends(echoVIP) == 1 && backends(twitVIP) == 1
	})
	var live string
	_ = browser.eval(`document.getElementById('live').textContent`, &live)
	if live != "live" {
		t.Errorf("live indicator %q, want live (the event streams are open)", live)
	}
	shot := filepath.Join(t.ArtifactDir(), "dashboard-vips.png")
	if err := browser.screenshot(shot); err != nil {
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
	if err := browser.screenshot(filepath.Join(t.ArtifactDir(), "dashboard-scaled.png")); err != nil {
		t.Errorf("screenshot: %v", err)
	}

	// The other pages render the same cluster.
	checks := map[string]string{
		"#/services": `document.querySelectorAll('[data-service="minitwit"]').length`,
		"#/edge":     `document.querySelectorAll('[data-route="minitwit_10001"]').length`,
		"#/networks": `document.querySelectorAll('[data-network="host"]').length`,
	}
	for hash, expr := range checks {
		if err := browser.eval(`location.hash = "`+hash+`"; 1`, new(int)); err != nil {
			t.Fatal(err)
		}
		proc.Eventually(60*time.Second, hash+" rendered", func() bool {
			var n int
			return browser.eval(expr, &n) == nil && n >= 1
		})
	}
	_ = browser.eval(`location.hash = "#/dns"; document.getElementById('dns-search').value = "minitwit"; document.getElementById('dns-search').dispatchEvent(new Event('input')); 1`, new(int))
	proc.Eventually(60*time.Second, "DNS records matching the search", func() bool {
		var names []string
		if browser.eval(`[...document.querySelectorAll('#dns-table tbody tr td:first-child')].map(td => td.textContent)`, &names) != nil || len(names) == 0 {
			return false
		}
		for _, n := range names {
			if !strings.Contains(n, "minitwit") {
				return false
			}
		}
		return true
	})
	if err := browser.screenshot(filepath.Join(t.ArtifactDir(), "dashboard-dns.png")); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("screenshots in %s", t.ArtifactDir())
}
