package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/examples"
	"github.com/sextantdc/sextant/internal/testutil"
)

func needHAProxy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed (Debian package haproxy, in the Makefile's TEST_DEBS)")
	}
}

// startEdgeUp starts `sextant up` with its edge on engine. The edge binds
// the apps' service ports (10000 and up, as Marathon assigns them) on
// --ip, so every caller gives its own loopback address: the tests run in
// parallel with each other and with other packages' `sextant up`s, which
// bind the same service ports on 127.0.0.1.
func startEdgeUp(t *testing.T, engine, ip string) *upInstance {
	fa := func() string { return testutil.FreeAddr(t) }
	return startUp(t, t.TempDir(), "--edge-http-addr", fa(), "--edge-https-addr", fa(), "--edge-admin-addr", fa(),
		"--edge-engine", engine, "--ip", ip)
}

// edgeGet asks the edge's :80 for host and path.
func edgeGet(u *upInstance, host, path string) (int, string) {
	req, _ := http.NewRequest("GET", u.eps["edge_http"]+path, nil)
	req.Host = host
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func adminGet(t *testing.T, u *upInstance, path string) string {
	t.Helper()
	resp, err := http.Get(u.eps["edge_admin"] + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestEdgeRoutesExampleApp: the example app with HAPROXY_0_VHOST answers
// through `sextant up`'s edge by Host header, and a second app with the
// same vhost and HAPROXY_0_PATH takes the requests under its path; on
// both engines.
func TestEdgeRoutesExampleApp(t *testing.T) {
	t.Run("haproxy", func(t *testing.T) {
		needHAProxy(t)
		t.Parallel()
		testEdgeRoutes(t, "haproxy", "127.0.0.21")
	})
	t.Run("native", func(t *testing.T) {
		t.Parallel()
		testEdgeRoutes(t, "native", "127.0.0.22")
	})
}

func testEdgeRoutes(t *testing.T, engine, ip string) {
	u := startEdgeUp(t, engine, ip)
	defer u.stop()
	def, err := examples.Apps.ReadFile("minitwit.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, b := u.do("POST", "/v2/apps", string(def)); code != 201 {
		t.Fatalf("create minitwit: %d %s", code, b)
	}
	u.proc.Eventually(120*time.Second, "minitwit through the edge by Host", func() bool {
		code, body := edgeGet(u, "minitwit.example.com", "/")
		return code == 200 && strings.Contains(body, "MiniTwit")
	})
	if code, _ := edgeGet(u, "other.example.com", "/"); code != 503 {
		t.Errorf("an unknown Host: %d, want 503 (no backend)", code)
	}

	var api map[string]any
	if err := json.Unmarshal(def, &api); err != nil {
		t.Fatal(err)
	}
	api["id"] = "/minitwit-api"
	api["labels"] = map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "minitwit.example.com", "HAPROXY_0_PATH": "/api"}
	b, _ := json.Marshal(api)
	if code, b := u.do("POST", "/v2/apps", string(b)); code != 201 {
		t.Fatalf("create minitwit-api: %d %s", code, b)
	}
	// A post through the edge lands on /minitwit (path "/"); the timeline
	// under /api comes from /minitwit-api, which has none.
	req, _ := http.NewRequest("POST", u.eps["edge_http"]+"/", strings.NewReader(`{"user":"ana","text":"hi"}`))
	req.Host = "minitwit.example.com"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("post through the edge: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	u.proc.Eventually(120*time.Second, "/api routed to minitwit-api", func() bool {
		code, body := edgeGet(u, "minitwit.example.com", "/api/timeline")
		return code == 200 && strings.TrimSpace(body) == "[]"
	})
	if _, body := edgeGet(u, "minitwit.example.com", "/"); !strings.Contains(body, "<b>ana</b>") {
		t.Errorf("/ is no longer minitwit: %q", body)
	}

	// The 9090 endpoints.
	if cfg := adminGet(t, u, "/_haproxy_getconfig"); !strings.Contains(cfg, "backend minitwit_") ||
		!strings.Contains(cfg, "backend minitwit-api_") || !strings.Contains(cfg, "lua-load /marathon-lb/getpids.lua") {
		t.Errorf("getconfig is not marathon-lb's file:\n%s", cfg)
	}
	if pids := strings.Fields(adminGet(t, u, "/_haproxy_getpids")); len(pids) < 1 || (engine == "haproxy" && len(pids) < 2) {
		t.Errorf("getpids %v: want the master and a worker (haproxy), the process (native)", pids)
	}
	csv := adminGet(t, u, "/haproxy?stats;csv")
	if !strings.HasPrefix(csv, "# pxname,svname,") || !strings.Contains(csv, "\nminitwit-api_") {
		t.Errorf("stats csv:\n%s", csv)
	}
	if h := adminGet(t, u, "/_haproxy_health_check"); !strings.Contains(h, "Service ready.") {
		t.Errorf("health check %q", h)
	}
	if m := adminGet(t, u, "/metrics"); !strings.Contains(m, "haproxy_backend_current_sessions{proxy=\"minitwit_") ||
		(engine == "haproxy" && !strings.Contains(m, "sextant_edge_haproxy_applies_total")) {
		t.Errorf("metrics lack the stats or the engine's series:\n%s", m)
	}
}

// TestEdgeDeploy: two blue/green deployments with `sextant edge deploy`
// against `sextant up`'s Marathon API, with requests through the edge all
// along; none fails.
func TestEdgeDeploy(t *testing.T) {
	needHAProxy(t)
	t.Parallel()
	u := startEdgeUp(t, "haproxy", "127.0.0.23")
	defer u.stop()
	min, err := examples.Apps.ReadFile("minitwit.json")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(min, &def); err != nil {
		t.Fatal(err)
	}
	sp := 10600 + int(time.Now().UnixNano()%300)
	def["id"] = "/twit"
	def["instances"] = 2
	def["labels"] = map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "twit.example.com",
		"HAPROXY_DEPLOYMENT_GROUP": "twit", "HAPROXY_DEPLOYMENT_ALT_PORT": strconv.Itoa(sp + 1)}
	def["portDefinitions"] = []map[string]any{{"port": sp, "protocol": "tcp", "name": "http"}}
	def["healthChecks"] = []map[string]any{{"protocol": "HTTP", "path": "/health", "portIndex": 0,
		"gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}}
	file := filepath.Join(t.TempDir(), "twit.json")
	run := func(version, maxWait string) ([]byte, error) {
		t.Helper()
		def["env"].(map[string]any)["VERSION"] = version
		b, _ := json.Marshal(def)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command(testutil.Binary(t), "edge", "deploy", "--state-dir", u.stateDir, "--step-delay", "1s",
			"--max-wait", maxWait, file).CombinedOutput()
	}
	deploy := func(version string) {
		t.Helper()
		if out, err := run(version, "120s"); err != nil {
			t.Fatalf("edge deploy %s: %v\n%s", version, err, out)
		}
	}
	deploy("1")
	if code, _ := u.do("GET", "/v2/apps/twit-blue", ""); code != 200 {
		t.Fatalf("/twit-blue: %d", code)
	}
	u.proc.Eventually(60*time.Second, "twit through the edge", func() bool {
		code, _ := edgeGet(u, "twit.example.com", "/")
		return code == 200
	})

	var ok, failed atomic.Int64
	var lastFail atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if code, body := edgeGet(u, "twit.example.com", "/"); code == 200 {
				ok.Add(1)
			} else {
				failed.Add(1)
				lastFail.Store(strconv.Itoa(code) + " " + body)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	deploy("2")
	close(stop)
	wg.Wait()
	if code, _ := u.do("GET", "/v2/apps/twit-blue", ""); code != 404 {
		t.Errorf("/twit-blue still there after the second deployment: %d", code)
	}
	if code, b := u.do("GET", "/v2/apps/twit-green", ""); code != 200 || !strings.Contains(string(b), `"instances":2`) {
		t.Errorf("/twit-green: %d %s", code, b)
	}
	t.Logf("requests during the deployment: %d ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Fatalf("%d requests failed during the deployment (last: %v), %d ok", failed.Load(), lastFail.Load(), ok.Load())
	}

	// A version that never turns healthy rolls back: the green app keeps
	// serving at its size, the new blue one is gone.
	def["cmd"] = "exec sleep 600" // never listens: its health check fails
	if out, err := run("3", "20s"); err == nil || !strings.Contains(string(out), "rolled back") {
		t.Fatalf("a deployment that cannot become healthy: %v\n%s", err, out)
	}
	if code, _ := u.do("GET", "/v2/apps/twit-blue", ""); code != 404 {
		t.Errorf("/twit-blue left behind by the rollback: %d", code)
	}
	if code, b := u.do("GET", "/v2/apps/twit-green", ""); code != 200 || !strings.Contains(string(b), `"instances":2`) {
		t.Errorf("/twit-green after the rollback: %d %s", code, b)
	}
	if code, _ := edgeGet(u, "twit.example.com", "/"); code != 200 {
		t.Errorf("the edge after the rollback: %d", code)
	}
}
