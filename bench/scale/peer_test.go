package scale_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/testutil"
)

// peer is a Mesos-DNS implementation under test: a binary started with a
// config.json.
type peer struct {
	name string
	bin  string
	args func(config string) []string
	// streams is true for a peer that follows the operator API's stream.
	streams bool
}

// result is one run of one peer on one state.
type result struct {
	peer  string
	tasks int
	// first is from the process start to the first correct answer;
	// firstCPU the process's CPU time by then.
	first, firstCPU time.Duration
	// settled is from the start until the process went idle after the
	// load (its CPU time flat for a second); rss and hwm are VmRSS and
	// VmHWM then.
	settled  time.Duration
	rss, hwm int64 // bytes
	qps      float64
	lost     string
	rcodes   string
	cpuPerQ  float64 // server CPU per answered query, µs
	// change is from the switch to a state with one more task to the
	// first answer naming it; changeWork the part after the peer started
	// the fetch that brought it (polling) or after the master wrote the
	// event (stream).
	change, changeWork time.Duration
	changeVia          string
	hwmAfter           int64
}

// configJSON is the config.json both peers read: the same keys mean the same
// in both.
func configJSON(master string, port, refresh int) string {
	return fmt.Sprintf(`{"masters": [%q], "refreshSeconds": %d, "stateTimeoutSeconds": 600, "port": %d, "listener": "127.0.0.1",
 "httpon": false, "externalon": false, "domain": "mesos", "IPSources": ["netinfo", "mesos", "host"], "ttl": 60}`, master, refresh, port)
}

// target is a name the benchmark waits for and the address it must hold.
type target struct {
	name string
	ip   netip.Addr
}

// lastTask is the A name of the state's last running task (Mesos-DNS
// naming, netinfo first) and its address: a server answering it has
// loaded the whole state.
func lastTask(st *state.State) target {
	for fi := len(st.Frameworks) - 1; fi >= 0; fi-- {
		f := &st.Frameworks[fi]
		for ti := len(f.Tasks) - 1; ti >= 0; ti-- {
			t := &f.Tasks[ti]
			if t.State != "TASK_RUNNING" {
				continue
			}
			for _, s := range t.Statuses {
				if s.State != "TASK_RUNNING" || s.ContainerStatus == nil {
					continue
				}
				for _, ni := range s.ContainerStatus.NetworkInfos {
					for _, a := range ni.IPAddresses {
						if ip, err := netip.ParseAddr(a.IPAddress); err == nil {
							return target{name: taskName(t.Name, f.Name), ip: ip}
						}
					}
				}
			}
		}
	}
	return target{}
}

// taskName is Mesos-DNS' A name of a task without DiscoveryInfo, or the
// sanitised DiscoveryInfo name of one with it: the same label.
func taskName(task, framework string) string {
	return labels.RFC1123(task) + "." + labels.DomainFrag(framework, false) + ".mesos."
}

