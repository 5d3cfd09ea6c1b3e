package native_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/edgetest"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/edge/native"
	"github.com/sextantdc/sextant/internal/model"
)

type rig struct {
	t    *testing.T
	e    *native.Engine
	addr edgetest.Addrs
	o    edge.Options
}

func newRig(t *testing.T, tweak func(*native.Options)) *rig {
	a := edgetest.Addrs{HTTP: edgetest.FreeAddr(t), HTTPS: edgetest.FreeAddr(t), AppID: edgetest.FreeAddr(t)}
	o := native.Options{HTTPAddr: a.HTTP, HTTPSAddr: a.HTTPS, AppIDAddr: a.AppID}
	if tweak != nil {
		tweak(&o)
	}
	e := native.New(o)
	t.Cleanup(func() { e.Close() })
	return &rig{t: t, e: e, addr: a, o: edge.Options{Groups: []string{"external"}}}
}

func (r *rig) apply(apps ...model.App) *edge.Generation {
	r.t.Helper()
	g, err := haproxy.Generate(apps, r.o, haproxy.Default())
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.Apply(context.Background(), g); err != nil {
		r.t.Fatal(err)
	}
	return g
}

func get(t *testing.T, addr, host, path string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Header.Set("X-Body", string(b))
	return resp
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A server that refuses connections is in the configuration: every
// request is still answered (redispatched), and the server is passed
// over afterwards.
func TestPassiveHealth(t *testing.T) {
	r := newRig(t, nil)
	good := edgetest.StartBackend(t, "good")
	dead := edgetest.FreePort(t) // nothing listens
	r.apply(edgetest.App("/p", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "p.example.com"}, good.Port, dead))
	for i := range 20 {
		if resp := get(t, r.addr.HTTP, "p.example.com", "/"); resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "good" {
			t.Fatalf("request %d: %d from %q", i, resp.StatusCode, resp.Header.Get("X-Backend"))
		}
	}
	var econ, wredis bool
	for _, row := range r.e.Stats() {
		if row.PxName == "p_"+strconv.Itoa(0) {
			continue
		}
		if row.Type == edge.StatServer && strings.HasSuffix(row.SvName, strconv.Itoa(int(dead))) && row.Econ > 0 {
			econ = true
		}
		if row.Type == edge.StatBackend && row.ReqTot >= 20 {
			wredis = true
		}
	}
	if !econ || !wredis {
		t.Errorf("stats do not show the refused connections (econ %v) or the requests (%v): %+v", econ, wredis, r.e.Stats())
	}
}

// An HTTP health check (--health-check apps) takes a failing server
// out and brings it back when it recovers.
func TestActiveHealth(t *testing.T) {
	r := newRig(t, nil)
	var healthy atomic.Bool
	healthy.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if q.URL.Path == "/health" && !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Backend", "flaky")
	})}
	go flaky.Serve(ln)
	t.Cleanup(func() { flaky.Close() })
	steady := edgetest.StartBackend(t, "steady")
	app := edgetest.App("/hc", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "hc.example.com"},
		uint16(ln.Addr().(*net.TCPAddr).Port), steady.Port)
	app.HealthChecks = []model.HealthCheck{{Protocol: "HTTP", Path: "/health", PortIndex: 0, HasPortIndex: true,
		IntervalSeconds: 1, TimeoutSeconds: 1, MaxConsecutiveFailures: 0}}
	r.apply(app)
	status := func(want string) func() error {
		return func() error {
			for _, row := range r.e.Stats() {
				if row.Type == edge.StatServer && row.Addr == ln.Addr().String() {
					if row.Status != want {
						return fmt.Errorf("flaky server %s (%s), want %s", row.Status, row.CheckStatus, want)
					}
					return nil
				}
			}
			return fmt.Errorf("no row for the flaky server")
		}
	}
	eventually(t, "checked up", status("UP"))
	healthy.Store(false)
	eventually(t, "checked down", status("DOWN"))
	for range 6 {
		if b := get(t, r.addr.HTTP, "hc.example.com", "/").Header.Get("X-Backend"); b != "steady" {
			t.Fatalf("a down server answered: %q", b)
		}
	}
	healthy.Store(true)
	eventually(t, "back up", status("UP"))
}

