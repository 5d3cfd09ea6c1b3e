// Package mesosdns_test benchmarks the Mesos-DNS server with dnsperf
// against a generated 10,000-task state, next to peers measured in the same
// run: a naive miekg/dns server answering the same records from a map, and
// unbound with the same records as local-data (when installed).
//
//	go test -run '^$' -bench DNSPerf -benchtime 1x ./bench/mesosdns/
//
// SEXTANT_DNSPERF_SECONDS changes the length of each dnsperf run (default
// 10), SEXTANT_DNSPERF_CLIENTS its -c (default 4). SEXTANT_DNSPERF_PROFILE
// names a file for a Go CPU profile of the process during the sextant UDP
// run only (the server runs in the test process; read it with
// `go tool pprof -top`).
package mesosdns_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/mesosdns/resolver"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// zone10k builds the record set of a synthetic 10,000-task state with the
// default Mesos-DNS settings.
func zone10k(tb testing.TB, tasks int) *records.RecordSet {
	tb.Helper()
	st := synth.State(tasks, 1)
	snap := modeltest.FromState(st, modeltest.Options{Version: 1, Now: time.Now()})
	rs, _ := records.Generate(snap, records.Config{
		Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"},
	})
	return rs
}

var plainName = regexp.MustCompile(`^[a-z0-9_.-]+\.$`)

