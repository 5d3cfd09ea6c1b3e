package testutil

import (
	"encoding/json"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// CloneState returns a deep copy of st (through its JSON form), so a test
// can change the copy while the snapshots built from st stay untouched.
func CloneState(t testing.TB, st *state.State) *state.State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out state.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// RunningStatuses is a task's status list: one TASK_RUNNING status
// (timestamp 1) whose container has one network with ips, or no container
// status when ips is empty.
func RunningStatuses(ips ...string) []state.Status {
	st := state.Status{State: "TASK_RUNNING", Timestamp: 1}
	if len(ips) > 0 {
		ni := state.NetworkInfo{}
		for _, ip := range ips {
			ni.IPAddresses = append(ni.IPAddresses, state.IPAddress{IPAddress: ip})
		}
		st.ContainerStatus = &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{ni}}
	}
	return []state.Status{st}
}