// Removing a service closes its port; the others keep their listeners
// (and connections) across the change.
func TestListenersKept(t *testing.T) {
	r := newRig(t, nil)
	a, b := edgetest.StartBackend(t, "a"), edgetest.StartBackend(t, "b")
	pa, pb := edgetest.FreePort(t), edgetest.FreePort(t)
	appA := edgetest.App("/a", pa, map[string]string{"HAPROXY_0_MODE": "http"}, a.Port)
	appB := edgetest.App("/b", pb, map[string]string{"HAPROXY_0_MODE": "http"}, b.Port)
	r.apply(appA, appB)
	// A keep-alive connection to /a's port, used before and after.
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(pa)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func() string {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Backend")
	}
	if got := ask(); got != "a" {
		t.Fatalf("got %q", got)
	}
	r.apply(appA)
	if got := ask(); got != "a" {
		t.Fatalf("after the change, the kept connection got %q", got)
	}
	eventually(t, "/b's port closed", func() error {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(int(pb)), time.Second); err == nil {
			c.Close()
			return fmt.Errorf("still listening")
		}
		return nil
	})
}

func TestBodiesAndStreams(t *testing.T) {
	r := newRig(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		switch q.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(q.Body)
			w.Header().Set("X-Length", strconv.Itoa(len(b)))
			w.Write(b)
		case "/stream":
			f := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "event %d\n", i)
				f.Flush()
				time.Sleep(20 * time.Millisecond)
			}
		case "/root":
			w.Header().Set("Location", "http://s.example.com:8080/inner/page")
			w.WriteHeader(http.StatusFound)
		case "/small":
			w.Write([]byte("hello"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	r.apply(edgetest.App("/s", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "s.example.com",
		"HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH": "/", "HAPROXY_0_HTTP_BACKEND_REDIR": "/landing"}, port))
	base := "http://" + r.addr.HTTP
	do := func(method, path string, body io.Reader, n int64) *http.Response {
		req, _ := http.NewRequest(method, base+path, body)
		req.Host = "s.example.com"
		req.ContentLength = n
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	read := func(resp *http.Response) string {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	payload := strings.Repeat("0123456789", 10000)
	if got := read(do(http.MethodPost, "/echo", strings.NewReader(payload), int64(len(payload)))); got != payload {
		t.Errorf("content-length body: %d bytes back", len(got))
	}
	if got := read(do(http.MethodPost, "/echo", io.MultiReader(strings.NewReader(payload)), -1)); got != payload {
		t.Errorf("chunked body: %d bytes back", len(got))
	}
	if got := read(do(http.MethodGet, "/big", nil, 0)); len(got) != 1<<20 {
		t.Errorf("big body: %d bytes", len(got))
	}
	resp := do(http.MethodGet, "/stream", nil, 0)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "event 0\n" {
		t.Errorf("stream: first line %q, %v", line, err)
	}
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "event 1\nevent 2\n" {
		t.Errorf("stream rest %q", rest)
	}
	if resp := do(http.MethodHead, "/small", nil, 0); resp.ContentLength != 5 || read(resp) != "" {
		t.Errorf("HEAD: length %d", resp.ContentLength)
	}
	if resp := do(http.MethodGet, "/root", nil, 0); resp.Header.Get("Location") != "/" {
		t.Errorf("revproxy: Location %q", resp.Header.Get("Location"))
	}
	if resp := do(http.MethodGet, "/", nil, 0); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/landing" {
		t.Errorf("redir: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	r := newRig(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if q.Header.Get("Upgrade") != "echo" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.apply(edgetest.App("/ws", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "ws.example.com"},
		uint16(ln.Addr().(*net.TCPAddr).Port)))
	c, err := net.Dial("tcp", r.addr.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("echo through the tunnel: %q %v", line, err)
	}
}

func TestNetworkAllowed(t *testing.T) {
	r := newRig(t, nil)
	b := edgetest.StartBackend(t, "acl")
	r.apply(edgetest.App("/in", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "in.example.com",
		"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL": "127.0.0.0/8"}, b.Port),
		edgetest.App("/out", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "out.example.com",
			"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL": "10.0.0.0/8 192.0.2.1"}, b.Port))
	if resp := get(t, r.addr.HTTP, "in.example.com", "/"); resp.StatusCode != 200 {
		t.Errorf("allowed network: %d", resp.StatusCode)
	}
	if resp := get(t, r.addr.HTTP, "out.example.com", "/"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other network: %d", resp.StatusCode)
	}
}

