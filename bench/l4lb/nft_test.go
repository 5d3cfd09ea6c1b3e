package l4lb

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/nft"
)

// BenchmarkNftables measures the nftables plane in network namespaces it
// creates: a client namespace (where the plane's table is) joined by veth
// pairs to two backend namespaces. Each path is measured with the client
// pinned to CPU 0 and the backends to CPU 1, in alternating rounds of
// direct (to the backend's address) and VIP (11.78.0.1, DNATed by the
// plane), each from its own client address so that neither meets the
// other's TIME_WAIT sockets. Reported: iperf3 throughput with 1 and 4
// streams, new connections/s and keep-alive HTTP requests/s, each with
// its ratio to direct, and the time from a weight change to the data
// plane's change.
//
//	go test -run '^$' -bench Nftables -benchtime 1x -v ./bench/l4lb/
func BenchmarkNftables(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and nftables")
	}
	for _, tool := range []string{"ip", "iperf3", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed: %v", tool, err)
		}
	}
	env := newBenchNet(b)
	for b.Loop() {
		b.Run("throughput-1", func(b *testing.B) { env.iperf(b, 1) })
		b.Run("throughput-4", func(b *testing.B) { env.iperf(b, 4) })
		b.Run("new-connections", func(b *testing.B) { env.load(b, "conn", "conns/s") })
		b.Run("keep-alive", func(b *testing.B) { env.load(b, "keepalive", "req/s") })
		b.Run("convergence", env.convergence)
		b.Run("convergence-e2e", env.convergenceE2E)
	}
}

const (
	// Short phases, many rounds: other work on the machine comes in
	// bursts of seconds, and a direct and a VIP phase a second apart
	// see about the same share of it.
	benchRounds = 9
	benchPhase  = time.Second
	connPort    = 25301
	httpPort    = 25302
	iperfPort   = 25303
)

var (
	nftVIP = netip.MustParseAddr("11.78.0.1")
	// Client addresses: one for direct runs, one for VIP runs.
	srcDirect = netip.MustParseAddr("10.78.1.1")
	srcVIP    = netip.MustParseAddr("10.78.1.11")
	backends  = []netip.Addr{netip.MustParseAddr("10.78.1.2"), netip.MustParseAddr("10.78.2.2")}
)

type benchNet struct {
	client string // namespace names
	bns    []string
	plane  *nft.Plane
	procs  []*exec.Cmd
	// goServers are the Go backend processes (ip netns exec and taskset
	// exec into them: same pid).
	goServers []*exec.Cmd
}

