package mesos

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
)

func build(o *model.MesosObservation, v uint64) *model.Snapshot {
	return model.Build(model.Observations{Mesos: o}, model.BuildOptions{Version: v, Now: time.Unix(100, 0)})
}

func loadFake(t testing.TB) *state.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := state.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestObserveFixture(t *testing.T) {
	st := loadFake(t)
	hosts := HostsToResolve(st)
	if strings.Join(hosts, ",") != "localhost" {
		t.Fatalf("HostsToResolve = %v, want [localhost] (framework \"no pid\")", hosts)
	}
	s := build(Observe(st, map[string][]netip.Addr{"localhost": {netip.MustParseAddr("127.0.0.1")}}), 7)
	if s.Version != 7 || !s.Leader.OK || s.Leader.Host != "1.2.3.4" || s.Leader.Port != 5050 {
		t.Fatalf("leader/version: %+v v%d", s.Leader, s.Version)
	}
	if len(s.Agents) != 4 || len(s.Frameworks) != 4 || len(s.Tasks) != 10 {
		t.Fatalf("counts: %d agents %d frameworks %d tasks", len(s.Agents), len(s.Frameworks), len(s.Tasks))
	}
	if len(s.Problems) != 0 {
		t.Fatalf("unexpected problems: %v", s.Problems)
	}
	a, ok := s.AgentByID("20140803-194712-3041283216-5050-2116-3")
	if !ok || a.Host != "2001:db8::1" || a.Port != 5051 || len(a.Addrs) != 1 {
		t.Fatalf("ipv6 agent: %+v", a)
	}
	var nopid *model.Framework
	for i := range s.Frameworks {
		if s.Frameworks[i].Name == "no pid" {
			nopid = &s.Frameworks[i]
		}
	}
	if nopid == nil || nopid.HasPort || nopid.Host != "localhost" || len(nopid.Addrs) != 1 {
		t.Fatalf("no pid framework: %+v", nopid)
	}
	running, byName := 0, map[string]*model.Task{}
	for i := range s.Tasks {
		tk := &s.Tasks[i]
		byName[tk.Name] = tk
		if tk.Running() {
			running++
		}
		if f := s.FrameworkOf(tk); i < f.First || i >= f.End {
			t.Errorf("task %s outside its framework's range", tk.ID)
		}
	}
	if running != 9 {
		t.Errorf("running tasks = %d, want 9 (poseidon is killed)", running)
	}
	ts := byName["toy-store"]
	if got := ts.NetInfoIPs; len(got) != 3 || len(ts.IPs) != 3 {
		t.Errorf("toy-store container IPs = %v, want 3", got)
	}
	if got := ts.Ports; len(got) != 2 || got[0] != 31354 || got[1] != 31355 {
		t.Errorf("toy-store ports = %v", got)
	}
	ls := byName["liquor.store"]
	if ls.Discovery == nil || ls.Discovery.Name != "liquor.store" || len(ls.Discovery.Ports) != 2 {
		t.Errorf("liquor.store discovery: %+v", ls.Discovery)
	}
	// The latest RUNNING status carries the Docker label 10.3.0.1.
	if len(ls.DockerIPs) != 1 || ls.DockerIPs[0] != netip.MustParseAddr("10.3.0.1") {
		t.Errorf("liquor.store docker IPs: %v", ls.DockerIPs)
	}
}

func TestObserveSkipsBadItems(t *testing.T) {
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{
			{ID: "a1", PID: "slave(1)@10.0.0.2:5051"},
			{ID: "a2"}, // no pid: Mesos-DNS panicked here
			{ID: "a1", PID: "slave(1)@10.0.0.9:5051"},
			{ID: "", PID: "slave(1)@10.0.0.3:5051"},
		},
		Frameworks: []state.Framework{{
			Name: "marathon", PID: "scheduler@10.0.0.1:1234",
			Tasks: []state.Task{
				{ID: "t1", Name: "web", SlaveID: "a1", State: "TASK_RUNNING", Resources: state.Resources{Ports: "[31000]"}},
				{ID: "t2", Name: "web", SlaveID: "gone", State: "TASK_RUNNING"},
				{ID: "t3", Name: "api", SlaveID: "a2", State: "TASK_RUNNING", Resources: state.Resources{Ports: "[31000-31001, 5-1]"}},
			},
		}, {Name: "bad", PID: "nonsense"}},
	}
	s := build(Observe(st, nil), 1)
	if len(s.Agents) != 2 {
		t.Fatalf("agents = %d, want 2 (duplicate and empty id skipped)", len(s.Agents))
	}
	if a, _ := s.AgentByID("a2"); a == nil || len(a.Addrs) != 0 {
		t.Fatalf("agent without pid should be kept without addresses: %+v", a)
	}
	if len(s.Tasks) != 3 || s.Tasks[1].Agent != -1 || s.AgentOf(&s.Tasks[1]) != nil {
		t.Fatalf("task on unknown agent: %+v", s.Tasks[1])
	}
	if got := s.Tasks[2].Ports; len(got) != 2 {
		t.Fatalf("bad range skipped, good one kept: %v", got)
	}
	want := []string{`agent "a2": pid`, `agent "a1": id`, `agent "": id`, `task "t1" of framework "marathon": resources.ports`, `task "t3" of framework "marathon": resources.ports`, `framework "bad": pid`}
	if len(s.Problems) != len(want) {
		t.Fatalf("problems = %v", s.Problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(s.Problems[i].String(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, s.Problems[i], w)
		}
	}
}

func FuzzObserve(f *testing.F) {
	f.Add([]byte(`{"leader":"master@1.2.3.4:5050","slaves":[{"id":"a","pid":"slave(1)@1.2.3.4:5051"}],"frameworks":[{"name":"m","pid":"s@1.2.3.4:1","tasks":[{"id":"t","name":"n","slave_id":"a","state":"TASK_RUNNING","resources":{"ports":"[1-3]"}}]}]}`))
	f.Add([]byte(`{"slaves":[{"id":"a"}],"frameworks":[{"tasks":[{"slave_id":"b","resources":{"ports":"[9-1,x]"}}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, _, err := state.Parse(b)
		if err != nil {
			return
		}
		s := build(Observe(st, nil), 1)
		for i := range s.Tasks {
			tk := &s.Tasks[i]
			_ = tk.Serving()
			if tk.Framework < 0 || tk.Framework >= len(s.Frameworks) {
				t.Fatalf("task framework index out of range")
			}
			if tk.Agent >= len(s.Agents) {
				t.Fatalf("task agent index out of range")
			}
		}
	})
}
