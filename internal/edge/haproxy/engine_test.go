package haproxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
)

// engineRig is a HAProxy engine on loopback: every "*:port" bind moved to
// a free 127.0.0.1 port, and named backends.
type engineRig struct {
	t      *testing.T
	e      *haproxy.Engine
	reg    *prometheus.Registry
	opts   edge.Options
	tm     *haproxy.Templates
	mu     sync.Mutex
	binds  map[string]string
	backs  map[string]string // backend name → host:port
	client *http.Client
}

func newEngineRig(t *testing.T) *engineRig {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed (Debian package haproxy, in the Makefile's TEST_DEBS)")
	}
	dir := t.TempDir()
	r := &engineRig{t: t, reg: prometheus.NewRegistry(), binds: map[string]string{}, backs: map[string]string{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	cert := filepath.Join(dir, "cert.pem")
	if err := haproxy.EnsureCert(cert); err != nil {
		t.Fatal(err)
	}
	r.opts = edge.Options{Groups: []string{"external"}, ConfigFile: filepath.Join(dir, "haproxy.cfg"), SSLCerts: []string{cert}}
	tm, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22})
	if err != nil {
		t.Fatal(err)
	}
	r.tm = tm
	e, err := haproxy.NewEngine(haproxy.EngineOptions{ConfigFile: r.opts.ConfigFile, Rebind: r.rebind,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	r.e = e
	return r
}

func (r *engineRig) rebind(addr string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "*" && host != "") {
		return addr
	}
	if a, ok := r.binds[port]; ok {
		return a
	}
	a := testutil.FreeAddr(r.t)
	r.binds[port] = a
	return a
}

// addr is where the edge listens for a port marathon-lb binds.
func (r *engineRig) addr(port int) string { return r.rebind("*:" + strconv.Itoa(port)) }

// backend starts an HTTP server answering its name.
func (r *engineRig) backend(name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprint(w, name)
	}))
	r.t.Cleanup(srv.Close)
	hp := strings.TrimPrefix(srv.URL, "http://")
	r.backs[name] = hp
	return hp
}

// webApp is an app in group external with a vhost and one task per
// backend.
func webApp(id string, servicePort int, labels map[string]string, backends ...string) model.App {
	a := model.App{ID: id, Labels: map[string]string{"HAPROXY_GROUP": "external"},
		Ports: []model.AppPort{{ServicePort: uint16(servicePort), Protocol: "tcp"}}, Instances: len(backends)}
	for k, v := range labels {
		a.Labels[k] = v
	}
	for i, hp := range backends {
		host, port, _ := net.SplitHostPort(hp)
		p, _ := strconv.Atoi(port)
		a.Tasks = append(a.Tasks, model.AppTask{ID: fmt.Sprintf("%s.%d", strings.TrimPrefix(id, "/"), i), Host: host,
			State: model.TaskRunning, Ports: []uint16{uint16(p)}})
	}
	return a
}

func (r *engineRig) apply(apps ...model.App) *edge.Generation {
	r.t.Helper()
	g, err := haproxy.Generate(apps, r.opts, r.tm)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(r.t.Context(), 2*time.Minute)
	defer cancel()
	if err := r.e.Apply(ctx, g); err != nil {
		r.t.Fatal(err)
	}
	return g
}

// get asks the edge's :80 for host and path; "" on error.
func (r *engineRig) get(host, path string) string {
	req, _ := http.NewRequest("GET", "http://"+r.addr(80)+path, nil)
	req.Host = host
	resp, err := r.client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return strconv.Itoa(resp.StatusCode)
	}
	return string(b)
}

