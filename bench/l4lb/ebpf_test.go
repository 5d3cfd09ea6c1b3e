package l4lb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/ebpf"
)

// The eBPF plane against the direct path, in network namespaces the
// benchmark creates: a client namespace and a backend namespace joined
// by a veth pair, the client process pinned to CPU 0 and the backends to
// CPU 1 (there is no proxy to pin: the plane only rewrites connect()).
// The client of the VIP runs in a cgroup of the benchmark's own where
// the programs are attached, from its own source address; the direct
// client runs outside it (no program on its path) from another.
//
//	sudo go test -run '^$' -bench EBPF -benchtime 1x -v ./bench/l4lb/
const (
	nsClient    = "sxb-ebpf-c"
	nsBackend   = "sxb-ebpf-b"
	backendIP   = "10.231.0.2"
	directSrc   = "10.231.0.1"
	planeSrc    = "10.231.0.11"
	benchVIP    = "11.231.0.1"
	helperEnv   = "SEXTANT_L4LB_BENCH_HELPER"
	portConn    = 7001
	portHTTP    = 7002
	portBannerA = 7003
	portBannerB = 7004
	portIperf   = 5201
	// More rounds than the userspace benchmarks: the machine these run
	// on is shared, and the median of more pairs moves less.
	ebpfRounds = 9
)

type netnsBench struct {
	b          *testing.B
	backendPid int      // the Go backends' process
	cg         *os.File // the cgroup the programs are attached to
	plane      *ebpf.Plane
}

func run(b *testing.B, args ...string) {
	b.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// setupNetns builds the namespaces, the cgroup and the plane, all
// removed when the benchmark ends. Nothing sends to the VIP outside the
// client namespace, which has no route but its veth.
func setupNetns(b *testing.B) *netnsBench {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces, a cgroup and BPF programs")
	}
	for _, tool := range []string{"ip", "taskset", "iperf3"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s", tool)
		}
	}
	b.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", nsClient).Run()
		_ = exec.Command("ip", "netns", "del", nsBackend).Run()
	})
	run(b, "ip", "netns", "add", nsClient)
	run(b, "ip", "netns", "add", nsBackend)
	run(b, "ip", "-n", nsClient, "link", "add", "sxb-c", "type", "veth", "peer", "name", "sxb-b", "netns", nsBackend)
	run(b, "ip", "-n", nsClient, "addr", "add", directSrc+"/24", "dev", "sxb-c")
	run(b, "ip", "-n", nsClient, "addr", "add", planeSrc+"/24", "dev", "sxb-c")
	run(b, "ip", "-n", nsBackend, "addr", "add", backendIP+"/24", "dev", "sxb-b")
	for _, ns := range []string{nsClient, nsBackend} {
		run(b, "ip", "-n", ns, "link", "set", "lo", "up")
		run(b, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65000")
	}
	run(b, "ip", "-n", nsClient, "link", "set", "sxb-c", "up")
	run(b, "ip", "-n", nsBackend, "link", "set", "sxb-b", "up")

	root, err := ebpf.Cgroup2Root()
	if err != nil {
		b.Skipf("no cgroup2: %v", err)
	}
	dir := filepath.Join(root, fmt.Sprintf("sextant-bench-ebpf-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for range 50 {
			if os.Remove(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.Errorf("cgroup %s left behind", dir)
	})
	f, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	// The plane is made here, its client runs in the client namespace:
	// the cgroup is the benchmark's own, so every namespace is safe.
	p, err := ebpf.New(ebpf.Options{CgroupPath: dir, AllNamespaces: true, Ranges: []netip.Prefix{netip.MustParsePrefix("11.0.0.0/8")}})
	if err != nil {
		b.Skipf("eBPF plane: %v", err)
	}
	b.Cleanup(func() { p.Close() })
	nb := &netnsBench{b: b, cg: f, plane: p}
	nb.serve()
	return nb
}

func tcpService(port uint16, mode balance.Mode, bs ...balance.Backend) balance.Service {
	return balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: netip.AddrPortFrom(netip.MustParseAddr(benchVIP), port)}, Mode: mode, Backends: bs}
}

func be(port uint16, w uint8) balance.Backend {
	return balance.Backend{Addr: netip.AddrPortFrom(netip.MustParseAddr(backendIP), port), Weight: w}
}

func (nb *netnsBench) sync(svcs ...balance.Service) time.Duration {
	start := time.Now()
	if err := nb.plane.Sync(context.Background(), svcs); err != nil {
		nb.b.Fatal(err)
	}
	return time.Since(start)
}

// command runs argv in namespace ns pinned to cpu; inCgroup puts it
// where the programs are attached.
func (nb *netnsBench) command(ns string, cpu int, inCgroup bool, env string, argv ...string) *exec.Cmd {
	args := append([]string{"netns", "exec", ns, "taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command("ip", args...)
	if env != "" {
		cmd.Env = append(os.Environ(), helperEnv+"="+env)
	}
	if inCgroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(nb.cg.Fd())}
	}
	return cmd
}

