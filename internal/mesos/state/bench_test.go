package state_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
)

type benchSize struct {
	name  string
	tasks int
}

// 100k tasks make a 49 MB document, the size of a large real cluster's.
func benchSizes() []benchSize { return []benchSize{{"10k", 10_000}, {"100k", 100_000}} }

func benchState(b *testing.B, tasks int) []byte {
	b.Helper()
	doc, err := json.Marshal(synth.State(tasks, 1))
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// BenchmarkParse is the clean document, decoded typed in one go: it must
// cost what a bare json.Unmarshal does.
//
//	go test -run '^$' -bench 'Parse' -benchtime 10x -count 8 ./internal/mesos/state/
func BenchmarkParse(b *testing.B) {
	for _, c := range benchSizes() {
		b.Run(c.name, func(b *testing.B) {
			doc := benchState(b, c.tasks)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := state.Parse(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseOneBadValue is the same document with one status
// timestamp a string: the fast attempt, then the tolerant path.
func BenchmarkParseOneBadValue(b *testing.B) {
	for _, c := range benchSizes() {
		b.Run(c.name, func(b *testing.B) {
			doc := bytes.Replace(benchState(b, c.tasks), []byte(`"timestamp":`), []byte(`"timestamp":"soon","x":`), 1)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				_, skipped, err := state.Parse(doc)
				if err != nil || len(skipped) != 1 {
					b.Fatalf("skipped %v, err %v", skipped, err)
				}
			}
		})
	}
}

// BenchmarkParseCluster is Parse on a generated state of a large DC/OS
// cluster (statesynth: one agent per 25 tasks, 8 frameworks, 1–3 named
// ports, a fifth with container IPs; 87 MB at 100k tasks), next to a bare
// json.Unmarshal of the same document (what Parse cost before its one-pass
// decoder):
//
//	go test -run '^$' -bench ParseCluster -benchtime 5x -benchmem ./internal/mesos/state/
func BenchmarkParseCluster(b *testing.B) {
	for _, c := range benchSizes() {
		doc, err := json.Marshal(statesynth.Generate(statesynth.DefaultShape(c.tasks, 1)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := state.Parse(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				var st state.State
				if err := json.Unmarshal(doc, &st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
