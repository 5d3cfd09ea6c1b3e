package records

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
)

// smallState is one healthy agent, one framework and one running task with
// a container IP, to which each case adds one bad item.
// IP label keys of the "docker" and "mesos" IP sources.
const (
	dockerIPLabel = "Docker.NetworkSettings.IPAddress"
	mesosIPLabel  = "MesosContainerizer.NetworkSettings.IPAddress"
)

func smallState() *state.State {
	return &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{{ID: "A-S1", PID: "slave(1)@10.0.1.1:5051"}},
		Frameworks: []state.Framework{{
			Name: "marathon", PID: "scheduler(1)@10.0.0.9:8080",
			Tasks: []state.Task{runningTask("web.1", "web", "A-S1", "[31000-31001]", "9.9.9.1")},
		}},
	}
}

func runningTask(id, name, agent, ports, netIP string) state.Task {
	t := state.Task{ID: id, Name: name, SlaveID: agent, State: "TASK_RUNNING", Resources: state.Resources{Ports: ports}}
	st := state.Status{State: "TASK_RUNNING", Timestamp: 1}
	if netIP != "" {
		st.ContainerStatus = &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: netIP}}}}}
	}
	t.Statuses = []state.Status{st}
	return t
}

func hasProblem(probs []model.Problem, item, field string) bool {
	for _, p := range probs {
		if strings.Contains(p.Item, item) && p.Field == field {
			return true
		}
	}
	return false
}