// queryMix picks names deterministically: 60% A, 10% AAAA, 30% SRV, taken
// evenly across the sorted names of each kind.
func queryMix(rs *records.RecordSet, n int) []string {
	pick := func(m map[string][]string, k int, qt string) []string {
		var names []string
		for name := range m {
			if plainName.MatchString(name) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		var out []string
		if len(names) == 0 {
			return nil
		}
		for i := 0; i < k; i++ {
			out = append(out, strings.TrimSuffix(names[(i*7919)%len(names)], ".")+" "+qt)
		}
		return out
	}
	var q []string
	q = append(q, pick(rs.A, n*6/10, "A")...)
	q = append(q, pick(rs.AAAA, n/10, "AAAA")...)
	q = append(q, pick(rs.SRV, n*3/10, "SRV")...)
	// Interleave the kinds.
	sort.Slice(q, func(i, j int) bool { return hash(q[i]) < hash(q[j]) })
	return q
}

func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

type perf struct {
	qps, avgLatency float64
	lost            string
	rcodes          string
	// clientCPU is dnsperf's CPU time over the run's wall time (1.0 = one
	// core busy); serverUS the server's CPU time per answered query in
	// microseconds (0 when unknown).
	clientCPU, serverUS float64
}

// serverCPU reports a server's CPU time so far.
type serverCPU func() time.Duration

// selfCPU is the CPU time of this process (all threads, GC included): the
// in-process servers' cost, since nothing else runs during a dnsperf run.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time of another process, from /proc/PID/stat.
func procCPU(pid int) serverCPU {
	return func() time.Duration {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		s := string(b)
		// Fields after the command name (which may hold spaces):
		// utime and stime are fields 14 and 15, in clock ticks (100/s).
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			return 0
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
}

var (
	reQPS   = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reLat   = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	reLost  = regexp.MustCompile(`Queries lost:\s+(\d+ \([0-9.]+%\))`)
	reCodes = regexp.MustCompile(`Response codes:\s+(.*)`)
)

func runDNSPerf(tb testing.TB, bin, qfile string, port int, tcp bool, cpu serverCPU) perf {
	tb.Helper()
	secs := envInt("SEXTANT_DNSPERF_SECONDS", 10)
	clients := envInt("SEXTANT_DNSPERF_CLIENTS", 4)
	args := []string{"-s", "127.0.0.1", "-p", strconv.Itoa(port), "-d", qfile, "-l", strconv.Itoa(secs), "-c", strconv.Itoa(clients)}
	if tcp {
		args = append([]string{"-m", "tcp"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+60)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cpu0, start := cpu(), time.Now()
	out, err := cmd.CombinedOutput()
	wall, cpu1 := time.Since(start), cpu()
	if err != nil {
		tb.Fatalf("dnsperf %v: %v\n%s", args, err, out)
	}
	s := string(out)
	var p perf
	if m := reQPS.FindStringSubmatch(s); m != nil {
		p.qps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reLat.FindStringSubmatch(s); m != nil {
		p.avgLatency, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reLost.FindStringSubmatch(s); m != nil {
		p.lost = m[1]
	}
	if m := reCodes.FindStringSubmatch(s); m != nil {
		p.rcodes = m[1]
	}
	if p.qps == 0 {
		tb.Fatalf("no QPS in dnsperf output:\n%s", s)
	}
	if ps := cmd.ProcessState; ps != nil && wall > 0 {
		p.clientCPU = float64(ps.UserTime()+ps.SystemTime()) / float64(wall)
	}
	if d := cpu1 - cpu0; d > 0 {
		p.serverUS = float64(d.Microseconds()) / (p.qps * float64(secs))
	}
	return p
}

// cpuProfile starts a CPU profile into the file named by the environment
// variable env, if set, and returns the function that stops it.
func cpuProfile(tb testing.TB, env string) func() {
	path := os.Getenv(env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// startSextant serves rs with the Mesos-DNS resolver on a free port.
// SEXTANT_DNSPERF_UDP_SOCKETS sets dnsserver.Config.UDPSockets (default 0:
// the server's own choice).
func startSextant(tb testing.TB, rs *records.RecordSet) int {
	tb.Helper()
	r, err := resolver.New(resolver.Config{Domain: "mesos", TTL: 60, SOAMname: "ns1.mesos.", SOARname: "root.ns1.mesos.",
		SOARefresh: 60, SOARetry: 600, SOAExpire: 86400, SRVWeight: 1, RecurseOn: true, SetTruncateBit: true}, nil, prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	r.Update(rs, uint32(time.Now().Unix()))
	s, err := dnsserver.Listen(dnsserver.Config{Addr: "127.0.0.1:0", Handler: r, UDPSockets: envInt("SEXTANT_DNSPERF_UDP_SOCKETS", 0)})
	if err != nil {
		tb.Fatal(err)
	}
	serve(tb, s.Serve)
	return int(s.Addr().Port())
}

func serve(tb testing.TB, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = run(ctx)
		close(done)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
}

// startNaive is the peer every Go DNS server starts from: miekg/dns with a
// map of prepared RRs, a reply built per query, MaxTCPQueries -1.
func startNaive(tb testing.TB, rs *records.RecordSet) int {
	tb.Helper()
	type key struct {
		name string
		qt   uint16
	}
	data := map[key][]dns.RR{}
	add := func(m map[string][]string, qt uint16) {
		for name, vals := range m {
			for _, v := range vals {
				var rr dns.RR
				switch qt {
				case dns.TypeA, dns.TypeAAAA:
					ip := net.ParseIP(v)
					if ip == nil {
						continue
					}
					if qt == dns.TypeA {
						rr = &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: qt, Class: dns.ClassINET, Ttl: 60}, A: ip}
					} else {
						rr = &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: qt, Class: dns.ClassINET, Ttl: 60}, AAAA: ip}
					}
				case dns.TypeSRV:
					h, p, err := net.SplitHostPort(v)
					if err != nil {
						continue
					}
					port, _ := strconv.Atoi(p)
					rr = &dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: qt, Class: dns.ClassINET, Ttl: 60}, Weight: 1, Port: uint16(port), Target: h}
				}
				data[key{name, qt}] = append(data[key{name, qt}], rr)
			}
		}
	}
	add(rs.A, dns.TypeA)
	add(rs.AAAA, dns.TypeAAAA)
	add(rs.SRV, dns.TypeSRV)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if len(r.Question) == 1 {
			q := r.Question[0]
			m.Answer = data[key{strings.ToLower(q.Name), q.Qtype}]
			if m.Answer == nil {
				m.Rcode = dns.RcodeNameError
			}
		}
		size := 512
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			size = dns.MaxMsgSize
		}
		m.Truncate(size)
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	serve(tb, func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			_ = udp.Shutdown()
		}()
		return udp.ActivateAndServe()
	})
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// startUnbound runs unbound with the same records as local-data.
func startUnbound(tb testing.TB, rs *records.RecordSet, dir string) (int, serverCPU, bool) {
	tb.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		tb.Logf("unbound not installed: peer skipped (apt-get install unbound)")
		return 0, nil, false
	}
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  interface: 127.0.0.1@%d\n  port: %d\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: %q\n  pidfile: %q\n  use-syslog: no\n  logfile: \"\"\n  num-threads: 2\n  access-control: 127.0.0.0/8 allow\n  local-zone: \"mesos.\" static\n",
		port, port, dir, filepath.Join(dir, "unbound.pid"))
	for _, kind := range []struct {
		m  map[string][]string
		rt string
	}{{rs.A, "A"}, {rs.AAAA, "AAAA"}, {rs.SRV, "SRV"}} {
		for name, vals := range kind.m {
			if !plainName.MatchString(name) {
				continue
			}
			for _, v := range vals {
				switch kind.rt {
				case "SRV":
					h, p, err := net.SplitHostPort(v)
					if err != nil {
						continue
					}
					fmt.Fprintf(&b, "  local-data: \"%s 60 IN SRV 0 1 %s %s\"\n", name, p, h)
				default:
					if net.ParseIP(v) == nil {
						continue
					}
					fmt.Fprintf(&b, "  local-data: \"%s 60 IN %s %s\"\n", name, kind.rt, v)
				}
			}
		}
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	cfg := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
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
	c := &dns.Client{Timeout: time.Second}
	q := new(dns.Msg)
	q.SetQuestion("leader.mesos.", dns.TypeA)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, _, err := c.Exchange(q, fmt.Sprintf("127.0.0.1:%d", port)); err == nil && len(r.Answer) > 0 {
			return port, procCPU(cmd.Process.Pid), true
		}
		if time.Now().After(deadline) {
			tb.Fatalf("unbound did not answer")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func BenchmarkDNSPerf(b *testing.B) {
	bin := testutil.NeedTool(b, "dnsperf")
	rs := zone10k(b, 10000)
	dir := b.TempDir()
	qfile := filepath.Join(dir, "queries.txt")
	qs := queryMix(rs, 3000)
	if err := os.WriteFile(qfile, []byte(strings.Join(qs, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("state: 10,000 tasks; %d A, %d AAAA, %d SRV names; %d queries in the mix (60%% A, 10%% AAAA, 30%% SRV)", len(rs.A), len(rs.AAAA), len(rs.SRV), len(qs))
	// One measured pass whatever b.N is: each dnsperf run is the unit.
	b.ResetTimer()
	report := func(name string, p perf) {
		b.Logf("%-26s %8.0f qps  avg latency %.3f ms  lost %s  server %.2f cpu-us/query  dnsperf %.0f%% of a core  rcodes %s",
			name, p.qps, p.avgLatency*1000, p.lost, p.serverUS, 100*p.clientCPU, p.rcodes)
	}
	port := startSextant(b, rs)
	stop := cpuProfile(b, "SEXTANT_DNSPERF_PROFILE")
	sx := runDNSPerf(b, bin, qfile, port, false, selfCPU)
	stop()
	report("sextant udp", sx)
	sxTCP := runDNSPerf(b, bin, qfile, startSextant(b, rs), true, selfCPU)
	report("sextant tcp", sxTCP)
	naive := runDNSPerf(b, bin, qfile, startNaive(b, rs), false, selfCPU)
	report("naive miekg/dns udp", naive)
	b.ReportMetric(sx.qps, "sextant-udp-qps")
	b.ReportMetric(sxTCP.qps, "sextant-tcp-qps")
	b.ReportMetric(naive.qps, "naive-miekg-qps")
	b.ReportMetric(sx.serverUS, "sextant-udp-cpu-us/q")
	if port, cpu, ok := startUnbound(b, rs, dir); ok {
		ub := runDNSPerf(b, bin, qfile, port, false, cpu)
		report("unbound 2 threads udp", ub)
		b.ReportMetric(ub.qps, "unbound-qps")
		// Calibration: one fixed record, the figure TOOLS.md gives for
		// this machine kind, to scale this run's load against.
		one := filepath.Join(dir, "one.txt")
		if err := os.WriteFile(one, []byte("leader.mesos A\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		cal := runDNSPerf(b, bin, one, port, false, cpu)
		report("unbound single record", cal)
		b.ReportMetric(cal.qps, "unbound-1rec-qps")
	}
	b.ReportMetric(sx.avgLatency*1000, "sextant-udp-ms")
}
