// Package dcosdns_test benchmarks the node DNS role (dcos-dns) end to end
// with real processes: dnsperf against a local thisdcos.directory name, a
// cached forwarded name and a .mesos name forwarded to Sextant's own
// Mesos-DNS (which is also measured directly as the peer), and the
// convergence time of a zone change across a three-node gossip cluster.
//
// Run (see docs/benchmarks/dcosdns.md):
//
//	make build
//	SEXTANT_BIN=$PWD/bin/sextant go test -run '^$' -bench . -benchtime 1x -timeout 20m ./bench/dcosdns/
package dcosdns_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

// fakeMesos serves /master/state with n running tasks "app0…".
type fakeMesos struct {
	*testutil.StateServer
}

func newFakeMesos(b *testing.B) *fakeMesos {
	f := &fakeMesos{testutil.NewStateServer(b)}
	f.setTasks(b, 1)
	return f
}

// setTasks publishes a state with n running tasks app0 … app<n-1>.
func (f *fakeMesos) setTasks(b *testing.B, n int) {
	yes := true
	st := &state.State{
		Leader: f.Leader(),
		Slaves: []state.Slave{{ID: "S1", PID: "slave(1)@10.0.0.7:5051", Hostname: "10.0.0.7", Active: &yes}},
	}
	fw := state.Framework{ID: "F1", Name: "marathon", PID: "scheduler-1@10.0.0.1:8080", Hostname: "10.0.0.1", Active: &yes}
	for i := range n {
		fw.Tasks = append(fw.Tasks, state.Task{
			ID: fmt.Sprintf("app%d.%d", i, i), Name: fmt.Sprintf("app%d", i), FrameworkID: "F1", SlaveID: "S1", State: "TASK_RUNNING",
			Resources: state.Resources{Ports: "[31000-31000]"},
			Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 1, ContainerStatus: &state.ContainerStatus{
				NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: taskIP(i)}}}},
			}}},
		})
	}
	st.Frameworks = []state.Framework{fw}
	body, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	f.Set(body)
}

func taskIP(i int) string { return fmt.Sprintf("9.%d.%d.%d", i/65536%256, i/256%256, i%256) }

// proc is a sextant process and the addresses its ready lines named.
type proc struct {
	*testutil.Process
	name             string
	dns, api, gossip string
}

// start runs sextant with args; when wantReady it waits for the role's
// ready lines (agent/master print them).
func start(b *testing.B, bin, name string, wantReady bool, args ...string) *proc {
	b.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := &proc{Process: testutil.StartProcess(b, cmd), name: name}
	if !wantReady {
		go func() { _, _ = io.Copy(io.Discard, out) }()
		return p
	}
	ready := testutil.ReadyLines(b, name, out, 60*time.Second, p.log)
	p.dns = strings.Split(ready["dns"], ",")[0]
	p.api = ready["api"]
	p.gossip = ready["gossip"]
	return p
}

func (p *proc) log() string { return p.Log.String() }

// upstream is an in-process resolver for the "cached forwarded name"
// case: it answers every A query with 93.184.216.34, TTL 3600.
func upstream(b *testing.B) (string, *atomic.Int64) {
	var calls atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		calls.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: net.IPv4(93, 184, 216, 34)}}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &dns.Server{PacketConn: pc, Handler: h}
	go func() { _ = s.ActivateAndServe() }()
	b.Cleanup(func() { _ = s.Shutdown() })
	return pc.LocalAddr().String(), &calls
}

var (
	qpsRe  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	latRe  = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	lostRe = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	okRe   = regexp.MustCompile(`NOERROR (\d+)`)
)