// Map mode routes through the map bodies; multi-vhost redirects keep
// marathon-lb's asymmetry (no use_backend at all on :80).
func TestMapModeAndQuirks(t *testing.T) {
	r := newRig(t, nil)
	r.o.HAProxyMap = true
	m, p := edgetest.StartBackend(t, "mapped"), edgetest.StartBackend(t, "pathed")
	r.apply(edgetest.App("/mapped", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "m.example.com,n.example.com"}, m.Port),
		edgetest.App("/pathed", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "m.example.com", "HAPROXY_0_PATH": "/p"}, p.Port))
	for _, c := range []struct{ host, path, want string }{
		{"m.example.com", "/", "mapped"},
		{"n.example.com:80", "/", "mapped"}, // the map strips the port
		{"m.example.com", "/p/x", "pathed"},
	} {
		if got := get(t, r.addr.HTTP, c.host, c.path).Header.Get("X-Backend"); got != c.want {
			t.Errorf("%s%s: %q, want %q", c.host, c.path, got, c.want)
		}
	}
	if resp := get(t, r.addr.AppID, "", "/", "X-Marathon-App-Id", "/pathed"); resp.Header.Get("X-Backend") != "pathed" {
		t.Errorf("app map: %q", resp.Header.Get("X-Backend"))
	}
	if resp := get(t, r.addr.HTTP, "z.example.com", "/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("map miss: %d", resp.StatusCode)
	}
}

func TestGroupedHTTPS(t *testing.T) {
	r := newRig(t, nil)
	r.o.GroupHTTPSByVhost = true
	cert, pool := edgetest.WriteCert(t)
	r.o.SSLCerts = []string{cert}
	a, b := edgetest.StartBackend(t, "ga"), edgetest.StartBackend(t, "gb")
	r.apply(edgetest.App("/ga", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "ga.example.com"}, a.Port),
		edgetest.App("/gb", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "gb.example.com"}, b.Port))
	e := &edgetest.Env{T: t, Addrs: r.addr, CertPool: pool}
	e.Await(edgetest.Req{Addr: r.addr.HTTPS, TLS: true, SNI: "ga.example.com"}, "grouped a", edgetest.Routed("ga"))
	e.Await(edgetest.Req{Addr: r.addr.HTTPS, TLS: true, SNI: "gb.example.com"}, "grouped b", edgetest.Routed("gb"))
	if _, err := e.Do(edgetest.Req{Addr: r.addr.HTTPS, TLS: true, SNI: "gc.example.com"}); err == nil {
		t.Errorf("an SNI no vhost has was answered")
	}
}

func TestBindFailureLeavesOutOneService(t *testing.T) {
	r := newRig(t, nil)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	b := edgetest.StartBackend(t, "ok")
	g := r.apply(edgetest.App("/ok", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "ok.example.com"}, b.Port),
		edgetest.App("/clash", uint16(taken.Addr().(*net.TCPAddr).Port), map[string]string{"HAPROXY_0_MODE": "http"}, b.Port))
	_ = g
	if got := get(t, r.addr.HTTP, "ok.example.com", "/").Header.Get("X-Backend"); got != "ok" {
		t.Errorf("the other service: %q", got)
	}
	found := false
	for _, p := range r.e.Current().Config.Problems {
		found = found || p.App == "/clash"
	}
	if !found {
		t.Errorf("problems %v do not list /clash", r.e.Current().Config.Problems)
	}
}

func TestStatsRows(t *testing.T) {
	r := newRig(t, nil)
	b := edgetest.StartBackend(t, "st")
	app := edgetest.App("/st", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "st.example.com"}, b.Port)
	r.apply(app)
	for range 3 {
		get(t, r.addr.HTTP, "st.example.com", "/")
	}
	get(t, r.addr.HTTP, "none.example.com", "/")
	var names []string
	rows := map[string]edge.StatRow{}
	for _, row := range r.e.Stats() {
		names = append(names, row.PxName+"/"+row.SvName)
		rows[row.PxName+"/"+row.SvName] = row
	}
	want := []string{"marathon_http_in/FRONTEND", "marathon_http_appid_in/FRONTEND", "marathon_https_in/FRONTEND",
		"st_" + strconv.Itoa(int(app.Ports[0].ServicePort)) + "/FRONTEND"}
	for i, w := range want {
		if i >= len(names) || names[i] != w {
			t.Fatalf("rows %v, want them to start with %v", names, want)
		}
	}
	fe := rows["marathon_http_in/FRONTEND"]
	if fe.ReqTot != 4 || fe.Hrsp[1] != 3 || fe.Hrsp[4] != 1 || fe.Status != "OPEN" {
		t.Errorf("frontend row %+v", fe)
	}
	be := rows["st_"+strconv.Itoa(int(app.Ports[0].ServicePort))+"/BACKEND"]
	if be.Hrsp[1] != 3 || be.Status != "UP" || be.Bout == 0 {
		t.Errorf("backend row %+v", be)
	}
	sv := rows["st_"+strconv.Itoa(int(app.Ports[0].ServicePort))+"/127_0_0_1_"+strconv.Itoa(int(b.Port))]
	if sv.Status != "no check" || sv.Stot != 3 || sv.Type != edge.StatServer {
		t.Errorf("server row %+v", sv)
	}
}

