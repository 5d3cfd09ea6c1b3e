package resolver

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// changeState applies one random change of the kinds a cluster sees.
func changeState(r *rand.Rand, st *state.State) string {
	f := &st.Frameworks[r.IntN(len(st.Frameworks))]
	if len(f.Tasks) == 0 {
		return "nothing"
	}
	i := r.IntN(len(f.Tasks))
	t := &f.Tasks[i]
	switch r.IntN(8) {
	case 0:
		t.ID += "-restarted" // a new instance: new canonical names
		return "restart"
	case 1:
		t.State = []string{"TASK_RUNNING", "TASK_KILLED"}[r.IntN(2)]
		return "state"
	case 2:
		t.SlaveID = st.Slaves[r.IntN(len(st.Slaves))].ID
		return "move"
	case 3:
		f.Tasks = append(f.Tasks[:i], f.Tasks[i+1:]...)
		return "remove"
	case 4:
		a := &st.Slaves[r.IntN(len(st.Slaves))]
		a.PID = fmt.Sprintf("slave(1)@10.250.%d.%d:5051", r.IntN(3), 1+r.IntN(3))
		return "agent address"
	case 5:
		f.Tasks[i], f.Tasks[len(f.Tasks)-1] = f.Tasks[len(f.Tasks)-1], f.Tasks[i]
		return "reorder"
	case 6:
		f.Tasks = append(f.Tasks, f.Tasks[i]) // the same task twice
		return "duplicate"
	default:
		t.Name = []string{"web.payments", "api.search", "fresh"}[r.IntN(3)]
		return "rename"
	}
}

// TestIncrementalPrepareMatchesFresh: answers prepared for a reload, from
// the previous zone and only the names that changed, are exactly those
// prepared from scratch for the same record set, after any sequence of
// changes.
func TestIncrementalPrepareMatchesFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	st := synth.State(400, 3)
	rcfg := records.Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	g := records.NewGenerator()
	inc, err := New(fakeConfig(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	shared, deltas := 0, 0
	for round := range 30 {
		what := ""
		if round > 0 {
			st = testutil.CloneState(t, st)
			for range 1 + r.IntN(3) {
				what += changeState(r, st) + " "
			}
		}
		snap := modeltest.FromState(st, modeltest.Options{Version: uint64(round)})
		rs, _ := g.Generate(snap, rcfg)
		before := inc.cur.Load()
		inc.Update(rs, uint32(round))
		fresh, err := New(fakeConfig(), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		fresh.Update(rs, uint32(round))
		got, want := inc.cur.Load(), fresh.cur.Load()
		if !reflect.DeepEqual(got.names, want.names) {
			for name, e := range want.names {
				if !reflect.DeepEqual(got.names[name], e) {
					t.Errorf("round %d (%s): entry %s differs", round, what, name)
				}
			}
			for name := range got.names {
				if want.names[name] == nil {
					t.Errorf("round %d (%s): entry %s should be gone", round, what, name)
				}
			}
			t.Fatalf("round %d (%s): prepared zones differ", round, what)
		}
		if got.counts != want.counts {
			t.Fatalf("round %d (%s): record counts %v, want %v", round, what, got.counts, want.counts)
		}
		if got.delta {
			deltas++
		}
		if before != nil && round > 0 {
			for name, e := range got.names {
				if before.names[name] == e {
					shared++
				}
			}
		}
	}
	if deltas < 20 {
		t.Fatalf("only %d of 30 reloads prepared just the changed names", deltas)
	}
	if shared == 0 {
		t.Fatal("no prepared entry was ever reused across reloads")
	}
}