// queries writes n query lines over the state's names, spread evenly over
// the running tasks: 60 % the task's A name, 10 % its A name under
// .slave, 30 % an SRV name of its DiscoveryInfo ports (by port name, or
// by protocol alone).
func queries(tb testing.TB, st *state.State, n int, dir string) string {
	tb.Helper()
	type tn struct{ a, slave, srvName, srvProto string }
	var names []tn
	for _, f := range st.Frameworks {
		fw := labels.DomainFrag(f.Name, false)
		for _, t := range f.Tasks {
			if t.State != "TASK_RUNNING" {
				continue
			}
			label := labels.RFC1123(t.Name)
			if t.Discovery != nil && t.Discovery.Name != "" {
				label = labels.RFC1123(t.Discovery.Name)
			}
			x := tn{a: label + "." + fw + ".mesos", slave: label + "." + fw + ".slave.mesos"}
			if t.Discovery != nil && t.Discovery.Ports != nil && len(t.Discovery.Ports.Ports) > 0 {
				p := t.Discovery.Ports.Ports[0]
				proto := labels.RFC1123(p.Protocol)
				x.srvProto = "_" + label + "._" + proto + "." + fw + ".mesos"
				if pn := labels.RFC1123(p.Name); pn != "" {
					x.srvName = "_" + pn + "._" + label + "._" + proto + "." + fw + ".mesos"
				}
			}
			names = append(names, x)
		}
	}
	var b strings.Builder
	for i := range n {
		// A stride prime to the list's length visits every task before
		// repeating one.
		x := names[(i*7919)%len(names)]
		switch k := i % 10; {
		case k < 6:
			b.WriteString(x.a + " A\n")
		case k < 7:
			b.WriteString(x.slave + " A\n")
		case k < 8 && x.srvProto != "":
			b.WriteString(x.srvProto + " SRV\n")
		case x.srvName != "":
			b.WriteString(x.srvName + " SRV\n")
		default:
			b.WriteString(x.a + " A\n")
		}
	}
	path := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// answers reports whether the server at addr answers name with ip.
func answers(c *dns.Client, addr string, t target) bool {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(t.name), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil || r == nil {
		return false
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A); ok && ip.Unmap() == t.ip {
				return true
			}
		}
	}
	return false
}