func self(extra ...string) []string {
	return append([]string{os.Args[0], "-test.run=^TestBenchHelper$", "-test.count=1"}, extra...)
}

// serve starts the backends (Go servers and an iperf3 server) in the
// backend namespace on CPU 1, stopped when the benchmark ends.
func (nb *netnsBench) serve() {
	b := nb.b
	for _, cmd := range []*exec.Cmd{
		nb.command(nsBackend, 1, false, "role=serve", self()...),
		nb.command(nsBackend, 1, false, "", "iperf3", "-s", "-B", backendIP, "-p", strconv.Itoa(portIperf)),
	} {
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if nb.backendPid == 0 {
			nb.backendPid = cmd.Process.Pid // ip and taskset exec it
		}
		b.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	// Wait until the Go backends answer (from the client namespace,
	// direct, no plane involved).
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := nb.command(nsClient, 0, false, "role=probe,addr="+backendIP+":"+strconv.Itoa(portBannerB), self()...).CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("probe ok")) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("backends did not come up: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// client runs one measurement in the client namespace and returns the
// lines it printed.
func (nb *netnsBench) client(viaPlane bool, spec string) []string {
	src := directSrc
	if viaPlane {
		src = planeSrc
	}
	out, err := nb.command(nsClient, 0, viaPlane, spec+",src="+src, self("-test.v")...).CombinedOutput()
	if err != nil {
		nb.b.Fatalf("client %s: %v\n%s", spec, err, out)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// sample is one measurement: a rate, and the CPU time the client and
// the backends spent per operation (0: not measured).
type sample struct{ rate, cpuUs float64 }

// parseSample reads a client's "rate R errors E ops N cpu S" line; the
// backends' CPU time over the same run is added.
func parseSample(b *testing.B, lines []string, backendCPU time.Duration) sample {
	for _, l := range lines {
		if !strings.HasPrefix(l, "rate ") {
			continue
		}
		var r, cpu float64
		var errs, ops int64
		if _, err := fmt.Sscanf(l, "rate %g errors %d ops %d cpu %g", &r, &errs, &ops, &cpu); err != nil {
			b.Fatalf("client line %q: %v", l, err)
		}
		if errs != 0 {
			b.Errorf("client errors: %s", l)
		}
		s := sample{rate: r}
		if ops > 0 {
			s.cpuUs = (cpu + backendCPU.Seconds()) / float64(ops) * 1e6
		}
		return s
	}
	b.Fatalf("no rate in %q", lines)
	return sample{}
}

// procCPU is a process's user and system time so far (clock ticks of
// 10 ms: /proc/PID/stat fields 14 and 15).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ")".
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// measure runs a Go client (role conns or keepalive) against port.
func (nb *netnsBench) measure(b *testing.B, via bool, role string, port int) sample {
	c0 := procCPU(nb.backendPid)
	lines := nb.client(via, "role="+role+",ms="+strconv.Itoa(int(phase/time.Millisecond))+",addr="+target(via, port))
	return parseSample(b, lines, procCPU(nb.backendPid)-c0)
}

// compareEBPF alternates direct and plane rounds, as compare does, and
// also reports the CPU time per operation when measured.
func compareEBPF(b *testing.B, unit string, measure func(viaPlane bool) sample) {
	var ds, ps, ratios, dcpu, pcpu []float64
	for range ebpfRounds {
		d := measure(false)
		p := measure(true)
		ds, ps, ratios = append(ds, d.rate), append(ps, p.rate), append(ratios, p.rate/d.rate)
		dcpu, pcpu = append(dcpu, d.cpuUs), append(pcpu, p.cpuUs)
	}
	b.ReportMetric(median(ds), "direct_"+unit)
	b.ReportMetric(median(ps), "ebpf_"+unit)
	b.ReportMetric(median(ratios), "ratio")
	b.Logf("%s direct %v, ebpf %v, ratios %v", unit, round(ds), round(ps), round(ratios))
	if median(dcpu) > 0 {
		b.ReportMetric(median(dcpu), "direct_cpu_us/op")
		b.ReportMetric(median(pcpu), "ebpf_cpu_us/op")
		b.Logf("CPU µs per operation (client + backends) direct %v, ebpf %v", round(dcpu), round(pcpu))
	}
}

func target(viaPlane bool, port int) string {
	if viaPlane {
		return benchVIP + ":" + strconv.Itoa(port)
	}
	return backendIP + ":" + strconv.Itoa(port)
}

func BenchmarkEBPF(b *testing.B) {
	nb := setupNetns(b)
	nb.sync(
		tcpService(portConn, balance.Random, be(portConn, 1)),
		tcpService(portHTTP, balance.Random, be(portHTTP, 1)),
		tcpService(portIperf, balance.Random, be(portIperf, 1)),
		tcpService(portBannerA, balance.Random, be(portBannerA, 1), be(portBannerB, 1)),
	)
	b.Run("NewConnections", func(b *testing.B) {
		for b.Loop() {
			compareEBPF(b, "conns/s", func(via bool) sample { return nb.measure(b, via, "conns", portConn) })
		}
		// The VIP's connections went through the plane, not around it.
		for _, s := range nb.plane.Stats() {
			if s.Key.Addr.Port() == portConn && (len(s.Backends) != 1 || s.Backends[0].Connections == 0) {
				b.Errorf("the plane counted %+v for the VIP", s.Backends)
			}
		}
	})
	b.Run("KeepAlive", func(b *testing.B) {
		for b.Loop() {
			compareEBPF(b, "req/s", func(via bool) sample { return nb.measure(b, via, "keepalive", portHTTP) })
		}
	})
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("Iperf3Streams%d", streams), func(b *testing.B) {
			for b.Loop() {
				compareEBPF(b, "Gbit/s", func(via bool) sample { return sample{rate: nb.iperf3(via, streams)} })
			}
		})
	}
	b.Run("Convergence", func(b *testing.B) {
		for b.Loop() {
			nb.convergence(b)
		}
	})
}

// iperf3 runs a 2-second iperf3 client and returns the received rate.
// A run that fails or reports nothing received (the loaded machine
// sometimes stalls a test's start past its end) is run again, up to 3
// times.
func (nb *netnsBench) iperf3(viaPlane bool, streams int) float64 {
	src := directSrc
	if viaPlane {
		src = planeSrc
	}
	host, port, _ := strings.Cut(target(viaPlane, portIperf), ":")
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	var out []byte
	var err error
	for range 3 {
		out, err = nb.command(nsClient, 0, viaPlane, "", "iperf3", "-c", host, "-p", port, "-B", src, "-t", "2", "-P", strconv.Itoa(streams), "-J").Output()
		if err == nil {
			if err = json.Unmarshal(out, &res); err == nil && res.End.SumReceived.BitsPerSecond > 0 {
				return res.End.SumReceived.BitsPerSecond / 1e9
			}
			nb.b.Logf("iperf3 to %s:%s received nothing (%v); again", host, port, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	nb.b.Fatalf("iperf3: %v\n%s", err, out)
	return 0
}

// convergence: a client connects to the VIP over and over while the
// plane is synced with backend A drained; the time from the start of
// that Sync to the end of the last new connection that still reached A
// is the convergence (0 when the first one after the sync avoided it).
func (nb *netnsBench) convergence(b *testing.B) {
	var conv, syncs, maglevSyncs []float64
	for range ebpfRounds {
		both := tcpService(portBannerA, balance.Random, be(portBannerA, 1), be(portBannerB, 1))
		drained := tcpService(portBannerA, balance.Random, be(portBannerA, 0), be(portBannerB, 1))
		base := []balance.Service{
			tcpService(portConn, balance.Random, be(portConn, 1)),
			tcpService(portHTTP, balance.Random, be(portHTTP, 1)),
			tcpService(portIperf, balance.Random, be(portIperf, 1)),
		}
		nb.sync(append(slices.Clone(base), both)...)
		cmd := nb.command(nsClient, 0, true, "role=watch,ms=1500,src="+planeSrc+",addr="+target(true, portBannerA), self("-test.v")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		at := time.Now()
		d := nb.sync(append(slices.Clone(base), drained)...)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("watch client: %v\n%s", err, out.String())
		}
		var last time.Time
		sawA := false
		for _, l := range strings.Split(out.String(), "\n") {
			f := strings.Fields(l)
			if len(f) != 3 || f[0] != "conn" {
				continue
			}
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			if f[2] == "a" {
				sawA = true
				if end := time.Unix(0, ns); end.After(at) {
					last = end
				}
			}
		}
		if !sawA {
			b.Fatalf("the watch client never reached backend A:\n%s", out.String())
		}
		c := 0.0
		if !last.IsZero() {
			c = last.Sub(at).Seconds() * 1000
		}
		conv, syncs = append(conv, c), append(syncs, d.Seconds()*1000)
		// A Maglev service's change: the Go side builds the 65537-slot
		// table and writes it as a new map before the switch.
		mboth, mdrained := both, drained
		mboth.Mode, mdrained.Mode = balance.Maglev, balance.Maglev
		nb.sync(append(slices.Clone(base), mboth)...)
		maglevSyncs = append(maglevSyncs, nb.sync(append(slices.Clone(base), mdrained)...).Seconds()*1000)
	}
	b.ReportMetric(median(conv), "convergence_ms")
	b.ReportMetric(slices.Max(conv), "max_convergence_ms")
	b.ReportMetric(median(syncs), "sync_ms")
	b.ReportMetric(median(maglevSyncs), "maglev_sync_ms")
	b.Logf("convergence ms %v, sync ms %v, Maglev sync ms %v", round(conv), round(syncs), round(maglevSyncs))
}
