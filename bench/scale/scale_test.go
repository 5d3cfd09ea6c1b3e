// Package scale_test measures the whole Mesos-DNS path at the size of a
// large DC/OS cluster (issue 14), end to end with real processes, beside
// the original Mesos-DNS in the same run: a generated state
// (internal/mesos/state/statesynth: one agent per 25 tasks, 8 frameworks,
// 1–3 named ports per task, a fifth with container IPs) served on
// loopback, `sextant mesos-dns` and mesos-dns started one at a time,
// alternating, each measured for
//
//   - start → first correct answer (a real DNS query for the state's last
//     running task, polled every 10 ms) and the CPU time used by then;
//   - resident memory (VmRSS, VmHWM) once the process is idle after the
//     load;
//   - QPS with dnsperf over 20,000 of the state's names (60 % A, 10 % A
//     under .slave, 30 % SRV);
//   - one changed task (a new one) to the first answer naming it, and the
//     part of that after the fetch (polling) or the event (stream).
//
// Run (see docs/benchmarks/scale.md):
//
//	make build
//	SEXTANT_BIN=$PWD/bin/sextant MESOS_DNS_BIN=/tmp/bin/mesos-dns \
//	  go test -run '^$' -bench Scale -benchtime 1x -timeout 90m ./bench/scale/
//
// Environment: SCALE_TASKS (comma list, default "10000,100000"),
// SCALE_ROUNDS (default 1; each round runs every peer once, the order
// alternating between rounds), SCALE_PEERS (default "sextant,mesos-dns";
// "sextant-base" runs the binary SEXTANT_BASE_BIN, an earlier build, for
// before/after figures from the same run),
// SCALE_REFRESH (refreshSeconds, default 30), SCALE_OPERATOR (default 1:
// the master also serves the v1 operator API, as a DC/OS master does; 0:
// /master/state only, as in the first measurement),
// SCALE_DNSPERF_SECONDS (default 10), SCALE_NAMES (default 20000).
// MESOS_DNS_BIN is mesos-dns built from its snapshot (TOOLS.md); without
// it the benchmark skips unless SCALE_PEERS leaves mesos-dns out.
package scale_test

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// peers returns the peers to run, or skips with the reason one is missing.
func peers(b *testing.B) []peer {
	b.Helper()
	var ps []peer
	for _, name := range envList("SCALE_PEERS", "sextant,mesos-dns") {
		switch name {
		case "sextant":
			bin := os.Getenv("SEXTANT_BIN")
			if bin == "" {
				b.Skip("SEXTANT_BIN is not set: build the binary (make build) and set SEXTANT_BIN=$PWD/bin/sextant")
			}
			if _, err := os.Stat(bin); err != nil {
				b.Skipf("SEXTANT_BIN: %v", err)
			}
			ps = append(ps, peer{name: "sextant", bin: bin, streams: true, args: func(c string) []string { return []string{"mesos-dns", "-config", c} }})
		case "sextant-base":
			// An earlier build of sextant, for before/after figures from
			// the same run.
			bin := os.Getenv("SEXTANT_BASE_BIN")
			if bin == "" {
				b.Skip("SEXTANT_BASE_BIN is not set (SCALE_PEERS names sextant-base)")
			}
			if _, err := os.Stat(bin); err != nil {
				b.Skipf("SEXTANT_BASE_BIN: %v", err)
			}
			ps = append(ps, peer{name: "sextant-base", bin: bin, streams: true, args: func(c string) []string { return []string{"mesos-dns", "-config", c} }})
		case "mesos-dns":
			bin := os.Getenv("MESOS_DNS_BIN")
			if bin == "" {
				b.Skip("MESOS_DNS_BIN is not set: build mesos-dns from its snapshot (../shared/TOOLS.md, GOPATH mode) " +
					"and set MESOS_DNS_BIN, or leave it out with SCALE_PEERS=sextant")
			}
			if _, err := os.Stat(bin); err != nil {
				b.Skipf("MESOS_DNS_BIN: %v", err)
			}
			ps = append(ps, peer{name: "mesos-dns", bin: bin, args: func(c string) []string { return []string{"-config", c} }})
		default:
			b.Fatalf("SCALE_PEERS: unknown peer %q (sextant, sextant-base, mesos-dns)", name)
		}
	}
	return ps
}

func uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// BenchmarkScale runs every peer on every size, one process at a time.
func BenchmarkScale(b *testing.B) {
	ps := peers(b)
	perf, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Skip("dnsperf is not installed (make bench installs it as root)")
	}
	rounds := max(1, envInt("SCALE_ROUNDS", 1))
	refresh := max(1, envInt("SCALE_REFRESH", 30))
	operator := envInt("SCALE_OPERATOR", 1) != 0
	secs := max(1, envInt("SCALE_DNSPERF_SECONDS", 10))
	nNames := max(1, envInt("SCALE_NAMES", 20000))
	probe := 0
	for _, size := range envList("SCALE_TASKS", "10000,100000") {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			b.Fatalf("SCALE_TASKS: %q is not a task count", size)
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			srv := newStateServer(b, operator)
			sh := statesynth.DefaultShape(n, 1)
			sh.Leader = srv.leader()
			st := statesynth.Generate(sh)
			body := render(b, st)
			b.Logf("%d tasks, %d agents, %d frameworks: %.1f MB of JSON; operator API %v; refreshSeconds %d",
				n, len(st.Slaves), len(st.Frameworks), float64(len(body))/1e6, operator, refresh)
			rn := &run{tb: b, srv: srv, st: st, body: body, qfile: queries(b, st, nNames, b.TempDir()),
				refresh: refresh, secs: secs, dnsperf: perf}
			var all []result
			for round := range rounds {
				order := ps
				if round%2 == 1 {
					order = append([]peer(nil), ps...)
					for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
						order[i], order[j] = order[j], order[i]
					}
				}
				for _, p := range order {
					probe++
					rn.probe = probe
					load := uptime()
					t0 := time.Now()
					r := rn.peer(p)
					b.Logf("round %d, load %s: %v (%.0fs)", round+1, load, r, time.Since(t0).Seconds())
					all = append(all, r)
				}
			}
			report(b, all)
		})
	}
}

// report gives each peer's median figures over the rounds (the machine is
// shared: one run can be stretched by a neighbour's burst) as benchmark
// metrics, and the ratios of the medians to mesos-dns'.
func report(b *testing.B, rs []result) {
	byPeer := map[string][]result{}
	var order []string
	for _, r := range rs {
		if _, ok := byPeer[r.peer]; !ok {
			order = append(order, r.peer)
		}
		byPeer[r.peer] = append(byPeer[r.peer], r)
	}
	med := map[string]result{}
	for _, name := range order {
		runs := byPeer[name]
		m := result{peer: name}
		m.first = time.Duration(median(runs, func(r result) float64 { return float64(r.first) }))
		m.rss = int64(median(runs, func(r result) float64 { return float64(r.rss) }))
		m.hwm = int64(median(runs, func(r result) float64 { return float64(r.hwm) }))
		m.qps = median(runs, func(r result) float64 { return r.qps })
		m.change = time.Duration(median(runs, func(r result) float64 { return float64(r.change) }))
		med[name] = m
		b.ReportMetric(m.first.Seconds(), name+"-first-s")
		b.ReportMetric(mib(m.rss), name+"-rss-MiB")
		b.ReportMetric(mib(m.hwm), name+"-hwm-MiB")
		b.ReportMetric(m.qps, name+"-qps")
		b.ReportMetric(float64(m.change.Microseconds())/1000, name+"-change-ms")
		b.Logf("%s, median of %d: first answer %.2fs, rss %.0f MiB, hwm %.0f MiB, qps %.0f, one change %.0f ms", name, len(runs),
			m.first.Seconds(), mib(m.rss), mib(m.hwm), m.qps, float64(m.change.Microseconds())/1000)
	}
	if m, ok := med["mesos-dns"]; ok {
		for _, name := range []string{"sextant", "sextant-base"} {
			if s, ok := med[name]; ok {
				b.Logf("%s ÷ mesos-dns (medians): first answer %.2f, rss %.2f, qps %.2f", name, s.first.Seconds()/m.first.Seconds(),
					float64(s.rss)/float64(m.rss), s.qps/m.qps)
			}
		}
	}
}

// median is the median of f over rs (the mean of the middle two for an
// even count).
func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}
