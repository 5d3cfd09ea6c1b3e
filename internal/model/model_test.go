package model

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var ip = netip.MustParseAddr

func ptr[T any](v T) *T { return &v }

// cluster is two agents and a Marathon framework with the given tasks.
func cluster(tasks ...Task) *MesosObservation {
	return &MesosObservation{
		Leader: Leader{Raw: "master@10.0.0.1:5050", Host: "10.0.0.1", Port: 5050, OK: true},
		Agents: []Agent{
			{ID: "a1", Hostname: "a1.example", Host: "10.0.0.7", Addrs: []netip.Addr{ip("10.0.0.7")}},
			{ID: "a2", Hostname: "a2.example", Host: "a2.example", Addrs: []netip.Addr{ip("fd00::8"), ip("10.0.0.8")}},
		},
		Frameworks: []Framework{{Name: "marathon", First: 0, End: len(tasks)}},
		Tasks:      tasks,
	}
}

func TestHealthMerge(t *testing.T) {
	tests := []struct {
		name         string
		mesosCheck   bool
		mesosHealthy *bool
		appChecks    bool
		results      []HealthResult
		state        TaskState
		wantHealth   Health
		wantChecked  bool
		wantServing  bool
	}{
		{name: "no checks", state: TaskRunning, wantServing: true},
		{name: "no checks, killing", state: TaskKilling},
		{name: "mesos check, no result", mesosCheck: true, state: TaskRunning, wantChecked: true},
		{name: "mesos healthy", mesosCheck: true, mesosHealthy: ptr(true), state: TaskRunning, wantHealth: Healthy, wantChecked: true, wantServing: true},
		{name: "mesos unhealthy", mesosCheck: true, mesosHealthy: ptr(false), state: TaskRunning, wantHealth: Unhealthy, wantChecked: true},
		{name: "marathon check, no result", appChecks: true, state: TaskRunning, wantChecked: true},
		{name: "marathon one of two alive", appChecks: true, results: []HealthResult{{Alive: false}, {Alive: true}}, state: TaskRunning,
			wantHealth: Healthy, wantChecked: true, wantServing: true},
		{name: "marathon none alive", appChecks: true, results: []HealthResult{{Alive: false}}, state: TaskRunning,
			wantHealth: Unhealthy, wantChecked: true},
		{name: "mesos healthy, marathon unhealthy", mesosCheck: true, mesosHealthy: ptr(true), appChecks: true,
			results: []HealthResult{{Alive: false}}, state: TaskRunning, wantHealth: Unhealthy, wantChecked: true},
		{name: "healthy but killing", appChecks: true, results: []HealthResult{{Alive: true}}, state: TaskKilling,
			wantHealth: Healthy, wantChecked: true},
		{name: "unhealthy status without a check", mesosHealthy: ptr(false), state: TaskRunning, wantHealth: Unhealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := Task{ID: "web.1", Name: "web", AgentID: "a1", State: tc.state, MesosHealthCheck: tc.mesosCheck, MesosHealthy: tc.mesosHealthy}
			app := App{ID: "/web", Tasks: []AppTask{{ID: "web.1", SlaveID: "a1", State: tc.state, HealthResults: tc.results}}}
			if tc.appChecks {
				app.HealthChecks = []HealthCheck{{Protocol: "HTTP"}}
			}
			s := Build(Observations{Mesos: cluster(task), Marathon: &MarathonObservation{Apps: []App{app}}}, BuildOptions{Version: 1})
			got := &s.Tasks[0]
			if got.Health != tc.wantHealth || got.HealthChecked != tc.wantChecked || got.Serving() != tc.wantServing {
				t.Errorf("health %v checked %v serving %v, want %v %v %v", got.Health, got.HealthChecked, got.Serving(),
					tc.wantHealth, tc.wantChecked, tc.wantServing)
			}
			if got.App == nil || got.App.ID != "/web" || got.AppTask == nil || got.AppTask.Mesos != 0 {
				t.Errorf("join: app %v task %v", got.App, got.AppTask)
			}
		})
	}
}