// TestCrashingItems: every input that crashed Mesos-DNS or failed its whole
// reload (spec §9 quirks 11 and 12) skips only the item, reports it, and
// the rest of the zone is built.
func TestCrashingItems(t *testing.T) {
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	type check func(t *testing.T, rs *RecordSet, probs []model.Problem)
	// healthy asserts what every case must still have built.
	healthy := func(t *testing.T, rs *RecordSet) {
		t.Helper()
		if !slices.Contains(rs.A["web.marathon.mesos."], "9.9.9.1") {
			t.Errorf("healthy task lost: A web.marathon.mesos. = %v", rs.A["web.marathon.mesos."])
		}
	}
	cases := []struct {
		name   string
		mutate func(st *state.State, cfg *Config)
		check  check
	}{
		{"hostname leader", func(st *state.State, _ *Config) { st.Leader = "master@leader.example.com:5050" },
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "leader.example.com", "leader") {
					t.Errorf("no leader problem: %v", probs)
				}
				if rs.Has("leader.mesos.") || rs.Has("master.mesos.") || rs.Has("master0.mesos.") {
					t.Error("leader records made for a host-name leader")
				}
				if !slices.Contains(rs.A["slave.mesos."], "10.0.1.1") {
					t.Error("agent records lost")
				}
			}},
		{"malformed leader", func(st *state.State, _ *Config) { st.Leader = "master!144.76.157.37;5050" },
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "master!144", "leader") || rs.Has("leader.mesos.") {
					t.Errorf("malformed leader: problems %v, leader %v", probs, rs.A["leader.mesos."])
				}
			}},
		{"hostname master", func(_ *state.State, cfg *Config) {
			cfg.Masters = []string{"m1.example.com:5050", "10.0.0.1:5050", "10.0.0.2"}
		},
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "m1.example.com", "masters") || !hasProblem(probs, `"10.0.0.2"`, "masters") {
					t.Errorf("no masters problems: %v", probs)
				}
				if !slices.Equal(rs.A["master0.mesos."], []string{"10.0.0.1"}) || rs.Has("master1.mesos.") {
					t.Errorf("master0 = %v, master1 = %v", rs.A["master0.mesos."], rs.A["master1.mesos."])
				}
			}},
		{"hostname listener", func(_ *state.State, cfg *Config) { cfg.Listener = "dns.example.com" },
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "dns.example.com", "listener") || rs.Has("ns1.mesos.") {
					t.Errorf("listener: problems %v, ns1 %v", probs, rs.A["ns1.mesos."])
				}
			}},
		{"port piece without dash", func(st *state.State, _ *Config) {
			st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, runningTask("db.1", "db", "A-S1", "[31005, 31010-31011]", ""))
		},
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "db.1", "resources.ports") {
					t.Errorf("no ports problem: %v", probs)
				}
				got := rs.SRV["_db._tcp.marathon.mesos."]
				h := hashID("db.1")
				want := []string{"db-" + h + "-s1.marathon.slave.mesos.:31010", "db-" + h + "-s1.marathon.slave.mesos.:31011"}
				if !slices.Equal(got, want) {
					t.Errorf("_db._tcp = %v, want %v", got, want)
				}
			}},
		{"agent without pid", func(st *state.State, _ *Config) {
			st.Slaves = append(st.Slaves, state.Slave{ID: "A-S2"})
			st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, runningTask("api.1", "api", "A-S2", "[32000-32000]", "9.9.9.2"))
		},
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "A-S2", "pid") {
					t.Errorf("no agent problem: %v", probs)
				}
				if !slices.Equal(rs.A["api.marathon.mesos."], []string{"9.9.9.2"}) {
					t.Errorf("task on the pid-less agent lost its own IP: %v", rs.A["api.marathon.mesos."])
				}
				if rs.Has("api.marathon.slave.mesos.") {
					t.Error(".slave record for an agent without address")
				}
				if len(rs.SRV["_api._tcp.marathon.mesos."]) != 1 {
					t.Errorf("SRV lost: %v", rs.SRV["_api._tcp.marathon.mesos."])
				}
			}},
		{"unresolved agent host", func(st *state.State, _ *Config) {
			st.Slaves = append(st.Slaves, state.Slave{ID: "A-S3", PID: "slave(1)@Agent_3.example.com:5051"})
			st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, runningTask("api.1", "api", "A-S3", "", ""))
		},
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "A-S3", "pid") {
					t.Errorf("no agent problem: %v", probs)
				}
				// Quirk 10: the sanitised host name leaks as an "A" value.
				if !slices.Equal(rs.A["api.marathon.slave.mesos."], []string{"agent-3.example.com"}) {
					t.Errorf("api.marathon.slave.mesos. = %v", rs.A["api.marathon.slave.mesos."])
				}
				if slices.Contains(rs.A["slave.mesos."], "agent-3.example.com") {
					t.Error("leaked host in slave.mesos.")
				}
				// The host source takes only real IPs, so the task has none.
				if rs.Has("api.marathon.mesos.") {
					t.Errorf("api.marathon.mesos. = %v", rs.A["api.marathon.mesos."])
				}
			}},
		{"unresolved framework pid host", func(st *state.State, _ *Config) {
			st.Frameworks = append(st.Frameworks, state.Framework{Name: "chronos", PID: "scheduler(1)@chronos.example.com:4400",
				Tasks: []state.Task{runningTask("job.1", "job", "A-S1", "", "9.9.9.3")}})
		},
			func(t *testing.T, rs *RecordSet, probs []model.Problem) {
				if !hasProblem(probs, "chronos", "pid") || rs.Has("chronos.mesos.") || rs.Has("_framework._tcp.chronos.mesos.") {
					t.Errorf("framework: problems %v", probs)
				}
				if !slices.Equal(rs.A["job.chronos.mesos."], []string{"9.9.9.3"}) {
					t.Errorf("task of the unresolved framework lost: %v", rs.A["job.chronos.mesos."])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := smallState()
			cfg := cfg
			cfg.Masters = slices.Clone(cfg.Masters)
			c.mutate(st, &cfg)
			snap := build(st, nil)
			rs, probs := Generate(snap, cfg)
			healthy(t, rs)
			c.check(t, rs, append(slices.Clone(snap.Problems), probs...))
			noDuplicates(t, rs)
		})
	}
}

