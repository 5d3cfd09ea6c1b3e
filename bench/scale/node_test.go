package scale_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/app"
	"github.com/sextantdc/sextant/internal/directory/label"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/testutil"
)

// BenchmarkScaleNode measures the node DNS role at the size of a large
// cluster: `sextant master` reads the generated state from the loopback
// master (poll and event stream), builds the task zones and the VIP table
// and publishes them by gossip; `sextant agent` joins it and serves what
// it receives. Reported: from the master's start to the agent's first
// correct answer (the state's last serving task under
// containerip.dcos.thisdcos.directory), both processes' resident memory
// once idle, and one changed task (a new one) to the agent's answer.
//
//	SEXTANT_BIN=$PWD/bin/sextant SCALE_TASKS=100000 \
//	  go test -run '^$' -bench ScaleNode -benchtime 1x -timeout 30m ./bench/scale/
//
// The agent's memory is issue 14's last target (under 150 MiB at 100,000
// tasks).
func BenchmarkScaleNode(b *testing.B) {
	bin := os.Getenv("SEXTANT_BIN")
	if bin == "" {
		b.Skip("SEXTANT_BIN is not set: build the binary (make build) and set SEXTANT_BIN=$PWD/bin/sextant")
	}
	operator := envInt("SCALE_OPERATOR", 1) != 0
	for _, size := range envList("SCALE_TASKS", "10000,100000") {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			b.Fatalf("SCALE_TASKS: %q is not a task count", size)
		}
		b.Run(size, func(b *testing.B) { nodeOne(b, bin, n, operator) })
	}
}

// node is a master or agent process and the addresses it reported.
type node struct {
	*testutil.Process
	dns, gossip string
}

func startNode(b *testing.B, bin, name string, args ...string) *node {
	b.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := testutil.StartProcess(b, cmd)
	ready := testutil.ReadyLines(b, name, out, 2*time.Minute, p.Log.String)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &node{Process: p, dns: strings.Split(ready["dns"], ",")[0], gossip: ready["gossip"]}
}

// containerIPName is the node DNS name of a task's container IP.
func containerIPName(task, framework string) string {
	return label.Label(task) + "." + label.Label(framework) + ".containerip.dcos.thisdcos.directory."
}

// lastServing is the state's last running task that is healthy or not
// health-checked (the node DNS role serves only those) with a container IP
// name.
func lastServing(st *state.State) target {
	for fi := len(st.Frameworks) - 1; fi >= 0; fi-- {
		f := &st.Frameworks[fi]
		for ti := len(f.Tasks) - 1; ti >= 0; ti-- {
			t := &f.Tasks[ti]
			if t.State != "TASK_RUNNING" {
				continue
			}
			for _, s := range t.Statuses {
				if s.State != "TASK_RUNNING" || s.ContainerStatus == nil || (s.Healthy != nil && !*s.Healthy) {
					continue
				}
				for _, ni := range s.ContainerStatus.NetworkInfos {
					for _, a := range ni.IPAddresses {
						if ip, err := netip.ParseAddr(a.IPAddress); err == nil {
							name := t.Name
							if t.Discovery != nil && t.Discovery.Name != "" {
								name = t.Discovery.Name
							}
							return target{name: containerIPName(name, f.Name), ip: ip}
						}
					}
				}
			}
		}
	}
	return target{}
}

func nodeOne(b *testing.B, bin string, n int, operator bool) {
	srv := newStateServer(b, operator)
	sh := statesynth.DefaultShape(n, 1)
	sh.Leader = srv.leader()
	st := statesynth.Generate(sh)
	body := render(b, st)
	srv.set(st, body)
	srv.warm(b)
	srv.forget()
	last := lastServing(st)
	load := uptime()

	common := func(name, ip string) []string {
		return []string{"--dns-listen", ip + ":0", "--api-addr", ip + ":0", "--gossip-bind", ip + ":0", "--node-ip", ip,
			"--node-name", name, "--cluster-label", "scale", "--log-level", "warn"}
	}
	start := time.Now()
	m := startNode(b, bin, "master", append(append([]string{"master"}, common("m1", "127.0.0.2")...),
		"--mesos", srv.hostPort(), "--mesos-refresh", "30s", "--masters", "127.0.0.2")...)
	a := startNode(b, bin, "agent", append(append([]string{"agent"}, common("a1", "127.0.0.3")...), "--join", m.gossip)...)
	at := waitAnswer(b, a.Process, a.dns, last, 20*time.Millisecond, 10*time.Minute)
	first := at.Sub(start)
	mpid, apid := m.Cmd.Process.Pid, a.Cmd.Process.Pid
	if operator {
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, ok := srv.firstAPIWriteAfter(start); ok {
				break
			}
		}
	}
	waitIdle(mpid, 3*time.Minute)
	waitIdle(apid, time.Minute)
	mrss, mhwm := procStatus(mpid)
	arss, ahwm := procStatus(apid)

	st2, pr := statesynth.WithProbe(st, 1)
	body2 := render(b, st2)
	changed := srv.set(st2, body2)
	probe := target{name: containerIPName(pr.Name, st2.Frameworks[0].Name), ip: pr.IP}
	at = waitAnswer(b, a.Process, a.dns, probe, 2*time.Millisecond, 5*time.Minute)
	change := at.Sub(changed)
	via := "poll"
	if ev, ok := srv.firstAPIWriteAfter(changed); ok && ev.Before(at) {
		via = "event"
	}
	waitIdle(apid, time.Minute)
	arss2, ahwm2 := procStatus(apid)
	b.Logf("%d tasks (%.1f MB), operator API %v, load %s: agent first answer %.2fs after the master's start; "+
		"master rss %.0f MiB (hwm %.0f); agent rss %.0f MiB (hwm %.0f); one change on the agent %.0f ms (%s); agent rss after %.0f MiB (hwm %.0f)",
		n, float64(len(body))/1e6, operator, load, first.Seconds(), mib(mrss), mib(mhwm), mib(arss), mib(ahwm),
		float64(change.Microseconds())/1000, via, mib(arss2), mib(ahwm2))
	b.ReportMetric(first.Seconds(), "agent-first-s")
	b.ReportMetric(mib(arss), "agent-rss-MiB")
	b.ReportMetric(mib(ahwm), "agent-hwm-MiB")
	b.ReportMetric(mib(mrss), "master-rss-MiB")
	b.ReportMetric(float64(change.Microseconds())/1000, "agent-change-ms")
	if os.Getenv("SCALE_LOG") != "" {
		b.Logf("master log:\n%s\nagent log:\n%s", tail(m.Log.String(), 4000), tail(a.Log.String(), 4000))
	}
}

