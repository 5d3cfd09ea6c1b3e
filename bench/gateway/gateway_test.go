// Package gateway measures the gateway's overhead: wrk's requests/s and
// p99 latency for a small response, straight from the upstream and
// through the gateway's /service/<name>/ route with a token. Run with
//
//	go test -run '^$' -bench Gateway -benchtime 1x -v ./bench/gateway
//
// (needs wrk; SEXTANT_GATEWAY_ROUNDS sets the alternating rounds, default 3;
// SEXTANT_BENCH_GATEWAY_GOMAXPROCS the gateway processes' GOMAXPROCS;
// SEXTANT_BENCH_GATEWAY_CPUPROFILE=<path> writes <path>.fast and
// <path>.nethttp).
// When nginx is installed, the same route through nginx (Admin Router's
// own proxy, without its Lua auth) is measured in the same rounds as the
// peer. The gateway runs twice in the same rounds: as the role serves
// it (gateway.Server, its hot path on internal/httpfast) and on a plain
// net/http server (the "before" row).
package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/gateway"
	"github.com/sextantdc/sextant/internal/gateway/auth"
	"github.com/sextantdc/sextant/internal/model"
)

type wrkResult struct {
	rps   float64
	p99ms float64
	// cpuUS is the proxy's CPU time (user + system) per request, in µs;
	// 0 for the direct path.
	cpuUS float64
}

var (
	reRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP99 = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	reN   = regexp.MustCompile(`([0-9]+) requests in`)
)

// cpuTicks sums the user and system time of the processes, in clock ticks
// (100 a second on Linux).
func cpuTicks(pids []int) int64 {
	var n int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields count from after ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			n += u + st
		}
	}
	return n
}

// children lists the processes whose parent is pid (nginx' workers).
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

func runWrk(b *testing.B, wrk, url, token string, proxy []int) wrkResult {
	t0 := cpuTicks(proxy)
	args := []string{"-t2", "-c32", "-d3s", "--latency"}
	if token != "" {
		args = append(args, "-H", "Authorization: token="+token)
	}
	out, err := exec.Command(wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m, p := reRPS.FindSubmatch(out), reP99.FindSubmatch(out)
	if m == nil || p == nil {
		b.Fatalf("wrk output:\n%s", out)
	}
	var r wrkResult
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	r.p99ms, _ = strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		r.p99ms /= 1000
	case "s":
		r.p99ms *= 1000
	}
	if n := reN.FindSubmatch(out); n != nil && len(proxy) > 0 {
		reqs, _ := strconv.ParseFloat(string(n[1]), 64)
		if reqs > 0 {
			r.cpuUS = float64(cpuTicks(proxy)-t0) * 10000 / reqs
		}
	}
	if strings.Contains(string(out), "Non-2xx") {
		b.Fatalf("wrk saw errors:\n%s", out)
	}
	b.Logf("%s: %.0f req/s, p99 %.2f ms, proxy CPU %.0f µs/request", url, r.rps, r.p99ms, r.cpuUS)
	return r
}

