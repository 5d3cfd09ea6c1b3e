package testutil

import (
	"reflect"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

func TestCloneStateIsDeep(t *testing.T) {
	yes := true
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{{ID: "S1", PID: "slave(1)@10.0.0.7:5051", Active: &yes}},
		Frameworks: []state.Framework{{ID: "F1", Name: "marathon", Tasks: []state.Task{{
			ID: "web.1", Name: "web", State: "TASK_RUNNING",
			Statuses: []state.Status{{State: "TASK_RUNNING", ContainerStatus: &state.ContainerStatus{
				NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: "9.0.0.1"}}}},
			}}},
		}}}},
	}
	c := CloneState(t, st)
	if !reflect.DeepEqual(c, st) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, st)
	}
	c.Frameworks[0].Tasks[0].State = "TASK_KILLED"
	c.Frameworks[0].Tasks[0].Statuses[0].ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress = "9.0.0.2"
	*c.Slaves[0].Active = false
	if st.Frameworks[0].Tasks[0].State != "TASK_RUNNING" || st.Frameworks[0].Tasks[0].Statuses[0].ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "9.0.0.1" || !*st.Slaves[0].Active {
		t.Fatal("changing the clone changed the original")
	}
}

func TestRunningStatuses(t *testing.T) {
	if got := RunningStatuses(); len(got) != 1 || got[0].State != "TASK_RUNNING" || got[0].Timestamp != 1 || got[0].ContainerStatus != nil {
		t.Fatalf("no ips: %+v", got)
	}
	got := RunningStatuses("9.0.0.1", "fd01::1")
	want := []state.Status{{State: "TASK_RUNNING", Timestamp: 1, ContainerStatus: &state.ContainerStatus{
		NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: "9.0.0.1"}, {IPAddress: "fd01::1"}}}},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