func nftRun(b testing.TB, args ...string) {
	b.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func newBenchNet(b *testing.B) *benchNet {
	id := os.Getpid() % 10000
	e := &benchNet{client: fmt.Sprintf("sxnft%d-c", id)}
	b.Cleanup(func() {
		for _, ns := range append([]string{e.client}, e.bns...) {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	nftRun(b, "ip", "netns", "add", e.client)
	nftRun(b, "ip", "-n", e.client, "link", "set", "lo", "up")
	for i := range backends {
		ns := fmt.Sprintf("sxnft%d-b%d", id, i)
		e.bns = append(e.bns, ns)
		nftRun(b, "ip", "netns", "add", ns)
		cv, bv := fmt.Sprintf("sxc%d", i), fmt.Sprintf("sxb%d", i)
		nftRun(b, "ip", "-n", e.client, "link", "add", cv, "type", "veth", "peer", "name", bv, "netns", ns)
		nftRun(b, "ip", "-n", e.client, "addr", "add", fmt.Sprintf("10.78.%d.1/24", i+1), "dev", cv)
		nftRun(b, "ip", "-n", ns, "addr", "add", fmt.Sprintf("10.78.%d.2/24", i+1), "dev", bv)
		nftRun(b, "ip", "-n", e.client, "link", "set", cv, "up")
		nftRun(b, "ip", "-n", ns, "link", "set", bv, "up")
		nftRun(b, "ip", "-n", ns, "link", "set", "lo", "up")
		nftRun(b, "ip", "-n", ns, "route", "add", "default", "via", fmt.Sprintf("10.78.%d.1", i+1))
	}
	nftRun(b, "ip", "-n", e.client, "addr", "add", srcVIP.String()+"/24", "dev", "sxc0")
	// The client closes first, so TIME_WAIT sockets pile up on its side
	// (thousands a second): let it reuse them, in its own namespace.
	nftRun(b, "ip", "netns", "exec", e.client, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65000")
	// Backend servers, pinned to CPU 1.
	exe, _ := os.Executable()
	for i, ns := range e.bns {
		e.daemon(b, ns, "1", "iperf3", "-s", "-B", backends[i].String(), "-p", fmt.Sprint(iperfPort))
		cmd := e.daemon(b, ns, "1", exe, "-test.run=^TestNftBenchRole$")
		cmd.Env = append(os.Environ(), "SEXTANT_L4LB_NFT_ROLE=server,"+backends[i].String())
		e.goServers = append(e.goServers, cmd)
	}
	h, err := netns.GetFromName(e.client)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	p, err := nft.New(nft.Options{NetNS: int(h)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	e.plane = p
	e.startAll(b)
	e.serve(b, 1, 1, 1, 1)
	time.Sleep(500 * time.Millisecond) // servers listening
	return e
}

// daemon starts a command in a namespace pinned to a CPU, stopped when
// the benchmark ends; for a Go role the caller sets Env before it runs.
func (e *benchNet) daemon(b *testing.B, ns, cpu string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "taskset", "-c", cpu}, args...)...)
	b.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	// Started by startAll, so that the caller can set Env first.
	e.procs = append(e.procs, cmd)
	return cmd
}

func (e *benchNet) startAll(b *testing.B) {
	for _, c := range e.procs {
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
	}
}

// serve syncs the plane: the three services of the benchmark on the VIP,
// the two random ones with weights w0 and w1 for the two backends, the
// Maglev one (throughput: iperf3's control and data connections must
// meet the same server, and one client address always hashes to the
// same backend) with weights m0 and m1.
func (e *benchNet) serve(b testing.TB, w0, w1, m0, m1 uint8) time.Duration {
	mk := func(port uint16, mode balance.Mode) balance.Service {
		s := balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: netip.AddrPortFrom(nftVIP, port)}, Mode: mode}
		ws := []uint8{w0, w1}
		if mode == balance.Maglev {
			ws = []uint8{m0, m1}
		}
		for i, a := range backends {
			w := ws[i]
			s.Backends = append(s.Backends, balance.Backend{Addr: netip.AddrPortFrom(a, port), Weight: w})
		}
		return s
	}
	t0 := time.Now()
	if err := e.plane.Sync(context.Background(), []balance.Service{mk(connPort, balance.Random), mk(httpPort, balance.Random), mk(iperfPort, balance.Maglev)}); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

func netipPort(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }

// The backend that Maglev gives srcVIP, so direct iperf3 runs go to the
// same one.
func iperfBackend() netip.Addr {
	s := balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: netip.AddrPortFrom(nftVIP, iperfPort)}, Mode: balance.Maglev}
	for _, a := range backends {
		s.Backends = append(s.Backends, balance.Backend{Addr: netip.AddrPortFrom(a, iperfPort), Weight: 1})
	}
	be, _ := balance.NewPicker(s).Pick(srcVIP)
	return be.Addr.Addr()
}

// inClient runs a command in the client namespace on CPU 0.
func (e *benchNet) inClient(env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", e.client, "taskset", "-c", "0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.Output()
}

func (e *benchNet) iperf(b *testing.B, streams int) {
	var costDirect, costVIP []float64
	cost := &costDirect
	gbps := func(dst, src netip.Addr) float64 {
		// The iperf3 server takes one test at a time and needs a moment
		// between them: a "busy" answer is retried.
		for try := 0; ; try++ {
			out, err := e.inClient(nil, "iperf3", "-c", dst.String(), "-B", src.String(), "-p", fmt.Sprint(iperfPort),
				"-t", fmt.Sprint(int(benchPhase.Seconds())), "-P", fmt.Sprint(streams), "-J")
			var r struct {
				End struct {
					SumReceived struct {
						BitsPerSecond float64 `json:"bits_per_second"`
					} `json:"sum_received"`
				} `json:"end"`
				Error string `json:"error"`
			}
			r2 := struct {
				End struct {
					CPU struct {
						Host   float64 `json:"host_total"`
						Remote float64 `json:"remote_total"`
					} `json:"cpu_utilization_percent"`
				} `json:"end"`
			}{}
			_ = json.Unmarshal(out, &r2)
			jerr := json.Unmarshal(out, &r)
			if err == nil && jerr == nil && r.End.SumReceived.BitsPerSecond > 0 {
				// CPU seconds (client and server iperf3, user and system)
				// per GB: the work, whatever share of the machine other
				// work leaves.
				gb := r.End.SumReceived.BitsPerSecond / 8 / 1e9 * benchPhase.Seconds()
				cpu := (r2.End.CPU.Host + r2.End.CPU.Remote) / 100 * benchPhase.Seconds()
				*cost = append(*cost, cpu/gb)
				return r.End.SumReceived.BitsPerSecond / 1e9
			}
			if try == 3 {
				b.Fatalf("iperf3 to %s: %v %v %s", dst, err, jerr, r.Error)
			}
			time.Sleep(time.Second)
		}
	}
	compareNft(b, "Gbit/s", func() float64 { cost = &costDirect; return gbps(iperfBackend(), srcDirect) },
		func() float64 { cost = &costVIP; return gbps(nftVIP, srcVIP) })
	reportCost(b, "cpu_s/GB", costDirect, costVIP)
}

// reportCost reports the medians of CPU per unit of work on both paths
// and their ratio (above 1: the VIP path costs more).
func reportCost(b *testing.B, unit string, direct, vip []float64) {
	if len(direct) == 0 || len(vip) == 0 {
		return
	}
	d, v := median(direct), median(vip)
	b.ReportMetric(d, "direct_"+unit)
	b.ReportMetric(v, "nftables_"+unit)
	b.ReportMetric(v/d, "cost_ratio")
	b.Logf("%s direct %v, nftables %v", unit, round(direct), round(vip))
}

func (e *benchNet) load(b *testing.B, kind, unit string) {
	var costDirect, costVIP []float64
	cost := &costDirect
	port := connPort
	if kind == "keepalive" {
		port = httpPort
	}
	rate := func(dsts []netip.Addr, src netip.Addr) float64 {
		exe, _ := os.Executable()
		var ts []string
		for _, d := range dsts {
			ts = append(ts, netip.AddrPortFrom(d, uint16(port)).String())
		}
		spec := fmt.Sprintf("%s,%s,%s,%d,%v", kind, strings.Join(ts, ";"), src, 0, benchPhase)
		out, err := e.inClient([]string{"SEXTANT_L4LB_NFT_ROLE=" + spec}, exe, "-test.run=^TestNftBenchRole$", "-test.v")
		srv0 := e.serverCPU()
		var r struct{ Rate, Errors, CPU float64 }
		for _, line := range strings.Split(string(out), "\n") {
			if j, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT "); ok {
				_ = json.Unmarshal([]byte(j), &r)
			}
		}
		if err != nil || r.Rate == 0 {
			b.Fatalf("client %s: %v\n%s", spec, err, out)
		}
		if r.Errors > 0 {
			// On a loaded machine a dial can time out on either path;
			// the count is logged, and a failed connection is not
			// counted in the rate.
			b.Logf("client %s: %v errors", spec, r.Errors)
		}
		units := r.Rate * benchPhase.Seconds()
		*cost = append(*cost, (r.CPU+(e.serverCPU()-srv0))/units*1e6)
		return r.Rate
	}
	// Direct clients spread their connections over both backends, as
	// the VIP does.
	compareNft(b, unit, func() float64 { cost = &costDirect; return rate(backends, srcDirect) },
		func() float64 { cost = &costVIP; return rate([]netip.Addr{nftVIP}, srcVIP) })
	reportCost(b, "cpu_us/op", costDirect, costVIP)
}