// waitAnswer polls addr every step until it answers t, the process exits
// or the timeout passes.
func waitAnswer(tb testing.TB, p *testutil.Process, addr string, t target, step, timeout time.Duration) time.Time {
	tb.Helper()
	c := &dns.Client{Timeout: 250 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for {
		if answers(c, addr, t) {
			return time.Now()
		}
		if exited, err := p.Exited(); exited {
			tb.Fatalf("%s exited (%v) before answering %s:\n%s", p.Cmd.Path, err, t.name, tail(p.Log.String(), 4000))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer %s with %v within %v:\n%s", p.Cmd.Path, t.name, t.ip, timeout, tail(p.Log.String(), 4000))
		}
		time.Sleep(step)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// procStatus reads VmRSS and VmHWM of pid, in bytes.
func procStatus(pid int) (rss, hwm int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// procCPU is the CPU time (user + system) of pid so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// waitIdle waits until pid has used under 20 ms of CPU in a second, at
// most timeout.
func waitIdle(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	prev := procCPU(pid)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur := procCPU(pid)
		if cur-prev < 20*time.Millisecond {
			return
		}
		prev = cur
	}
}

var (
	reQPS   = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reLost  = regexp.MustCompile(`Queries lost:\s+(\d+ \([0-9.]+%\))`)
	reCodes = regexp.MustCompile(`Response codes:\s+(.*)`)
)

// dnsperf runs dnsperf against addr over the query file and fills the
// QPS fields of r.
func dnsperf(tb testing.TB, bin, addr, qfile string, secs int, pid int, r *result) {
	tb.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+60)*time.Second)
	defer cancel()
	cpu0 := procCPU(pid)
	out, err := exec.CommandContext(ctx, bin, "-s", host, "-p", port, "-d", qfile, "-l", strconv.Itoa(secs), "-c", "4").CombinedOutput()
	cpu := procCPU(pid) - cpu0
	if err != nil {
		tb.Fatalf("dnsperf: %v\n%s", err, out)
	}
	if m := reQPS.FindSubmatch(out); m != nil {
		r.qps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := reLost.FindSubmatch(out); m != nil {
		r.lost = string(m[1])
	}
	if m := reCodes.FindSubmatch(out); m != nil {
		r.rcodes = strings.TrimSpace(string(m[1]))
	}
	if r.qps == 0 {
		tb.Fatalf("no QPS in dnsperf output:\n%s", out)
	}
	r.cpuPerQ = float64(cpu.Microseconds()) / (r.qps * float64(secs))
}

// run is one peer on one state, from process start to stop.
type run struct {
	tb      testing.TB
	srv     *stateServer
	st      *state.State
	body    []byte
	qfile   string
	refresh int
	secs    int
	dnsperf string
	probe   int // the number of the probe task to add
}

func (rn *run) peer(p peer) result {
	tb := rn.tb
	tb.Helper()
	dir := tb.TempDir()
	port := testutil.FreePort(tb)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(configJSON(rn.srv.hostPort(), port, rn.refresh)), 0o644); err != nil {
		tb.Fatal(err)
	}
	rn.srv.set(rn.st, rn.body)
	rn.srv.warm(tb)
	rn.srv.forget()
	last := lastTask(rn.st)
	r := result{peer: p.name}
	for _, f := range rn.st.Frameworks {
		r.tasks += len(f.Tasks)
	}

	cmd := exec.Command(p.bin, p.args(cfg)...)
	cmd.Dir = dir
	start := time.Now()
	proc := testutil.StartProcess(tb, cmd)
	pid := cmd.Process.Pid
	at := waitAnswer(tb, proc, addr, last, 10*time.Millisecond, 15*time.Minute)
	r.first, r.firstCPU = at.Sub(start), procCPU(pid)
	if p.streams && rn.srv.operator {
		// Settled includes the event stream: sextant subscribes a while
		// after its first poll.
		deadline := time.Now().Add(3 * time.Minute)
		for _, ok := rn.srv.firstAPIWriteAfter(start); !ok && time.Now().Before(deadline); _, ok = rn.srv.firstAPIWriteAfter(start) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitIdle(pid, 3*time.Minute)
	r.settled = time.Since(start)
	r.rss, r.hwm = procStatus(pid)

	if rn.dnsperf != "" {
		dnsperf(tb, rn.dnsperf, addr, rn.qfile, rn.secs, pid, &r)
	}

	// One change: a new task. Rendering the new state is the master's
	// work, done before the clock starts.
	st2, pr := statesynth.WithProbe(rn.st, rn.probe)
	body2 := render(tb, st2)
	changed := rn.srv.set(st2, body2)
	at = waitAnswer(tb, proc, addr, target{name: taskName(pr.Name, st2.Frameworks[0].Name), ip: pr.IP}, 2*time.Millisecond,
		time.Duration(2*rn.refresh)*time.Second+10*time.Minute)
	r.change = at.Sub(changed)
	ev, okEv := rn.srv.firstAPIWriteAfter(changed)
	get, okGet := rn.srv.firstGetAfter(changed)
	switch {
	case okEv && (!okGet || ev.Before(get)) && ev.Before(at):
		r.changeVia, r.changeWork = "event", at.Sub(ev)
	case okGet && get.Before(at):
		r.changeVia, r.changeWork = "poll", at.Sub(get)
	}
	_, r.hwmAfter = procStatus(pid)
	if os.Getenv("SCALE_LOG") != "" {
		tb.Logf("%s log:\n%s", p.name, tail(proc.Log.String(), 6000))
	}
	if _, stopped := proc.Stop(time.Minute); !stopped {
		tb.Errorf("%s did not stop within a minute of SIGTERM", p.name)
	}
	return r
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (r result) String() string {
	return fmt.Sprintf("%-9s %7d tasks: first answer %6.2fs (cpu %6.2fs)  settled %6.1fs  rss %6.0f MiB  hwm %6.0f MiB  "+
		"qps %8.0f (%s lost; %s; %.1f µs/q)  change %8.1fms (%s, %.1fms after it)  hwm after %6.0f MiB",
		r.peer, r.tasks, r.first.Seconds(), r.firstCPU.Seconds(), r.settled.Seconds(), mib(r.rss), mib(r.hwm),
		r.qps, r.lost, r.rcodes, r.cpuPerQ, float64(r.change.Microseconds())/1000, r.changeVia,
		float64(r.changeWork.Microseconds())/1000, mib(r.hwmAfter))
}
