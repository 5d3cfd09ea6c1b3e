package synth

import (
	"encoding/json"
	"testing"

	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

func TestStateDeterministic(t *testing.T) {
	a, _ := json.Marshal(State(2000, 42))
	b, _ := json.Marshal(State(2000, 42))
	c, _ := json.Marshal(State(2000, 43))
	if string(a) != string(b) {
		t.Fatal("same seed, different states")
	}
	if string(a) == string(c) {
		t.Fatal("different seeds, same state")
	}
}

func TestStateShape(t *testing.T) {
	st := State(10000, 1)
	n, running := 0, 0
	for _, f := range st.Frameworks {
		n += len(f.Tasks)
		for _, task := range f.Tasks {
			if task.State == "TASK_RUNNING" {
				running++
			}
		}
	}
	if n != 10000 || running < 9000 || len(st.Slaves) != 400 || len(st.Frameworks) < 5 {
		t.Fatalf("tasks %d running %d agents %d frameworks %d", n, running, len(st.Slaves), len(st.Frameworks))
	}
	snap := modeltest.FromState(st, modeltest.Options{})
	if len(snap.Problems) != 0 {
		t.Fatalf("synthetic state has problems: %v", snap.Problems[:min(3, len(snap.Problems))])
	}
	if !snap.Leader.OK {
		t.Fatal("no leader")
	}
	for _, small := range []int{0, 1, 7} {
		st := State(small, 3)
		got := 0
		for _, f := range st.Frameworks {
			got += len(f.Tasks)
		}
		if got != small {
			t.Errorf("State(%d) has %d tasks", small, got)
		}
	}
}