// serverCPU is the CPU seconds (user and system) the Go backend
// processes have used.
func (e *benchNet) serverCPU() float64 {
	var total float64
	for _, c := range e.goServers {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name: state is field 3; utime 14, stime 15.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		if len(f) > 12 {
			var u, s float64
			fmt.Sscan(f[11], &u)
			fmt.Sscan(f[12], &s)
			total += (u + s) / 100 // USER_HZ
		}
	}
	return total
}

func compareNft(b *testing.B, unit string, direct, vip func() float64) {
	var ds, vs, ratios []float64
	for range benchRounds {
		d := direct()
		v := vip()
		ds, vs, ratios = append(ds, d), append(vs, v), append(ratios, v/d)
	}
	b.ReportMetric(median(ds), "direct_"+unit)
	b.ReportMetric(median(vs), "nftables_"+unit)
	b.ReportMetric(median(ratios), "ratio")
	b.Logf("%s direct %v, nftables %v, ratios %v", unit, round(ds), round(vs), round(ratios))
}

// convergence: the time from the plane being handed a weight change (a
// task turning unhealthy) to the kernel serving it, which is when Sync
// returns: the change is one transaction. A client then checks that no
// new connection reaches the drained backend.
func (e *benchNet) convergence(b *testing.B) {
	var ds, ms []float64
	for i := range 20 {
		d := e.serve(b, uint8(i%2), 1, 1, 1)
		ds = append(ds, float64(d.Microseconds())/1000)
	}
	// A Maglev VIP's change rewrites the slots that move (about half of
	// 65537 when one of two backends drains).
	for i := range 6 {
		d := e.serve(b, 1, 1, uint8(i%2), 1)
		ms = append(ms, float64(d.Microseconds())/1000)
	}
	e.serve(b, 0, 1, 1, 1)
	exe, _ := os.Executable()
	spec := fmt.Sprintf("probe,%s,%s,%d,%v", netip.AddrPortFrom(nftVIP, connPort), srcVIP, 0, time.Second)
	out, err := e.inClient([]string{"SEXTANT_L4LB_NFT_ROLE=" + spec}, exe, "-test.run=^TestNftBenchRole$", "-test.v")
	if err != nil || !strings.Contains(string(out), "RESULT") {
		b.Fatalf("probe: %v\n%s", err, out)
	}
	if strings.Contains(string(out), `"b1":`) {
		b.Errorf("a new connection reached the drained backend after the sync:\n%s", out)
	}
	e.serve(b, 1, 1, 1, 1)
	slices.Sort(ds)
	slices.Sort(ms)
	b.ReportMetric(ds[len(ds)/2], "median_ms")
	b.ReportMetric(ds[len(ds)-1], "max_ms")
	b.ReportMetric(ms[len(ms)/2], "maglev_median_ms")
	b.Logf("sync of a weight change (ms): random VIP %v; Maglev VIP %v; after it no new connection reached the drained backend (%s)", ds, ms, strings.TrimSpace(string(out)))
}