func TestBuildDoesNotModifyObservations(t *testing.T) {
	m := cluster(Task{ID: "t", Name: "t", AgentID: "a2", State: TaskRunning, IPs: []netip.Addr{ip("9.0.0.2")}})
	mar := &MarathonObservation{Apps: []App{{ID: "/t", Tasks: []AppTask{{ID: "t"}}}}}
	s := Build(Observations{Mesos: m, Marathon: mar}, BuildOptions{Version: 1})
	if m.Tasks[0].App != nil || m.Tasks[0].Agent != 0 || m.Agents[1].IP.IsValid() || mar.Apps[0].Tasks[0].Mesos != 0 {
		t.Fatalf("observation modified: %+v %+v", m.Tasks[0], mar.Apps[0].Tasks[0])
	}
	if s.Tasks[0].Agent != 1 || s.Tasks[0].AgentIP != ip("10.0.0.8") || s.Agents[1].IP != ip("10.0.0.8") {
		t.Fatalf("agent join: %+v", s.Tasks[0])
	}
	// A second build from the same observations is the same.
	s2 := Build(Observations{Mesos: m, Marathon: mar}, BuildOptions{Version: 2})
	if s2.Tasks[0].AgentIP != s.Tasks[0].AgentIP || s2.Tasks[0].App.ID != "/t" {
		t.Fatal("rebuild differs")
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name string
		app  App
		task AppTask
		want []Endpoint
	}{
		{
			name: "host mode uses the allocated host ports",
			app:  App{ID: "/h", Network: NetworkHost, Ports: []AppPort{{Name: "http", ServicePort: 10000}, {Name: "admin", ServicePort: 10001, Protocol: "udp"}}},
			task: AppTask{ID: "h.1", Host: "a2.example", SlaveID: "a2", Ports: []uint16{31000, 31001}},
			want: []Endpoint{
				{Index: 0, Name: "http", Host: "a2.example", Addr: ip("10.0.0.8"), Port: 31000, ServicePort: 10000, Protocol: "tcp"},
				{Index: 1, Name: "admin", Host: "a2.example", Addr: ip("10.0.0.8"), Port: 31001, ServicePort: 10001, Protocol: "udp"},
			},
		},
		{
			name: "host mode without allocated ports uses the definition",
			app:  App{ID: "/h", Network: NetworkHost, RequirePorts: true, Ports: []AppPort{{ServicePort: 8080}}},
			task: AppTask{ID: "h.1", Host: "10.0.0.7"},
			want: []Endpoint{{Index: 0, Host: "10.0.0.7", Addr: ip("10.0.0.7"), Port: 8080, ServicePort: 8080, Protocol: "tcp"}},
		},
		{
			name: "bridge mode: host ports on the agent",
			app:  App{ID: "/b", Network: NetworkBridge, Ports: []AppPort{{Name: "web", ContainerPort: 80, ServicePort: 10005, HasHostPort: true}}},
			task: AppTask{ID: "b.1", Host: "a1.example", SlaveID: "a1", Ports: []uint16{31555}},
			want: []Endpoint{{Index: 0, Name: "web", Host: "a1.example", Addr: ip("10.0.0.7"), Port: 31555, ServicePort: 10005, Protocol: "tcp"}},
		},
		{
			name: "container mode: container IP and port, whatever the host ports",
			app: App{ID: "/c", Network: NetworkContainer, Ports: []AppPort{
				{Name: "a", ContainerPort: 8080, ServicePort: 10010}, {Name: "b", ContainerPort: 9090, HasHostPort: true}}},
			task: AppTask{ID: "c.1", Host: "a1.example", Ports: []uint16{31999}, IPAddresses: []netip.Addr{ip("9.0.1.5")}},
			want: []Endpoint{
				{Index: 0, Name: "a", Host: "9.0.1.5", Addr: ip("9.0.1.5"), Port: 8080, ServicePort: 10010},
				{Index: 1, Name: "b", Host: "9.0.1.5", Addr: ip("9.0.1.5"), Port: 9090},
			},
		},
		{
			name: "container mode before the task has an IP",
			app:  App{ID: "/c", Network: NetworkContainer, Ports: []AppPort{{ContainerPort: 8080}}},
			task: AppTask{ID: "c.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.app.Tasks = []AppTask{tc.task}
			s := Build(Observations{Mesos: cluster(), Marathon: &MarathonObservation{Apps: []App{tc.app}}}, BuildOptions{})
			got := s.Apps[0].Tasks[0].Endpoints
			if !slices.Equal(got, tc.want) {
				t.Errorf("endpoints\n got %+v\nwant %+v", got, tc.want)
			}
			if s.Apps[0].Tasks[0].Mesos != -1 {
				t.Errorf("task without a Mesos twin joined %d", s.Apps[0].Tasks[0].Mesos)
			}
		})
	}
}