func serve(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func BenchmarkGateway(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (Debian package wrk)")
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("SEXTANT_GATEWAY_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	body := []byte(`{"ok":true}` + "\n")
	up := serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	// The gateway runs in a process of its own, as nginx does: in the
	// bench's process it would share the upstream's two Ps, while nginx's
	// workers get their own share of the machine.
	gwAddr, tok, gwPid := startGatewayChild(b, up, "fast")
	stdAddr, stdTok, stdPid := startGatewayChild(b, up, "net/http")
	direct, through := "http://"+up+"/small", "http://"+gwAddr+"/service/bench/small"
	throughStd := "http://" + stdAddr + "/service/bench/small"
	nginx, nginxPid := startNginx(b, up)
	var nginxWorkers []int
	if nginxPid != 0 {
		nginxWorkers = append(children(nginxPid), nginxPid)
	}
	var dr, gr, sr, nr []wrkResult
	for i := 0; i < rounds; i++ {
		dr = append(dr, runWrk(b, wrk, direct, "", nil))
		gr = append(gr, runWrk(b, wrk, through, tok, []int{gwPid}))
		sr = append(sr, runWrk(b, wrk, throughStd, stdTok, []int{stdPid}))
		if nginx != "" {
			nr = append(nr, runWrk(b, wrk, "http://"+nginx+"/service/bench/small", "", nginxWorkers))
		}
	}
	med := func(rs []wrkResult, f func(wrkResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rps := func(r wrkResult) float64 { return r.rps }
	p99 := func(r wrkResult) float64 { return r.p99ms }
	var ratios []float64
	for i := range dr {
		ratios = append(ratios, gr[i].rps/dr[i].rps)
	}
	slices.Sort(ratios)
	b.ReportMetric(med(dr, rps), "direct-req/s")
	b.ReportMetric(med(gr, rps), "gateway-req/s")
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(med(dr, p99), "direct-p99-ms")
	b.ReportMetric(med(gr, p99), "gateway-p99-ms")
	b.ReportMetric(med(gr, func(r wrkResult) float64 { return r.cpuUS }), "gateway-cpu-µs/req")
	var sratios []float64
	for i := range dr {
		sratios = append(sratios, sr[i].rps/dr[i].rps)
	}
	slices.Sort(sratios)
	b.ReportMetric(med(sr, rps), "nethttp-gateway-req/s")
	b.ReportMetric(sratios[len(sratios)/2], "nethttp-ratio")
	b.ReportMetric(med(sr, p99), "nethttp-gateway-p99-ms")
	b.ReportMetric(med(sr, func(r wrkResult) float64 { return r.cpuUS }), "nethttp-gateway-cpu-µs/req")
	if len(nr) > 0 {
		var nratios []float64
		for i := range dr {
			nratios = append(nratios, nr[i].rps/dr[i].rps)
		}
		slices.Sort(nratios)
		b.ReportMetric(med(nr, rps), "nginx-req/s")
		b.ReportMetric(nratios[len(nratios)/2], "nginx-ratio")
		b.ReportMetric(med(nr, p99), "nginx-p99-ms")
		b.ReportMetric(med(nr, func(r wrkResult) float64 { return r.cpuUS }), "nginx-cpu-µs/req")
	}
}

// startNginx runs nginx in the foreground as a reverse proxy of
// /service/bench/ to the upstream, configured as Admin Router proxies
// /service/ (HTTP/1.1 upstream keep-alive, no response buffering, the
// same forwarded headers); "" when nginx is not installed.
func startNginx(b *testing.B, upstream string) (string, int) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			b.Log("nginx is not installed: no peer row")
			return "", 0
		}
		bin = "/usr/sbin/nginx"
	}
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := `worker_processes auto;
pid ` + dir + `/nginx.pid;
error_log ` + dir + `/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ` + dir + `/body;
  proxy_temp_path ` + dir + `/proxy;
  upstream up { server ` + upstream + `; keepalive 64; }
  server {
    listen ` + addr + `;
    location /service/bench/ {
      proxy_pass http://up/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
    }
  }
}
`
	if err := os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", dir+"/nginx.conf", "-g", "daemon off;")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/service/bench/small"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, cmd.Process.Pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("nginx did not come up on %s", addr)
	return "", 0
}

// childEnv names the upstream a child process serves the gateway for;
// modeEnv the server it runs ("fast": gateway.Server, "net/http").
const (
	childEnv = "SEXTANT_BENCH_GATEWAY_UPSTREAM"
	modeEnv  = "SEXTANT_BENCH_GATEWAY_SERVER"
)

func TestMain(m *testing.M) {
	if up := os.Getenv(childEnv); up != "" {
		runGatewayChild(up)
		return
	}
	os.Exit(m.Run())
}

// runGatewayChild serves the gateway with one Marathon app labelled for
// /service/bench/ on the upstream, prints its address and a token, and
// runs until stdin closes.
func runGatewayChild(up string) {
	upAddr := netip.MustParseAddrPort(up)
	lo := netip.MustParseAddr("127.0.0.1")
	snap := model.Build(model.Observations{
		Mesos: &model.MesosObservation{
			Agents:     []model.Agent{{ID: "S1", Host: "127.0.0.1", Port: 5051, Addrs: []netip.Addr{lo}, IP: lo}},
			Frameworks: []model.Framework{{ID: "fw", Name: "marathon", Active: true}},
		},
		Marathon: &model.MarathonObservation{Apps: []model.App{{ID: "/bench",
			Labels: map[string]string{gateway.LabelServiceName: "bench", gateway.LabelServiceScheme: "http", gateway.LabelServicePortIndex: "0"},
			Ports:  []model.AppPort{{Name: "http"}},
			Tasks:  []model.AppTask{{ID: "bench.1", Host: "127.0.0.1", SlaveID: "S1", State: model.TaskRunning, Ports: []uint16{upAddr.Port()}}}}}},
	}, model.BuildOptions{Version: 1, Sources: []model.SourceVersion{{Name: "mesos", Version: 1}, {Name: "marathon", Version: 1}}})
	dir, err := os.MkdirTemp("", "sextant-bench-gateway-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := auth.OpenStore(dir)
	if err != nil {
		panic(err)
	}
	svc := auth.New(store, auth.Options{})
	tok, _ := svc.Issue("bench", 0)
	gw := gateway.New(gateway.Options{Current: func() *model.Snapshot { return snap }, Auth: svc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	type server interface {
		Serve(net.Listener) error
		Close() error
	}
	var srv server = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	if os.Getenv(modeEnv) == "fast" {
		srv = gateway.NewServer(gw, &http.Server{ReadHeaderTimeout: 10 * time.Second})
	}
	go func() { _ = srv.Serve(ln) }()
	if prof := os.Getenv("SEXTANT_BENCH_GATEWAY_CPUPROFILE"); prof != "" {
		if f, err := os.Create(prof + "." + strings.ReplaceAll(os.Getenv(modeEnv), "/", "")); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Printf("%s %s\n", ln.Addr(), tok)
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

func startGatewayChild(b *testing.B, up, mode string) (addr, token string, pid int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+up, modeEnv+"="+mode)
	if n := os.Getenv("SEXTANT_BENCH_GATEWAY_GOMAXPROCS"); n != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+n)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("gateway child: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		b.Fatalf("gateway child said %q", line)
	}
	return f[0], f[1], cmd.Process.Pid
}
