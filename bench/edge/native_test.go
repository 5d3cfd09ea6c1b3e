// Package edge benchmarks the edge engines under wrk, over the same
// nginx backends, in one run.
//
//	go test -run '^$' -bench Native -benchtime 1x ./bench/edge/
//
// BenchmarkNativeVsHAProxy runs, in alternating rounds, the native
// engine and a plain HAProxy on marathon-lb's rendered configuration
// (its frontends, backend and defaults; the global section reduced to
// what runs here), both in front of two nginx workers, with wrk keeping
// connections alive and with a new connection per request. It reports
// requests/s and the 99th percentile latency of each.
package edge

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/edge/native"
	"github.com/sextantdc/sextant/internal/model"
)

const (
	natRounds  = 3
	natSeconds = 5
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
func natHead(dir string) string {
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
  option            http-server-close
  option            redispatch
`
}

// natHAProxy starts a plain HAProxy on marathon-lb's configuration for
// apps, :80 on httpAddr; it returns false when haproxy is missing.
func natHAProxy(b *testing.B, apps []model.App, httpAddr string) bool {
	b.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		return false
	}
	dir := b.TempDir()
	env := map[string]string{
		"HAPROXY_HEAD":               natHead(dir),
		"HAPROXY_HTTP_FRONTEND_HEAD": "\nfrontend marathon_http_in\n  bind " + httpAddr + "\n  mode http\n",
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
	return true
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
	natRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	natP99  = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	natErrs = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)|Non-2xx or 3xx responses: (\d+)`)
)

// natWrk runs wrk for d and returns requests/s, p99 and whether any
// request failed.
func natWrk(b *testing.B, addr string, keepAlive bool, d int) (float64, time.Duration, bool) {
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
	return rate, p99, failed
}

func natMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func BenchmarkNativeVsHAProxy(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed")
	}
	ports := natNginx(b, 2)
	// The same app, on its own service port for each (both bind it).
	nat := natFreeAddr(b)
	natNative(b, natApps(natPort(natFreeAddr(b)), ports), nat)
	hap := natFreeAddr(b)
	hasHAP := natHAProxy(b, natApps(natPort(natFreeAddr(b)), ports), hap)
	for _, ka := range []bool{true, false} {
		name := "keepalive"
		if !ka {
			name = "close"
		}
		b.Run(name, func(b *testing.B) {
			var nr, hr, np, hp []float64
			for range natRounds {
				r, p, failed := natWrk(b, nat, ka, natSeconds)
				if failed {
					b.Errorf("native engine: failed requests")
				}
				nr, np = append(nr, r), append(np, float64(p.Microseconds()))
				if hasHAP {
					r, p, failed := natWrk(b, hap, ka, natSeconds)
					if failed {
						b.Errorf("haproxy: failed requests")
					}
					hr, hp = append(hr, r), append(hp, float64(p.Microseconds()))
				}
			}
			b.ReportMetric(natMedian(nr), "native-req/s")
			b.ReportMetric(natMedian(np), "native-p99-µs")
			if hasHAP {
				b.ReportMetric(natMedian(hr), "haproxy-req/s")
				b.ReportMetric(natMedian(hp), "haproxy-p99-µs")
				b.ReportMetric(natMedian(nr)/natMedian(hr), "native/haproxy")
			}
			b.Logf("native req/s %v p99 µs %v; haproxy req/s %v p99 µs %v", nr, np, hr, hp)
		})
	}
}