func TestBuildProblems(t *testing.T) {
	task := Task{ID: "t", Name: "t", AgentID: "a1", State: TaskRunning,
		PortMappings: []PortMapping{{HostPort: 1, ContainerPort: 2, Protocol: "sctp"}},
		Labels:       []Label{{Key: "VIP_PORT9", Value: "tcp://x:1"}}}
	// Terminal tasks get no merged ports and so no port problems.
	done := Task{ID: "d", Name: "d", AgentID: "a1", State: TaskFinished, Labels: []Label{{Key: "VIP_PORTx", Value: "y"}}}
	m := cluster(task, done)
	m.Problems = []Problem{{Item: "agent \"x\"", Field: "id", Reason: "from the source"}}
	apps := []App{{ID: "/t", Tasks: []AppTask{{ID: "t"}}}, {ID: "/t"}}
	s := Build(Observations{Mesos: m, Marathon: &MarathonObservation{Apps: apps}}, BuildOptions{})
	var got []string
	for _, p := range s.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`agent "x": id: from the source`,
		`app "/t": id: duplicate app id; first one kept`,
		`app "/t" task "t" of framework "marathon": container.port_mappings[0].protocol`,
		`app "/t" task "t" of framework "marathon": labels.VIP_PORT9`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems = %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestTaskStates(t *testing.T) {
	for st := StateUnknown; st <= TaskGoneByOperator; st++ {
		back, ok := ParseTaskState(st.String())
		if !ok || back != st {
			t.Errorf("%v does not round-trip (%v %v)", st, back, ok)
		}
	}
	if _, ok := ParseTaskState("TASK_BOGUS"); ok {
		t.Error("unknown state accepted")
	}
	if !TaskLost.Terminal() || TaskUnreachable.Terminal() || TaskRunning.Terminal() {
		t.Error("terminal classification")
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("VIP_0", "/a:80", "tcp", "host", uint32(80), uint16(31000), uint8(2), "9.0.0.1")
	f.Add("VIP_PORT0", "udp://b:53", "UDP", "container", uint32(0), uint16(0), uint8(1), "")
	f.Fuzz(func(t *testing.T, key, val, proto, scope string, num uint32, hostPort uint16, mode uint8, addr string) {
		var ips []netip.Addr
		if a, err := netip.ParseAddr(addr); err == nil {
			ips = []netip.Addr{a}
		}
		task := Task{ID: "t", Name: "t", AgentID: "a1", State: TaskRunning, Ports: []uint64{31000}, IPs: ips,
			Labels:       []Label{{Key: key, Value: val}},
			PortMappings: []PortMapping{{HostPort: uint32(hostPort), ContainerPort: num, Protocol: proto}},
			Discovery:    &Discovery{Ports: []DiscoveryPort{{Number: num, Protocol: proto, Labels: []Label{{Key: key, Value: val}, {Key: "network-scope", Value: scope}}}}}}
		app := App{ID: "/t", Network: NetworkMode(mode % 3), Ports: []AppPort{{ContainerPort: hostPort, ServicePort: hostPort}},
			Tasks: []AppTask{{ID: "t", SlaveID: "a1", Ports: []uint16{hostPort}, IPAddresses: ips}}}
		s := Build(Observations{Mesos: cluster(task), Marathon: &MarathonObservation{Apps: []App{app}}}, BuildOptions{})
		for _, p := range s.Tasks[0].NetPorts {
			if p.Protocol != TCP && p.Protocol != UDP {
				t.Fatalf("port with protocol %v", p.Protocol)
			}
		}
		for _, e := range s.Apps[0].Tasks[0].Endpoints {
			if e.Port == 0 {
				t.Fatal("endpoint without a port")
			}
		}
	})
}

// A task Marathon does not list yet, of an app with health checks, is
// health-checked without a result: not serving until one says so.
func TestHealthOfTaskMarathonDoesNotListYet(t *testing.T) {
	tests := []struct {
		id, app     string
		checks      bool
		wantChecked bool
	}{
		{"dev_web.instance-1b2c._app.1", "/dev/web", true, true},
		{"web.marathon-1b2c", "/web", true, true},
		{"web.1b2c-3d4e", "/web", true, true},
		{"web.instance-1b2c._app.1", "/web", false, false},
		{"other.instance-1b2c._app.1", "/web", true, false},
		{"noseparator", "/noseparator", true, false},
	}
	for _, tc := range tests {
		app := App{ID: tc.app}
		if tc.checks {
			app.HealthChecks = []HealthCheck{{Protocol: "HTTP"}}
		}
		task := Task{ID: tc.id, Name: "web", AgentID: "a1", State: TaskRunning}
		s := Build(Observations{Mesos: cluster(task), Marathon: &MarathonObservation{Apps: []App{app}}}, BuildOptions{Version: 1})
		got := &s.Tasks[0]
		if got.HealthChecked != tc.wantChecked || got.Serving() == tc.wantChecked || got.App != nil {
			t.Errorf("%s of %s: checked %v serving %v app %v, want checked %v", tc.id, tc.app, got.HealthChecked, got.Serving(), got.App, tc.wantChecked)
		}
	}
	// Healthy by Mesos already (published health): serving.
	task := Task{ID: "web.instance-1._app.1", AgentID: "a1", State: TaskRunning, MesosHealthy: ptr(true)}
	s := Build(Observations{Mesos: cluster(task), Marathon: &MarathonObservation{Apps: []App{{ID: "/web", HealthChecks: []HealthCheck{{Protocol: "HTTP"}}}}}}, BuildOptions{Version: 1})
	if !s.Tasks[0].Serving() {
		t.Error("a task Mesos reports healthy is not serving")
	}
}
