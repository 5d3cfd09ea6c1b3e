package records

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// TestPipelinedBuildMatches: a build split over two goroutines (as large
// builds are) gives exactly what the sequential build gives, with and
// without a Generator's memory, and the builds patched after it too.
func TestPipelinedBuildMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2))
	st := synth.State(600, 4)
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	gen := &Generator{pipeFrom: 1}
	for round := range 6 {
		if round > 0 {
			st = testutil.CloneState(t, st)
			for range 1 + r.IntN(3) {
				mutate(r, st)
			}
		}
		snap := modeltest.FromState(st, modeltest.Options{Version: uint64(round), Resolved: localhost})
		want, wantP := Generate(snap, cfg) // sequential: under the default threshold
		once := &Generator{pipeFrom: 1}
		got, gotP := once.generate(snap, cfg, false)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("round %d: pipelined build without memory differs", round)
		}
		got, gotP = gen.Generate(snap, cfg)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("round %d: pipelined Generator differs", round)
		}
	}
}