// TestSmallVectors: the other small vectors of the Mesos-DNS tests, seen
// through the records they produce.
func TestSmallVectors(t *testing.T) {
	st := &state.State{
		Leader: "master@144.76.157.37:5050",
		Slaves: []state.Slave{
			{ID: "A-S1", PID: ` slave(1)@127.0.0.1:5051 `},
			{ID: "A-S2", PID: `" slave(1)@127.0.0.2:5051"`},
			{ID: "A-S3", PID: "slave(1)@[2001:db8::1]:5051"},
		},
		Frameworks: []state.Framework{{Name: "marathon", PID: "scheduler(1)@10.0.0.9:8080",
			Tasks: []state.Task{runningTask("web.1", "web", "A-S1", "[31111-31111, 31115-31117]", "")}}},
	}
	rs, probs := Generate(build(st, nil), Config{Domain: "mesos", IPSources: []string{"host"}})
	if len(probs) != 0 {
		t.Errorf("problems %v", probs)
	}
	if got := rs.A["slave.mesos."]; !slices.Equal(got, []string{"127.0.0.1", "127.0.0.2"}) {
		t.Errorf("slave.mesos. A = %v", got)
	}
	if got := rs.AAAA["slave.mesos."]; !slices.Equal(got, []string{"2001:db8::1"}) {
		t.Errorf("slave.mesos. AAAA = %v", got)
	}
	if got := rs.SRV["_slave._tcp.mesos."]; !slices.Equal(got, []string{"slave.mesos.:5051"}) {
		t.Errorf("_slave._tcp = %v", got)
	}
	if got := rs.A["leader.mesos."]; !slices.Equal(got, []string{"144.76.157.37"}) {
		t.Errorf("leader = %v", got)
	}
	target := "web-" + hashID("web.1") + "-s1.marathon.slave.mesos.:"
	var want []string
	for _, p := range []string{"31111", "31115", "31116", "31117"} {
		want = append(want, target+p)
	}
	for _, name := range []string{"_web._tcp.marathon.mesos.", "_web._udp.marathon.mesos.",
		"_web._tcp.marathon.slave.mesos.", "_web._udp.marathon.slave.mesos."} {
		if got := rs.SRV[name]; !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestTaskEligibility: only TASK_RUNNING tasks on known agents get
// records; health is ignored.
func TestTaskEligibility(t *testing.T) {
	st := smallState()
	unhealthy := false
	sick := runningTask("sick.1", "sick", "A-S1", "", "9.9.9.5")
	sick.Statuses[0].Healthy = &unhealthy
	staging := runningTask("new.1", "new", "A-S1", "", "9.9.9.6")
	staging.State = "TASK_STAGING"
	lost := runningTask("lost.1", "lost", "A-S9", "", "9.9.9.7")
	st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, sick, staging, lost)
	rs, _ := Generate(build(st, nil), Config{Domain: "mesos", IPSources: []string{"netinfo"}})
	if !rs.Has("sick.marathon.mesos.") {
		t.Error("unhealthy task has no records (Mesos-DNS ignores health)")
	}
	if rs.Has("new.marathon.mesos.") || rs.Has("lost.marathon.mesos.") {
		t.Error("staging task or task on an unknown agent has records")
	}
	if n := len(rs.Frameworks[0].Tasks); n != 2 {
		t.Errorf("enumerate lists %d tasks, want 2", n)
	}
}

// TestIPSourceSelection: the first source with any IP wins, all of its IPs
// are used, and the latest RUNNING status decides even when it lacks data.
func TestIPSourceSelection(t *testing.T) {
	task := runningTask("web.1", "web", "A-S1", "", "")
	task.Statuses = []state.Status{
		{State: "TASK_RUNNING", Timestamp: 1, Labels: []state.Label{{Key: dockerIPLabel, Value: "10.0.0.4"}}},
		{State: "TASK_RUNNING", Timestamp: 2, Labels: []state.Label{{Key: mesosIPLabel, Value: "10.0.0.3"},
			{Key: mesosIPLabel, Value: "fd00::3"}, {Key: mesosIPLabel, Value: "junk"}}},
		{State: "TASK_KILLED", Timestamp: 3, Labels: []state.Label{{Key: dockerIPLabel, Value: "10.0.0.9"}}},
		{State: "TASK_RUNNING", Timestamp: 2, Labels: []state.Label{{Key: dockerIPLabel, Value: "10.0.0.8"}}},
	}
	st := smallState()
	st.Frameworks[0].Tasks = []state.Task{task}
	snap := build(st, nil)
	cases := []struct {
		sources []string
		a, aaaa []string
	}{
		{[]string{"docker", "mesos", "host"}, []string{"10.0.0.3"}, []string{"fd00::3"}},
		{[]string{"netinfo", "host"}, []string{"10.0.1.1"}, nil},
		{[]string{"docker"}, nil, nil},
		{[]string{"bogus", "host"}, []string{"10.0.1.1"}, nil},
		{nil, nil, nil},
	}
	for _, c := range cases {
		rs, _ := Generate(snap, Config{Domain: "mesos", IPSources: c.sources})
		if got := rs.A["web.marathon.mesos."]; !slices.Equal(got, c.a) {
			t.Errorf("%v: A = %v, want %v", c.sources, got, c.a)
		}
		if got := rs.AAAA["web.marathon.mesos."]; !slices.Equal(got, c.aaaa) {
			t.Errorf("%v: AAAA = %v, want %v", c.sources, got, c.aaaa)
		}
		if !slices.Equal(rs.A["web.marathon.slave.mesos."], []string{"10.0.1.1"}) {
			t.Errorf("%v: .slave = %v", c.sources, rs.A["web.marathon.slave.mesos."])
		}
	}
}

// TestDiscoveryInfoPorts: protocol and name handling of DI ports.
func TestDiscoveryInfoPorts(t *testing.T) {
	task := runningTask("db.1", "ignored-name", "A-S1", "", "9.9.9.1")
	task.Discovery = &state.Discovery{Name: "My.DB", Ports: &state.Ports{Ports: []state.DiscoveryPort{
		{Number: 5432, Protocol: "TCP", Name: "pg"},
		{Number: 53, Name: ""},
		{Number: 9000, Protocol: "$$", Name: "Admin_Port"},
	}}}
	st := smallState()
	st.Frameworks[0].Tasks = []state.Task{task}
	rs, _ := Generate(build(st, nil), Config{Domain: "mesos", IPSources: []string{"netinfo"}})
	c := "my-db-" + hashID("db.1") + "-s1.marathon.mesos.:"
	raw := "My.DB-" + hashID("db.1") + "-s1.marathon.mesos.:"
	want := map[string][]string{
		"_my-db._tcp.marathon.mesos.":             {c + "5432", c + "53", c + "9000"},
		"_my-db._udp.marathon.mesos.":             {c + "53", c + "9000"},
		"_pg._my-db._tcp.marathon.mesos.":         {c + "5432"},
		"_admin-port._my-db._tcp.marathon.mesos.": {c + "9000"},
		"_admin-port._my-db._udp.marathon.mesos.": {c + "9000"},
		"_My.DB._tcp.marathon.mesos.":             {raw + "5432", raw + "53", raw + "9000"},
		"_pg._My.DB._tcp.marathon.mesos.":         {raw + "5432"},
	}
	for name, w := range want {
		if got := rs.SRV[name]; !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if !slices.Equal(rs.A["My.DB.marathon.mesos."], []string{"9.9.9.1"}) || rs.Has("ignored-name.marathon.mesos.") {
		t.Error("DI name does not replace the task name")
	}
	if rs.Has("_my-db._tcp.marathon.slave.mesos.") {
		t.Error("host-port SRVs without host ports")
	}
}

// TestResolvedHosts: host names in pids take the addresses the source
// resolved, all of them, in order.
func TestResolvedHosts(t *testing.T) {
	st := smallState()
	st.Slaves = append(st.Slaves, state.Slave{ID: "A-S2", PID: "slave(1)@agent2.example.com:5051"})
	st.Frameworks[0].PID = "scheduler(1)@marathon.example.com:8080"
	st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, runningTask("api.1", "api", "A-S2", "", ""))
	resolved := map[string][]netip.Addr{
		"agent2.example.com":   {netip.MustParseAddr("::ffff:10.0.1.2"), netip.MustParseAddr("fd00::2")},
		"marathon.example.com": {netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.10")},
	}
	rs, probs := Generate(build(st, resolved), Config{Domain: "mesos", IPSources: []string{"host"}})
	if len(probs) != 0 {
		t.Errorf("problems %v", probs)
	}
	want := map[string][]string{
		"A slave.mesos.":                      {"10.0.1.1", "10.0.1.2"},
		"AAAA slave.mesos.":                   {"fd00::2"},
		"A marathon.mesos.":                   {"10.0.0.9", "10.0.0.10"},
		"SRV _framework._tcp.marathon.mesos.": {"marathon.mesos.:8080"},
		"A api.marathon.mesos.":               {"10.0.1.2"},
		"AAAA api.marathon.mesos.":            {"fd00::2"},
		"A api.marathon.slave.mesos.":         {"10.0.1.2"},
		"AAAA api.marathon.slave.mesos.":      {"fd00::2"},
	}
	for k, w := range want {
		kind, name, _ := strings.Cut(k, " ")
		m := map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV}[kind]
		if !slices.Equal(m[name], w) {
			t.Errorf("%s = %v, want %v", k, m[name], w)
		}
	}
}

func TestNilAndEmptySnapshot(t *testing.T) {
	for _, snap := range []*model.Snapshot{nil, build(&state.State{}, nil)} {
		rs, probs := Generate(snap, Config{Domain: "mesos", Listener: "127.0.0.1", SOAMname: "ns1.mesos."})
		if len(rs.A) != 1 || len(rs.AAAA) != 0 || len(rs.SRV) != 0 || rs.Frameworks != nil {
			t.Errorf("A %v AAAA %v SRV %v", rs.A, rs.AAAA, rs.SRV)
		}
		if !hasProblem(probs, "leader", "leader") {
			t.Errorf("no leader problem: %v", probs)
		}
	}
}
