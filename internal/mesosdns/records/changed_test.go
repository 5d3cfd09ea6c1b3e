package records

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// TestChangedCoversEveryDifference: after any sequence of changes, every
// name whose values differ between two consecutive builds of a Generator
// is listed by Changed, and a change to one task lists few names.
func TestChangedCoversEveryDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	st := synth.State(150, 5)
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "docker", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050", "10.0.0.2:5050"}}
	g := NewGenerator()
	var prev *RecordSet
	patched, large := 0, 0
	for round := range 120 {
		var what string
		st = testutil.CloneState(t, st)
		for range 1 + r.IntN(3) {
			what += mutate(r, st) + " "
		}
		if round == 60 {
			cfg.Masters = []string{"10.0.0.1:5050"}
			cfg.EnforceRFC952 = true
		}
		snap := modeltest.FromState(st, modeltest.Options{Version: uint64(round), Resolved: localhost})
		cur, _ := g.Generate(snap, cfg)
		if g.LastBuild().Patched {
			patched++
		}
		if round == 0 {
			prev = cur
			continue
		}
		changed, ok := Changed(prev, cur)
		if !ok {
			// Allowed only for large changes (a renamed framework, the
			// label rule): then every name counts as changed.
			large++
			prev = cur
			continue
		}
		for _, kind := range []struct {
			name     string
			old, new map[string][]string
		}{{"A", prev.A, cur.A}, {"AAAA", prev.AAAA, cur.AAAA}, {"SRV", prev.SRV, cur.SRV}} {
			for _, m := range []map[string][]string{kind.old, kind.new} {
				for name := range m {
					if _, listed := changed[name]; !listed && !slices.Equal(kind.old[name], kind.new[name]) {
						t.Fatalf("round %d (%s): %s %s changed from %q to %q but is not listed",
							round, what, kind.name, name, kind.old[name], kind.new[name])
					}
				}
			}
		}
		total := len(cur.A) + len(cur.SRV)
		if round != 60 && !strings.Contains(what, "agent") && !strings.Contains(what, "framework") &&
			!strings.Contains(what, "reorder") && len(changed) > total/2 {
			t.Fatalf("round %d (%s): %d of %d names listed as changed", round, what, len(changed), total)
		}
		prev = cur
	}
	if large > 20 {
		t.Fatalf("%d of 120 changes were too large to list", large)
	}
	if patched < 80 {
		t.Fatalf("only %d of 120 builds patched the previous zone", patched)
	}
	if _, ok := Changed(nil, prev); ok {
		t.Fatal("Changed(nil, set) claims to be comparable")
	}
	if _, ok := Changed(&RecordSet{Domain: "other"}, prev); ok {
		t.Fatal("sets of two domains claimed comparable")
	}
}

// TestChangedAfterGenerateListsAll: sets from the package-level Generate
// share nothing, so every task's names are listed.
func TestChangedAfterGenerateListsAll(t *testing.T) {
	snap := modeltest.FromState(synth.State(50, 2), modeltest.Options{Version: 1, Resolved: localhost})
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "host"}}
	a, _ := Generate(snap, cfg)
	b, _ := Generate(snap, cfg)
	changed, ok := Changed(a, b)
	if !ok {
		t.Fatal("not comparable")
	}
	for name := range b.A {
		if _, listed := changed[name]; !listed {
			t.Fatalf("A %s not listed", name)
		}
	}
}