// A request in flight on a port the new configuration drops finishes.
func TestRemovedPortFinishesInFlight(t *testing.T) {
	r := newRig(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		started <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		w.Header().Set("X-Backend", "slow")
		io.WriteString(w, "done")
	})}
	go slow.Serve(ln)
	t.Cleanup(func() { slow.Close() })
	keep := edgetest.StartBackend(t, "keep")
	sp := edgetest.FreePort(t)
	appKeep := edgetest.App("/keep", edgetest.FreePort(t), map[string]string{"HAPROXY_0_MODE": "http"}, keep.Port)
	r.apply(appKeep, edgetest.App("/slow", sp, map[string]string{"HAPROXY_0_MODE": "http"}, uint16(ln.Addr().(*net.TCPAddr).Port)))
	got := make(chan *http.Response, 1)
	go func() { got <- get(t, "127.0.0.1:"+strconv.Itoa(int(sp)), "x", "/") }()
	<-started
	r.apply(appKeep)
	resp := <-got
	if resp.StatusCode != 200 || resp.Header.Get("X-Body") != "done" {
		t.Fatalf("in-flight request: %d %q", resp.StatusCode, resp.Header.Get("X-Body"))
	}
}

// Reload (/_mlb_signal/usr1) reads the certificate files again.
func TestReloadReadsCertificates(t *testing.T) {
	r := newRig(t, nil)
	certA, poolA := edgetest.WriteCert(t)
	certB, poolB := edgetest.WriteCert(t)
	live := filepath.Join(t.TempDir(), "live.pem")
	copyFile := func(from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(live, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(certA)
	r.o.SSLCerts = []string{live}
	b := edgetest.StartBackend(t, "tls")
	r.apply(edgetest.App("/tls", edgetest.FreePort(t), map[string]string{"HAPROXY_0_VHOST": "tls.example.com"}, b.Port))
	e := &edgetest.Env{T: t, Addrs: r.addr, CertPool: poolA}
	q := edgetest.Req{Addr: r.addr.HTTPS, TLS: true, SNI: "tls.example.com"}
	e.Await(q, "first certificate", edgetest.Routed("tls"))
	copyFile(certB)
	if err := r.e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.CertPool = poolB
	e.Await(q, "certificate after reload", edgetest.Routed("tls"))
	if len(r.e.Current().Config.Problems) != 0 {
		t.Errorf("problems after reload: %v", r.e.Current().Config.Problems)
	}
}

// HAPROXY_{n}_SSL_CERT terminates TLS on the service port, in http and
// in tcp mode.
func TestServicePortTLS(t *testing.T) {
	r := newRig(t, nil)
	cert, pool := edgetest.WriteCert(t)
	b := edgetest.StartBackend(t, "svc-tls")
	tb := edgetest.StartTCPBackend(t, "tcp-tls")
	sh, st := edgetest.FreePort(t), edgetest.FreePort(t)
	r.apply(edgetest.App("/h", sh, map[string]string{"HAPROXY_0_MODE": "http", "HAPROXY_0_SSL_CERT": cert}, b.Port),
		edgetest.App("/t", st, map[string]string{"HAPROXY_0_MODE": "tcp", "HAPROXY_0_SSL_CERT": cert}, tb.Port))
	e := &edgetest.Env{T: t, Addrs: r.addr, CertPool: pool}
	res := e.Await(edgetest.Req{Addr: "127.0.0.1:" + strconv.Itoa(int(sh)), TLS: true, SNI: "svc.example.com"}, "http service port",
		edgetest.Routed("svc-tls"))
	if res.Header.Get("X-Seen-Proto") != "https" {
		t.Errorf("X-Forwarded-Proto %q", res.Header.Get("X-Seen-Proto"))
	}
	c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(st)), &tls.Config{ServerName: "db.example.com", RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "tcp-tls\n" {
		t.Errorf("tcp over TLS: %q %v", line, err)
	}
}
