package records

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// mutate applies one random change of the kinds a cluster sees.
func mutate(r *rand.Rand, st *state.State) string {
	f := &st.Frameworks[r.IntN(len(st.Frameworks))]
	if len(f.Tasks) == 0 {
		f.Tasks = append(f.Tasks, runningTask("new.1", "new", st.Slaves[0].ID, "[1-2]", "9.9.9.9"))
		return "add first task"
	}
	i := r.IntN(len(f.Tasks))
	t := &f.Tasks[i]
	switch r.IntN(12) {
	case 0:
		t.State = []string{"TASK_RUNNING", "TASK_KILLED", "TASK_STAGING"}[r.IntN(3)]
		return "state"
	case 1:
		t.Statuses = append(t.Statuses, state.Status{State: "TASK_RUNNING", Timestamp: 2e9 + float64(r.IntN(100)),
			ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{IPAddress: fmt.Sprintf("9.8.7.%d", r.IntN(4))}}}})
		return "new status with IP"
	case 2:
		t.Name = []string{"web", "Web.Group", "db", "x_y"}[r.IntN(4)]
		return "rename"
	case 3:
		t.SlaveID = st.Slaves[r.IntN(len(st.Slaves))].ID
		return "move"
	case 4:
		t.Resources.Ports = []string{"[]", "[31000-31002]", "[1-1, 5-6]", ""}[r.IntN(4)]
		return "ports"
	case 5:
		if t.Discovery == nil {
			t.Discovery = &state.Discovery{Name: "svc.group", Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: 80, Name: "http"}}}}
		} else if r.IntN(2) == 0 {
			t.Discovery = nil
		} else if t.Discovery.Ports != nil && len(t.Discovery.Ports.Ports) > 0 {
			t.Discovery.Ports.Ports[0].Number++
		}
		return "discovery"
	case 6:
		f.Tasks = append(f.Tasks, f.Tasks[i]) // same id twice
		return "duplicate"
	case 7:
		f.Tasks = append(f.Tasks[:i], f.Tasks[i+1:]...)
		return "remove"
	case 8:
		a := &st.Slaves[r.IntN(len(st.Slaves))]
		a.PID = []string{fmt.Sprintf("slave(1)@10.99.0.%d:5051", r.IntN(5)), "slave(1)@Agent.Example:5051",
			"", "slave(1)@1.2.3.4_:5051", "slave(1)@localhost:5051"}[r.IntN(5)]
		return "agent address"
	case 9:
		f.Name = []string{"marathon", "other", "Marathon.Two"}[r.IntN(3)]
		return "framework name"
	case 10:
		f.Tasks[i], f.Tasks[len(f.Tasks)-1] = f.Tasks[len(f.Tasks)-1], f.Tasks[i]
		return "reorder"
	default:
		t.ID += "x"
		return "id"
	}
}

// TestGeneratorMatchesGenerate: after any sequence of changes, a Generator
// that remembers earlier builds returns exactly what a build from scratch
// returns, in every map, value order and enumerate list.
func TestGeneratorMatchesGenerate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	st := synth.State(150, 5)
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "docker", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	g := NewGenerator()
	for round := range 80 {
		var what string
		st = testutil.CloneState(t, st) // snapshots the generator saw stay untouched
		for range 1 + r.IntN(4) {
			what += mutate(r, st) + " "
		}
		if round == 40 {
			cfg.EnforceRFC952 = true // a config change drops the memory
			what += "rfc952"
		}
		snap := modeltest.FromState(st, modeltest.Options{Version: uint64(round), Resolved: localhost})
		got, gotP := g.Generate(snap, cfg)
		want, wantP := Generate(snap, cfg)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("round %d (%s): incremental build differs from a build from scratch", round, what)
		}
		// The memory must actually be used: a few changes leave most tasks
		// as they were, and a config change starts afresh.
		bs := g.LastBuild()
		eligible := 0
		for _, f := range want.Frameworks {
			eligible += len(f.Tasks)
		}
		switch {
		case bs.Reused+bs.Built != eligible:
			t.Fatalf("round %d: reused %d + built %d != %d eligible tasks", round, bs.Reused, bs.Built, eligible)
		case round == 40 && bs.Reused != 0:
			t.Fatalf("round %d: config changed but %d tasks reused", round, bs.Reused)
		case round > 0 && round != 40 && !strings.Contains(what, "agent") && !strings.Contains(what, "framework") &&
			bs.Built > strings.Count(what, " "):
			// Each other kind of change touches at most one task.
			t.Fatalf("round %d (%s): %d of %d tasks built afresh", round, what, bs.Built, eligible)
		}
	}
}
