package records

import (
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

var benchCfg = Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
	Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050", "10.0.0.2:5050", "10.0.0.3:5050"}}

func benchSnap(n int) *model.Snapshot {
	return modeltest.FromState(synth.State(n, 1), modeltest.Options{Version: 1})
}

// cpuTime is the CPU time this process used so far (all threads, GC
// included). Benchmarks report it per op as cpu-ns/op: on a shared, loaded
// machine it is a steadier figure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start, n := cpuTime(), 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

func benchGenerate(b *testing.B, n int) {
	snap := benchSnap(n)
	loop(b, func() { Generate(snap, benchCfg) })
}

func BenchmarkGenerate10k(b *testing.B)  { benchGenerate(b, 10_000) }
func BenchmarkGenerate100k(b *testing.B) { benchGenerate(b, 100_000) }

// BenchmarkGenerateIncremental100k rebuilds a 100,000-task state after one
// task was replaced (new task id, as when Marathon restarts an instance),
// with the Generator's memory.
func BenchmarkGenerateIncremental100k(b *testing.B) {
	st := synth.State(100_000, 1)
	k := 100
	for st.Frameworks[0].Tasks[k].State != "TASK_RUNNING" {
		k++
	}
	snaps := make([]*model.Snapshot, 2)
	for i := range snaps {
		s := testutil.CloneState(b, st)
		s.Frameworks[0].Tasks[k].ID += []string{"-a", "-b"}[i]
		snaps[i] = modeltest.FromState(s, modeltest.Options{Version: uint64(i)})
	}
	g := NewGenerator()
	g.Generate(snaps[1], benchCfg)
	i := 0
	loop(b, func() {
		g.Generate(snaps[i%2], benchCfg)
		if s := g.LastBuild(); s.Built != 1 || !s.Patched {
			b.Fatalf("built %d tasks afresh (want 1), patched %v", s.Built, s.Patched)
		}
		i++
	})
}
