// Package edge benchmarks the edge engines under wrk, over the same
// nginx backends, in one run.
//
//	go test -run '^$' -bench Native -benchtime 1x ./bench/edge/
//
// BenchmarkNativeVsHAProxy runs, in turn and for several rounds, the
// native engine, a plain HAProxy on marathon-lb's rendered
// configuration (its frontends, backend and defaults with
// http-server-close; the global section reduced to what runs here), the
// same HAProxy with http-keep-alive to the servers, a naive Go proxy
// (httputil.ReverseProxy) and, when TRAEFIK_BIN names a Traefik binary
// (not in Debian: build it as the project's tools notes say), Traefik
// with one router for the vhost, all in front of the same nginx, under wrk
// with connections kept alive and with a new connection per request. It
// reports the median requests/s and 99th percentile latency of each.
package edge

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/edge/native"
	"github.com/sextantdc/sextant/internal/model"
)

const (
	natRounds  = 5
	natSeconds = 3
	natVhost   = "bench.example.com"
)

func natFreeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func natPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// natNginx starts one nginx (one worker) serving a ~10-byte body on n
// loopback ports, as TOOLS.md's baseline did.
func natNginx(b *testing.B, n int) []int {
	b.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		b.Skip("nginx not installed (Debian package nginx-light)")
	}
	dir := b.TempDir()
	var servers strings.Builder
	var ports []int
	for range n {
		p := natPort(natFreeAddr(b))
		ports = append(ports, p)
		fmt.Fprintf(&servers, "  server { listen 127.0.0.1:%d; keepalive_requests 1000000; location / { return 200 \"a\\n\"; } }\n", p)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[2]s}
`, dir, servers.String())
	f := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("nginx", "-c", f, "-p", dir)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	for _, p := range ports {
		natWaitListen(b, "127.0.0.1:"+strconv.Itoa(p))
	}
	return ports
}

func natWaitListen(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never listened: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// natApps is one app with a vhost over the nginx ports.
func natApps(servicePort int, ports []int) []model.App {
	a := model.App{ID: "/bench", Network: model.NetworkHost, Instances: len(ports),
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": natVhost, "HAPROXY_0_BIND_ADDR": "127.0.0.1"},
		Ports:  []model.AppPort{{ServicePort: uint16(servicePort), Protocol: "tcp"}}}
	for i, p := range ports {
		a.Tasks = append(a.Tasks, model.AppTask{ID: "bench." + strconv.Itoa(i), Host: "127.0.0.1", State: model.TaskRunning,
			Ports: []uint16{uint16(p)}})
	}
	return []model.App{a}
}

// natHead is marathon-lb's HEAD with the parts that need its container
// (syslog, the state file, the Lua endpoints, :9090) left out and the
// worker threads and fd budget of this machine; the defaults and their
// options are marathon-lb's.
func natHead(dir, serverSide string) string {
	return `global
  maxconn 4096
  nbthread 2
  stats socket ` + dir + `/haproxy.sock mode 600 level admin expose-fd listeners
defaults
  retries                   3
  backlog               10000
  maxconn               4096
  timeout connect          3s
  timeout client          30s
  timeout server          30s
  timeout tunnel        3600s
  timeout http-keep-alive  1s
  timeout http-request    15s
  timeout queue           30s
  timeout tarpit          60s
  option            dontlognull
  option            ` + serverSide + `
  option            redispatch
