// Package cdp drives headless Chromium over the DevTools protocol for
// browser tests: start it, evaluate JavaScript in a page, take
// screenshots.
//
// Imports: internal/testutil.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sextantdc/sextant/internal/testutil"
)

// Page is a minimal Chrome DevTools Protocol client on one page target.
type Page struct {
	t    testing.TB
	conn *websocket.Conn
	id   atomic.Int64
}

// Call sends one DevTools method and decodes its result into result.
func (c *Page) Call(method string, params any, result any) error {
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

// Eval runs a JavaScript expression in the page and decodes its JSON
// value into out.
func (c *Page) Eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot writes a PNG of the whole page to path.
func (c *Page) Screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := c.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Start starts headless Chromium (Debian's chromium) with the flags a
// machine without outside network needs, and connects to its first page.
// It skips the test, saying why, when Chromium is not installed; the
// browser stops with the test.
func Start(t testing.TB) *Page {
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
	// A test binary that dies (a timeout's panic skips the cleanups)
	// takes the browser with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
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
	return &Page{t: t, conn: conn}
}
