package resolver

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

func synthSet(b *testing.B, tasks int) *records.RecordSet {
	st := synth.State(tasks, 1)
	snap := modeltest.FromState(st, modeltest.Options{Version: 1, Now: time.Now()})
	rs, _ := records.Generate(snap, records.Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"},
		SOAMname: "ns1.mesos.", Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}})
	return rs
}

func benchFast(b *testing.B, name string, qt uint16, nw dnsserver.Network) {
	r, _ := New(fakeConfig(), nil, prometheus.NewRegistry())
	r.Update(bigSet(), 1)
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	raw, _ := m.Pack()
	out := make([]byte, 65535)
	if _, ok := r.AnswerFast(raw, out, nw); !ok {
		b.Fatal("declined")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.AnswerFast(raw, out, nw)
	}
}

// 60 A records over UDP: shuffled and truncated to 29 on every query.
func BenchmarkAnswerFastA60UDP(b *testing.B) {
	benchFast(b, "app.marathon.mesos.", dns.TypeA, dnsserver.UDP)
}

// 120 SRV records and 60 additionals over TCP.
func BenchmarkAnswerFastSRV120TCP(b *testing.B) {
	benchFast(b, "_app._tcp.marathon.mesos.", dns.TypeSRV, dnsserver.TCP)
}

func BenchmarkAnswerFastNXDOMAIN(b *testing.B) {
	benchFast(b, "missing.mesos.", dns.TypeA, dnsserver.UDP)
}

func BenchmarkSlowPathANY(b *testing.B) {
	r, _ := New(fakeConfig(), nil, prometheus.NewRegistry())
	r.Update(bigSet(), 1)
	m := new(dns.Msg)
	m.SetQuestion("app.marathon.mesos.", dns.TypeANY)
	raw, _ := m.Pack()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := new(dns.Msg)
		_ = q.Unpack(raw)
		r.ServeDNS(context.Background(), &dnsserver.Request{Raw: raw, Msg: q, Network: dnsserver.UDP})
	}
}

// BenchmarkPrepare measures Update (answers prepared for a new record set)
// for 10,000 and 100,000 tasks: from scratch (the first load) and again
// for an unchanged set (a reload where nothing changed).
func BenchmarkPrepareFresh10k(b *testing.B)   { benchPrepare(b, 10000, true) }
func BenchmarkPrepareFresh100k(b *testing.B)  { benchPrepare(b, 100000, true) }
func BenchmarkPrepareReload10k(b *testing.B)  { benchPrepare(b, 10000, false) }
func BenchmarkPrepareReload100k(b *testing.B) { benchPrepare(b, 100000, false) }

func benchPrepare(b *testing.B, tasks int, fresh bool) {
	rs := synthSet(b, tasks)
	r, _ := New(fakeConfig(), nil, prometheus.NewRegistry())
	r.Update(rs, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fresh {
			b.StopTimer()
			r, _ = New(fakeConfig(), nil, prometheus.NewRegistry())
			b.StartTimer()
		}
		r.Update(rs, uint32(i))
	}
	b.ReportMetric(float64(len(rs.A)+len(rs.AAAA)+len(rs.SRV)), "names")
}

// BenchmarkReload* measure a reload end to end, as the server runs it: the
// Generator builds the record set of a new snapshot and the resolver
// prepares its answers, with the previous build in memory. Full: the
// snapshot alternates between two states that differ in every task id (all
// records change). OneTask: the two states differ in one task's id (a
// restarted instance).
func BenchmarkReloadFull10k(b *testing.B)     { benchReload(b, 10_000, false) }
func BenchmarkReloadFull100k(b *testing.B)    { benchReload(b, 100_000, false) }
func BenchmarkReloadOneTask10k(b *testing.B)  { benchReload(b, 10_000, true) }
func BenchmarkReloadOneTask100k(b *testing.B) { benchReload(b, 100_000, true) }

func benchReload(b *testing.B, tasks int, one bool) {
	st := synth.State(tasks, 1)
	k := 100
	for st.Frameworks[0].Tasks[k].State != "TASK_RUNNING" {
		k++
	}
	snaps := make([]*model.Snapshot, 2)
	for i := range snaps {
		s := testutil.CloneState(b, st)
		suffix := []string{"-a", "-b"}[i]
		for fi := range s.Frameworks {
			for ti := range s.Frameworks[fi].Tasks {
				if !one || (fi == 0 && ti == k) {
					s.Frameworks[fi].Tasks[ti].ID += suffix
				}
			}
		}
		snaps[i] = modeltest.FromState(s, modeltest.Options{Version: uint64(i)})
	}
	cfg := records.Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"},
		SOAMname: "ns1.mesos.", Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	g := records.NewGenerator()
	r, _ := New(fakeConfig(), nil, prometheus.NewRegistry())
	rs, _ := g.Generate(snaps[1], cfg)
	r.Update(rs, 0)
	b.ReportAllocs()
	b.ResetTimer()
	start, n := cpuTime(), 0
	for b.Loop() {
		n++
		rs, _ := g.Generate(snaps[n%2], cfg)
		r.Update(rs, uint32(n))
		if one && !r.cur.Load().delta {
			b.Fatal("a one-task reload prepared the whole zone")
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

// cpuTime is the CPU time this process used so far (all threads, GC
// included): on a shared machine cpu-ns/op is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