`
}

// natHAProxy starts a plain HAProxy on marathon-lb's configuration for
// apps (option http-server-close, as marathon-lb ships), :80 on httpAddr.
func natHAProxy(b *testing.B, apps []model.App, httpAddr string) bool {
	natHAProxyWith(b, apps, httpAddr, "http-server-close")
	return true
}

// natHAProxyWith is natHAProxy with the server-side connection option
// (http-server-close, marathon-lb's, or http-keep-alive); it returns the
// master's pid.
func natHAProxyWith(b *testing.B, apps []model.App, httpAddr, serverSide string) int {
	b.Helper()
	dir := b.TempDir()
	env := map[string]string{
		"HAPROXY_HEAD":                     natHead(dir, serverSide),
		"HAPROXY_HTTP_FRONTEND_HEAD":       "\nfrontend marathon_http_in\n  bind " + httpAddr + "\n  mode http\n",
		"HAPROXY_HTTP_FRONTEND_APPID_HEAD": "\nfrontend marathon_http_appid_in\n  bind " + natFreeAddr(b) + "\n  mode http\n",
		"HAPROXY_HTTPS_FRONTEND_HEAD":      "\nfrontend marathon_https_in\n  bind " + natFreeAddr(b) + "\n  mode http\n",
	}
	tm, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		b.Fatal(err)
	}
	g, err := haproxy.Generate(apps, edge.Options{Groups: []string{"external"}}, tm)
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(f, []byte(g.HAProxyCfg), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", f).CombinedOutput(); err != nil {
		b.Fatalf("haproxy -c: %v\n%s\n%s", err, out, g.HAProxyCfg)
	}
	cmd := exec.Command("haproxy", "-W", "-db", "-f", f)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	natWaitListen(b, httpAddr)
	_ = stderr
	return cmd.Process.Pid
}

func natNative(b *testing.B, apps []model.App, httpAddr string) {
	b.Helper()
	e := native.New(native.Options{HTTPAddr: httpAddr})
	b.Cleanup(func() { e.Close() })
	g, err := haproxy.Generate(apps, edge.Options{Groups: []string{"external"}, DontBindHTTPHTTPS: false}, haproxy.Default())
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Apply(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	natWaitListen(b, httpAddr)
}

var (
	natRate  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	natTotal = regexp.MustCompile(`(\d+) requests in`)
	natP99   = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	natErrs  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)|Non-2xx or 3xx responses: (\d+)`)
)

// natWrk runs wrk for d and returns requests/s, p99 and whether any
// request failed.
func natWrk(b *testing.B, addr string, keepAlive bool, d int) (float64, time.Duration, bool) {
	r, p, _, failed := natWrkN(b, addr, keepAlive, d)
	return r, p, failed
}