// dnsperf runs dnsperf once against addr with one query line and returns
// QPS, average latency (s), lost queries and NOERROR count.
func dnsperf(b *testing.B, bin, addr, query string) (qps, lat float64, lost, ok int) {
	b.Helper()
	secs := 10
	if s := os.Getenv("DNSPERF_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	host, port, _ := net.SplitHostPort(addr)
	qf := filepath.Join(b.TempDir(), "q.txt")
	if err := os.WriteFile(qf, []byte(query+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command(bin, "-s", host, "-p", port, "-d", qf, "-l", strconv.Itoa(secs), "-c", "4").CombinedOutput()
	if err != nil {
		b.Fatalf("dnsperf: %v\n%s", err, out)
	}
	m := qpsRe.FindSubmatch(out)
	if m == nil {
		b.Fatalf("dnsperf output:\n%s", out)
	}
	qps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latRe.FindSubmatch(out); m != nil {
		lat, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := lostRe.FindSubmatch(out); m != nil {
		lost, _ = strconv.Atoi(string(m[1]))
	}
	if m := okRe.FindSubmatch(out); m != nil {
		ok, _ = strconv.Atoi(string(m[1]))
	}
	return qps, lat, lost, ok
}

// BenchmarkDNSPerf measures QPS with dnsperf (4 clients, UDP, 10 s each;
// DNSPERF_SECONDS overrides) of: Sextant's Mesos-DNS answering directly
// (the peer), and the dcos-dns role answering a local
// thisdcos.directory name, a cached forwarded name and a .mesos name
// forwarded to that Mesos-DNS.
func BenchmarkDNSPerf(b *testing.B) {
	perf := testutil.NeedTool(b, "dnsperf")
	bin := testutil.Binary(b)
	mesos := newFakeMesos(b)
	up, upCalls := upstream(b)
	dir := b.TempDir()

	// Sextant's Mesos-DNS (the .mesos upstream and the peer figure).
	mport := testutil.FreePort(b)
	mcfg := fmt.Sprintf(`{"masters": [%q], "refreshSeconds": 1, "port": %d, "listener": "127.0.0.1", "httpon": false,
 "externalon": false, "domain": "mesos", "IPSources": ["netinfo", "mesos", "host"]}`, mesos.HostPort(), mport)
	if err := os.WriteFile(filepath.Join(dir, "mesos-dns.json"), []byte(mcfg), 0o644); err != nil {
		b.Fatal(err)
	}
	mdns := start(b, bin, "mesos-dns", false, "mesos-dns", "-config", filepath.Join(dir, "mesos-dns.json"))
	maddr := "127.0.0.1:" + strconv.Itoa(mport)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(30 * time.Second)
	for !testutil.AnswersA(c, maddr, "app0.marathon.mesos", taskIP(0)) {
		if time.Now().After(deadline) {
			b.Fatalf("mesos-dns does not answer:\n%s", mdns.log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The dcos-dns role, standalone master (builds and serves its own
	// zones), forwarding .mesos to the Mesos-DNS above and the rest to
	// the in-process upstream.
	dcfg := fmt.Sprintf(`{"upstream_resolvers": [%q]}`, up)
	if err := os.WriteFile(filepath.Join(dir, "dcos-dns.json"), []byte(dcfg), 0o644); err != nil {
		b.Fatal(err)
	}
	node := start(b, bin, "master", true, "master", "--dns-listen", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
		"--config", filepath.Join(dir, "dcos-dns.json"), "--mesos", mesos.HostPort(), "--mesos-refresh", "1s", "--no-stream",
		"--mesos-dns", maddr, "--log-level", "warn")
	local := "app0.marathon.containerip.dcos.thisdcos.directory"
	deadline = time.Now().Add(30 * time.Second)
	for !testutil.AnswersA(c, node.dns, local, taskIP(0)) {
		if time.Now().After(deadline) {
			b.Fatalf("dcos-dns does not answer %s:\n%s", local, node.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !testutil.AnswersA(c, node.dns, "app0.marathon.mesos", taskIP(0)) || !testutil.AnswersA(c, node.dns, "www.example.org", "93.184.216.34") {
		b.Fatalf("forwarding does not work:\n%s", node.log())
	}

	cases := []struct{ name, addr, query string }{
		{"peer-mesos-dns-direct", maddr, "app0.marathon.mesos A"},
		{"local-thisdcos-directory", node.dns, local + " A"},
		{"cached-forwarded", node.dns, "www.example.org A"},
		{"mesos-forwarded", node.dns, "app0.marathon.mesos A"},
		// The peer comparison again in the other order: on a shared
		// machine the load changes between runs.
		{"local-thisdcos-directory-again", node.dns, local + " A"},
		{"peer-mesos-dns-direct-again", maddr, "app0.marathon.mesos A"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			before := upCalls.Load()
			qps, lat, lost, ok := dnsperf(b, perf, tc.addr, tc.query)
			b.ReportMetric(qps, "qps")
			b.ReportMetric(lat*1e6, "avg-µs")
			b.ReportMetric(float64(lost), "lost")
			b.ReportMetric(float64(ok), "noerror")
			if tc.name == "cached-forwarded" {
				b.ReportMetric(float64(upCalls.Load()-before), "upstream-queries")
			}
		})
	}
}

// BenchmarkConvergence measures how long a zone change takes to be
// answered by every node of a three-process cluster (masters m1, m2 and
// agent a1 on 127.0.0.2–4, encrypted gossip with the LAN timers): the
// Mesos state gains a task, the leader's poll (every 50 ms) picks it up,
// builds and publishes the zone, and the test polls all three nodes until
// each answers the new name. Reported: p50/p99 of that end-to-end time,
// and of the spread (from the first node answering to the last) which
// is the gossip part. At least 50 changes (b.N when larger).
func BenchmarkConvergence(b *testing.B) {
	bin := testutil.Binary(b)
	mesos := newFakeMesos(b)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kf := filepath.Join(b.TempDir(), "key")
	if err := os.WriteFile(kf, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		b.Fatal(err)
	}
	common := func(name, ip string) []string {
		return []string{"--dns-listen", ip + ":0", "--api-addr", ip + ":0", "--gossip-bind", ip + ":0", "--node-ip", ip,
			"--node-name", name, "--gossip-key-file", kf, "--cluster-label", "bench", "--log-level", "warn"}
	}
	masterArgs := []string{"--mesos", mesos.HostPort(), "--mesos-refresh", "50ms", "--no-stream", "--zone-push-interval", "1ms",
		"--masters", "127.0.0.2,127.0.0.3"}
	m1 := start(b, bin, "m1", true, append(append([]string{"master"}, common("m1", "127.0.0.2")...), masterArgs...)...)
	m2 := start(b, bin, "m2", true, append(append(append([]string{"master"}, common("m2", "127.0.0.3")...), masterArgs...), "--join", m1.gossip)...)
	a1 := start(b, bin, "a1", true, append(append([]string{"agent"}, common("a1", "127.0.0.4")...), "--join", m1.gossip)...)
	nodes := []*proc{m1, m2, a1}
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	name := func(i int) string { return fmt.Sprintf("app%d.marathon.containerip.dcos.thisdcos.directory", i) }
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range nodes {
		for !testutil.AnswersA(c, p.dns, name(0), taskIP(0)) {
			if time.Now().After(deadline) {
				b.Fatalf("%s never answered:\n%s", p.name, p.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	n := max(b.N, 50)
	var total, spread []time.Duration
	b.ResetTimer()
	for i := 1; i <= n; i++ {
		start := time.Now()
		mesos.setTasks(b, i+1)
		seen := make([]time.Duration, len(nodes))
		for k, p := range nodes {
			for !testutil.AnswersA(c, p.dns, name(i), taskIP(i)) {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("change %d not answered by %s", i, p.name)
				}
				time.Sleep(time.Millisecond)
			}
			seen[k] = time.Since(start)
		}
		// Nodes are polled in turn, so seen[k] is an upper bound for node k.
		total = append(total, slices.Max(seen))
		spread = append(spread, slices.Max(seen)-slices.Min(seen))
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(n), "changes")
	b.ReportMetric(pct(total, 0.5), "p50-ms")
	b.ReportMetric(pct(total, 0.99), "p99-ms")
	b.ReportMetric(pct(spread, 0.5), "spread-p50-ms")
	b.ReportMetric(pct(spread, 0.99), "spread-p99-ms")
}
