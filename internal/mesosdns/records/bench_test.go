package records

import (
	"testing"

	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/model"
)

var benchCfg = Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
	Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050", "10.0.0.2:5050", "10.0.0.3:5050"}}

func benchSnap(n int) *model.Snapshot {
	return model.Build(synth.State(n, 1), model.BuildOptions{Version: 1})
}

func benchGenerate(b *testing.B, n int) {
	snap := benchSnap(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Generate(snap, benchCfg)
	}
}

func BenchmarkGenerate10k(b *testing.B)  { benchGenerate(b, 10_000) }
func BenchmarkGenerate100k(b *testing.B) { benchGenerate(b, 100_000) }

// BenchmarkGenerateIncremental100k rebuilds a 100,000-task state after one
// task changed (a new container IP), with the Generator's memory.
func BenchmarkGenerateIncremental100k(b *testing.B) {
	st := synth.State(100_000, 1)
	snaps := make([]*model.Snapshot, 2)
	for i := range snaps {
		s := cloneState(b, st)
		task := &s.Frameworks[0].Tasks[100]
		task.Statuses[len(task.Statuses)-1].Labels = append(task.Statuses[len(task.Statuses)-1].Labels,
			model.Label{Key: mesosIPLabel, Value: []string{"9.9.9.1", "9.9.9.2"}[i]})
		snaps[i] = model.Build(s, model.BuildOptions{Version: uint64(i)})
	}
	g := NewGenerator()
	g.Generate(snaps[1], benchCfg)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		g.Generate(snaps[i%2], benchCfg)
		i++
	}
}