// TestNftBenchRole is a process of BenchmarkNftables, in a namespace it
// set up, when SEXTANT_L4LB_NFT_ROLE is set: "server,<ip>" serves the
// connection and HTTP ports on ip until killed; "conn|keepalive|probe,
// <target>[;<target>…],<source>,_,<duration>" is a client that prints
// RESULT {"Rate":…,"Errors":…}.
func TestNftBenchRole(t *testing.T) {
	spec := os.Getenv("SEXTANT_L4LB_NFT_ROLE")
	if spec == "" {
		t.Skip("a role of BenchmarkNftables; runs only inside its namespaces")
	}
	f := strings.Split(spec, ",")
	if f[0] == "server" {
		ip := netip.MustParseAddr(f[1])
		benchServer(t, ip)
		return
	}
	targets := strings.Split(f[1], ";")
	src := netip.MustParseAddr(f[2])
	d, err := time.ParseDuration(f[4])
	if err != nil {
		t.Fatal(err)
	}
	var n, errs atomic.Int64
	deadline := time.Now().Add(d)
	// IP_BIND_ADDRESS_NO_PORT: the source port is chosen at connect,
	// per destination, not at bind from one pool of ports.
	dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, 24, 1) })
		}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	switch f[0] {
	case "conn", "probe":
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf [1]byte
				for i := w; time.Now().Before(deadline); i++ {
					c, err := dialer.Dial("tcp", targets[i%len(targets)])
					if err != nil {
						errs.Add(1)
						continue
					}
					if _, err := io.ReadFull(c, buf[:]); err == nil {
						n.Add(1)
						mu.Lock()
						seen[fmt.Sprintf("b%d", buf[0])]++
						mu.Unlock()
					} else {
						errs.Add(1)
					}
					c.Close()
				}
			}()
		}
	case "keepalive":
		req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialer.Dial("tcp", targets[w%len(targets)])
				if err != nil {
					errs.Add(1)
					return
				}
				defer c.Close()
				r := bufio.NewReader(c)
				for time.Now().Before(deadline) {
					if _, err := c.Write(req); err != nil {
						errs.Add(1)
						return
					}
					resp, err := http.ReadResponse(r, nil)
					if err != nil {
						errs.Add(1)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	// Backends: connections per backend, named by the byte it sends
	// (b1 for 10.78.1.2, b2 for 10.78.2.2).
	by, _ := json.Marshal(seen)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	fmt.Printf("RESULT {\"Rate\":%f,\"Errors\":%d,\"CPU\":%f,\"Backends\":%s}\n", float64(n.Load())/d.Seconds(), errs.Load(), cpu, by)
}

// benchServer: the connection port writes its backend's last address
// byte and waits for the client to close; the HTTP port answers "ok".
func benchServer(t *testing.T, ip netip.Addr) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, connPort).String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Write([]byte{ip.As4()[2]}); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	hl, err := net.Listen("tcp", netip.AddrPortFrom(ip, httpPort).String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })}
	_ = srv.Serve(hl)
}