// BenchmarkScaleNodeProfile is BenchmarkScaleNode with the agent in this
// process (app.Agent, the binary's wiring) and the state served by a helper
// process, so the agent's heap can be profiled alone:
//
//	SEXTANT_BIN=$PWD/bin/sextant SCALE_PROFILE_DIR=/tmp/prof SCALE_TASKS=100000 \
//	  go test -run '^$' -bench ScaleNodeProfile -benchtime 1x -timeout 30m ./bench/scale/
//
// writes agent-heap-N.pprof (in use once idle, after a GC) and
// agent-change-N.pprof (the agent's CPU from one change to its answer).
func BenchmarkScaleNodeProfile(b *testing.B) {
	bin := os.Getenv("SEXTANT_BIN")
	if bin == "" {
		b.Skip("SEXTANT_BIN is not set: build the binary (make build) and set SEXTANT_BIN=$PWD/bin/sextant")
	}
	dir := os.Getenv("SCALE_PROFILE_DIR")
	for _, size := range envList("SCALE_TASKS", "100000") {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			b.Fatalf("SCALE_TASKS: %q is not a task count", size)
		}
		b.Run(size, func(b *testing.B) {
			rm := startRemoteMaster(b, n, envInt("SCALE_OPERATOR", 1) != 0)
			m := startNode(b, bin, "master", "master", "--dns-listen", "127.0.0.2:0", "--api-addr", "127.0.0.2:0",
				"--gossip-bind", "127.0.0.2:0", "--node-ip", "127.0.0.2", "--node-name", "m1", "--cluster-label", "scale",
				"--log-level", "warn", "--mesos", rm.addr, "--mesos-refresh", "30s", "--masters", "127.0.0.2")
			readyc := make(chan app.Ready, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			logw := &testutil.LogBuffer{}
			start := time.Now()
			go func() {
				done <- app.Agent(ctx, app.NodeDNSConfig{Listen: []string{"127.0.0.3:0"}, APIAddr: "127.0.0.3:0",
					GossipBind: "127.0.0.3:0", NodeIP: "127.0.0.3", NodeName: "a1", ClusterLabel: "scale", Join: []string{m.gossip}},
					slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})), func(r app.Ready) { readyc <- r })
			}()
			defer func() {
				cancel()
				<-done
			}()
			var r app.Ready
			select {
			case r = <-readyc:
			case err := <-done:
				b.Fatalf("agent: %v\n%s", err, logw)
			}
			// The helper names the last task by its Mesos-DNS name; the
			// node DNS name is the same task's.
			last := rm.lastServing(b)
			c := &dns.Client{Timeout: 250 * time.Millisecond}
			for !answers(c, r.DNS[0], last) {
				if time.Since(start) > 10*time.Minute {
					b.Fatalf("agent never answered %s:\n%s", last.name, logw)
				}
				time.Sleep(20 * time.Millisecond)
			}
			first := time.Since(start)
			waitIdle(m.Cmd.Process.Pid, 3*time.Minute)
			selfIdle(time.Minute)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if dir != "" {
				f, err := os.Create(filepath.Join(dir, "agent-heap-"+size+".pprof"))
				if err != nil {
					b.Fatal(err)
				}
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
			stop := profile(b, dir, "agent-change", n)
			cpu0 := selfCPU()
			probe, changed := rm.probeNode(b, 1)
			for !answers(c, r.DNS[0], probe) {
				if time.Since(changed) > 5*time.Minute {
					b.Fatalf("agent never answered %s:\n%s", probe.name, logw)
				}
				time.Sleep(2 * time.Millisecond)
			}
			change, changeCPU := time.Since(changed), selfCPU()-cpu0
			stop()
			b.Logf("%d tasks, load %s: agent first answer %.2fs after the agent's start; agent heap in use %.0f MiB (sys %.0f MiB); "+
				"one change %.0f ms (agent cpu %.0f ms)", n, uptime(), first.Seconds(), float64(ms.HeapInuse)/(1<<20),
				float64(ms.Sys)/(1<<20), float64(change.Microseconds())/1000, float64(changeCPU.Microseconds())/1000)
		})
	}
}