// eventually waits (generously) until the answers for host over a few
// requests are exactly want.
func (r *engineRig) eventually(host string, want ...string) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got map[string]bool
	for time.Now().Before(deadline) {
		got = map[string]bool{}
		for range 4 * len(want) {
			got[r.get(host, "/")] = true
		}
		ok := len(got) == len(want)
		for _, w := range want {
			ok = ok && got[w]
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("host %s: answers %v, want exactly %v", host, got, want)
}

func (r *engineRig) counter(name, how string) float64 {
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if how == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == how) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestEngineServerChangesWithoutReload(t *testing.T) {
	r := newEngineRig(t)
	b0, b1, b2 := r.backend("b0"), r.backend("b1"), r.backend("b2")
	vhost := map[string]string{"HAPROXY_0_VHOST": "web.example.com"}
	r.apply(webApp("/web", 10001, vhost, b0))
	r.eventually("web.example.com", "b0")
	reloads := r.counter("sextant_edge_haproxy_reloads_total", "")
	pids := r.e.Pids()
	if len(pids) != 2 {
		t.Fatalf("pids %v: want master and one worker", pids)
	}

	r.apply(webApp("/web", 10001, vhost, b0, b1))
	r.eventually("web.example.com", "b0", "b1")
	r.apply(webApp("/web", 10001, vhost, b1, b2))
	r.eventually("web.example.com", "b1", "b2")
	r.apply(webApp("/web", 10001, vhost, b0))
	r.eventually("web.example.com", "b0")
	if got := r.counter("sextant_edge_haproxy_reloads_total", ""); got != reloads {
		t.Fatalf("server changes reloaded HAProxy (%v reloads, want %v)", got, reloads)
	}
	if got := r.counter("sextant_edge_haproxy_applies_total", "runtime"); got != 3 {
		t.Fatalf("runtime applies = %v, want 3", got)
	}
	// Removed servers are deleted once drained.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, row := range r.e.Stats() {
			if row.PxName == "web_10001" && row.Type == edge.StatServer {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web_10001 still has %d servers, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A structural change (a new app) reloads, and the sockets pass to the
	// new worker.
	r.apply(webApp("/web", 10001, vhost, b0), webApp("/api", 10002, map[string]string{"HAPROXY_0_VHOST": "api.example.com"}, b2))
	r.eventually("api.example.com", "b2")
	r.eventually("web.example.com", "b0")
	if got := r.counter("sextant_edge_haproxy_reloads_total", ""); got != reloads+1 {
		t.Fatalf("reloads = %v, want %v", got, reloads+1)
	}
}

func TestEngineLeavesOutRejectedApps(t *testing.T) {
	r := newEngineRig(t)
	b0, b1 := r.backend("b0"), r.backend("b1")
	good := webApp("/good", 10001, map[string]string{"HAPROXY_0_VHOST": "good.example.com"}, b0)
	// A template label HAProxy refuses: the label adapter cannot know.
	bad := webApp("/bad", 10002, map[string]string{"HAPROXY_0_VHOST": "bad.example.com",
		"HAPROXY_0_BACKEND_HEAD": "backend {backend}\n  balance {balance}\n  mode {mode}\n  no-such-directive\n"}, b1)
	r.apply(bad, good)
	r.eventually("good.example.com", "b0")
	r.eventually("bad.example.com", "503")
	cur := r.e.Current()
	var found bool
	for _, p := range cur.Config.Problems {
		if p.App == "/bad" && strings.Contains(p.Reason, "haproxy -c") {
			found = true
		}
	}
	if !found {
		t.Fatalf("problems %v: want /bad left out by haproxy -c", cur.Config.Problems)
	}
	if strings.Contains(cur.HAProxyCfg, "bad_10002") {
		t.Fatal("the running configuration still has the rejected app")
	}

	// A task change of the good app, the bad one unchanged: no new search,
	// no reload.
	checks := r.counter("sextant_edge_haproxy_check_failures_total", "")
	b2 := r.backend("b2")
	r.apply(bad, webApp("/good", 10001, map[string]string{"HAPROXY_0_VHOST": "good.example.com"}, b0, b2))
	r.eventually("good.example.com", "b0", "b2")
	if got := r.counter("sextant_edge_haproxy_check_failures_total", ""); got != checks {
		t.Fatalf("check failures %v → %v: the unchanged bad app was searched again", checks, got)
	}
	if got := r.counter("sextant_edge_haproxy_applies_total", "runtime"); got != 1 {
		t.Fatalf("runtime applies = %v, want 1", got)
	}
	if p := r.e.Current().Config.Problems; len(p) == 0 || p[len(p)-1].App != "/bad" {
		t.Fatalf("problems after the runtime change: %v", p)
	}
	cur = r.e.Current()

	// A wholly bad generation leaves the last good one serving.
	g, err := haproxy.Generate([]model.App{good}, r.opts, r.tm)
	if err != nil {
		t.Fatal(err)
	}
	g.HAProxyCfg += "frontend broken\n  bind *:1\n  no-such-directive\n"
	g.Without = nil
	if err := r.e.Apply(t.Context(), g); err == nil {
		t.Fatal("a configuration HAProxy rejects was applied")
	}
	r.eventually("good.example.com", "b0", "b2")
	if r.e.Current().HAProxyCfg != cur.HAProxyCfg {
		t.Fatal("Current changed after a rejected generation")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestEngineLeavesOutUnbindableApps: a service port another process holds
// (which haproxy -c cannot see) leaves out its app only, at start and on
// later reloads.
func TestEngineLeavesOutUnbindableApps(t *testing.T) {
	r := newEngineRig(t)
	b0, b1 := r.backend("b0"), r.backend("b1")
	taken, err := net.Listen("tcp", testutil.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, tp, _ := net.SplitHostPort(taken.Addr().String())
	port, _ := strconv.Atoi(tp)
	good := webApp("/good", 10001, map[string]string{"HAPROXY_0_VHOST": "good.example.com"}, b0)
	busy := webApp("/busy", port, map[string]string{"HAPROXY_0_VHOST": "busy.example.com", "HAPROXY_0_BIND_ADDR": "127.0.0.1"}, b1)
	r.apply(good, busy)
	r.eventually("good.example.com", "b0")
	hasProblem := func() bool {
		for _, p := range r.e.Current().Config.Problems {
			if p.App == "/busy" && strings.Contains(p.Reason, "cannot bind") {
				return true
			}
		}
		return false
	}
	if !hasProblem() {
		t.Fatalf("problems %v: want /busy left out for its port", r.e.Current().Config.Problems)
	}
	// A reload (a new app) with the port still taken.
	r.apply(good, busy, webApp("/api", 10003, map[string]string{"HAPROXY_0_VHOST": "api.example.com"}, b1))
	r.eventually("api.example.com", "b1")
	r.eventually("good.example.com", "b0")
	if !hasProblem() {
		t.Fatal("/busy is no longer reported after the reload")
	}
	// The same apps again: nothing to do, and still reported.
	r.apply(good, busy, webApp("/api", 10003, map[string]string{"HAPROXY_0_VHOST": "api.example.com"}, b1))
	if !hasProblem() {
		t.Fatal("/busy is no longer reported after an unchanged generation")
	}
}