// natWrkN is natWrk that also returns the requests completed.
func natWrkN(b *testing.B, addr string, keepAlive bool, d int) (float64, time.Duration, int64, bool) {
	b.Helper()
	args := []string{"-t2", "-c50", "-d" + strconv.Itoa(d) + "s", "--latency", "-H", "Host: " + natVhost}
	if !keepAlive {
		args = append(args, "-H", "Connection: close")
	}
	out, err := exec.Command("wrk", append(args, "http://"+addr+"/")...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := natRate.FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk report without a rate:\n%s", out)
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	var total int64
	if m := natTotal.FindSubmatch(out); m != nil {
		total, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	var p99 time.Duration
	if m := natP99.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
		p99 = time.Duration(v * float64(unit))
	}
	failed := false
	for _, m := range natErrs.FindAllSubmatch(out, -1) {
		for _, x := range m[1:] {
			if len(x) > 0 && !bytes.Equal(x, []byte("0")) {
				failed = true
			}
		}
	}
	return rate, p99, total, failed
}

func natMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// natNaive is the naive Go proxy of TOOLS.md's baseline:
// httputil.ReverseProxy over net/http's Transport, two upstreams.
func natNaive(b *testing.B, ports []int, addr string) {
	b.Helper()
	var targets []*url.URL
	for _, p := range ports {
		u, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(p))
		targets = append(targets, u)
	}
	var n atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[n.Add(1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
}

// natTraefik starts Traefik on addr with a file provider: one router for
// the bench vhost, a round-robin service over ports. It returns the pid.
func natTraefik(b *testing.B, bin string, ports []int, addr string) int {
	b.Helper()
	dir := b.TempDir()
	var servers strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&servers, "          - url: \"http://127.0.0.1:%d\"\n", p)
	}
	dyn := "http:\n  routers:\n    bench:\n      rule: \"Host(`" + natVhost + "`)\"\n      service: bench\n" +
		"  services:\n    bench:\n      loadBalancer:\n        servers:\n" + servers.String()
	static := "global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n" +
		"entryPoints:\n  web:\n    address: \"" + addr + "\"\n" +
		"providers:\n  file:\n    filename: \"" + filepath.Join(dir, "dyn.yml") + "\"\n" +
		"log:\n  level: ERROR\n"
	if err := os.WriteFile(filepath.Join(dir, "dyn.yml"), []byte(dyn), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "traefik.yml"), []byte(static), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--configFile="+filepath.Join(dir, "traefik.yml"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Traefik listens before its file provider's routes are loaded: wait
	// for the vhost to answer, not just for the port.
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = natVhost
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd.Process.Pid
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("traefik on %s: no route after 30 s (%v)", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type natContender struct {
	name string
	addr string
	// pids are the processes whose CPU time the contender uses (and
	// their children: HAProxy's worker); 0 is this process.
	pid  int
	rate []float64
	p99  []float64
	cpu  []float64 // µs of CPU per request
	vs   []float64 // native's rate / this rate, per round
}

// natCPU is the user+system time of pid and its children, from /proc
// (0: this process).
func natCPU(pid int) time.Duration {
	if pid == 0 {
		pid = os.Getpid()
	}
	var ticks int64
	read := func(p string) {
		b, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			return
		}
		// Fields after the ")" that closes the command name.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	p := strconv.Itoa(pid)
	read(p)
	if b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children"); err == nil {
		for _, c := range strings.Fields(string(b)) {
			read(c)
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ 100
}

// BenchmarkNativeVsHAProxy runs every contender once per round, in
// turn, natRounds rounds for each client mode, and reports the medians;
// on a shared machine the ratio of runs seconds apart (native/other,
// per round) and the CPU per request are steadier than the rates.
func BenchmarkNativeVsHAProxy(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed")
	}
	ports := natNginx(b, 2)
	var cs []*natContender
	add := func(name string) *natContender {
		c := &natContender{name: name, addr: natFreeAddr(b)}
		cs = append(cs, c)
		return c
	}
	// The same app, on its own service port for each (all bind it).
	n := add("native")
	natNative(b, natApps(natPort(natFreeAddr(b)), ports), n.addr)
	if _, err := exec.LookPath("haproxy"); err == nil {
		c := add("haproxy-mlb")
		c.pid = natHAProxyWith(b, natApps(natPort(natFreeAddr(b)), ports), c.addr, "http-server-close")
		c = add("haproxy-keepalive")
		c.pid = natHAProxyWith(b, natApps(natPort(natFreeAddr(b)), ports), c.addr, "http-keep-alive")
	}
	c := add("naive-go")
	natNaive(b, ports, c.addr)
	if bin := os.Getenv("TRAEFIK_BIN"); bin != "" {
		c := add("traefik")
		c.pid = natTraefik(b, bin, ports, c.addr)
	} else {
		b.Log("TRAEFIK_BIN not set: Traefik not measured")
	}
	for _, c := range cs {
		natWaitListen(b, c.addr)
	}
	for _, ka := range []bool{true, false} {
		name := "keepalive"
		if !ka {
			name = "close"
		}
		b.Run(name, func(b *testing.B) {
			for _, c := range cs {
				c.rate, c.p99, c.cpu, c.vs = nil, nil, nil, nil
			}
			for range natRounds {
				for _, c := range cs {
					before := natCPU(c.pid)
					r, p, total, failed := natWrkN(b, c.addr, ka, natSeconds)
					used := natCPU(c.pid) - before
					if failed {
						b.Logf("%s: failed requests in this round", c.name)
					}
					c.rate, c.p99 = append(c.rate, r), append(c.p99, float64(p.Microseconds()))
					if total > 0 {
						c.cpu = append(c.cpu, float64(used.Microseconds())/float64(total))
					}
					c.vs = append(c.vs, n.rate[len(n.rate)-1]/r)
				}
			}
			for _, c := range cs {
				b.ReportMetric(natMedian(c.rate), c.name+"-req/s")
				b.ReportMetric(natMedian(c.p99), c.name+"-p99-µs")
				b.ReportMetric(natMedian(c.cpu), c.name+"-cpu-µs/req")
				if c != n {
					b.ReportMetric(natMedian(c.vs), "native/"+c.name)
				}
				b.Logf("%-18s req/s %v  p99 µs %v  cpu µs/req %.1f  native/this %.2f", c.name, c.rate, c.p99,
					c.cpu, c.vs)
			}
		})
	}
}
