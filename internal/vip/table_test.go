package vip

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

var ip = netip.MustParseAddr

// §G: two instances of /mygroup/myapp on the dcos overlay.
func TestWorkedExample(t *testing.T) {
	st := modeltest.LoadState(t, "testdata/worked_example.json")
	snap := modeltest.FromState(st, modeltest.Options{Version: 7})
	tab, probs := BuildTable(snap, Config{IPv4: Range{DefaultMinIPv4, DCOSMaxIPv4}})
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(tab.VIPs) != 1 {
		t.Fatalf("VIPs = %+v", tab.VIPs)
	}
	v := tab.VIPs[0]
	if v.Protocol != TCP || v.Name != "mygroupmyapp.marathon" || v.Port != 80 || v.FQDN != "mygroupmyapp.marathon.l4lb.thisdcos.directory" {
		t.Errorf("key = %+v %q", v.Key, v.FQDN)
	}
	if !slices.Equal(v.Addrs, []netip.Addr{ip("11.198.144.68")}) {
		t.Errorf("addrs = %v, want 11.198.144.68", v.Addrs)
	}
	want := []Backend{
		{AgentIP: ip("10.0.0.7"), IP: ip("9.0.1.2"), Port: 80, Weight: 1, TaskID: "mygroup_myapp.task1"},
		{AgentIP: ip("10.0.0.8"), IP: ip("9.0.2.3"), Port: 80, Weight: 1, TaskID: "mygroup_myapp.task2"},
	}
	if !slices.Equal(v.Backends, want) {
		t.Errorf("backends = %+v", v.Backends)
	}
	b, _ := json.Marshal(tab)
	const wantJSON = `[{"vip":"mygroupmyapp.marathon.l4lb.thisdcos.directory:80","protocol":"tcp","backend":[{"ip":"9.0.1.2","port":80,"weight":1,"agent_ip":"10.0.0.7"},{"ip":"9.0.2.3","port":80,"weight":1,"agent_ip":"10.0.0.8"}]}]`
	if string(b) != wantJSON {
		t.Errorf("/v1/vips = %s\nwant        %s", b, wantJSON)
	}
	if len(tab.Names) != 1 || tab.Names[0].IPv4 != ip("11.198.144.68") || tab.Names[0].IPv6.IsValid() {
		t.Errorf("names = %+v", tab.Names)
	}

	// Task 2's health check fails: weight 0, still a backend.
	st.Frameworks[0].Tasks[1].HealthCheck = &state.HealthCheck{}
	f := false
	st.Frameworks[0].Tasks[1].Statuses[0].Healthy = &f
	snap = modeltest.FromState(st, modeltest.Options{Version: 8})
	tab, _ = BuildTable(snap, Config{IPv4: Range{DefaultMinIPv4, DCOSMaxIPv4}})
	if w := tab.VIPs[0].Backends[1].Weight; w != 0 {
		t.Errorf("unhealthy backend weight = %d", w)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ fw, spec, fqdn string }{
		{"marathon", "myapp:80", "myapp.marathon.l4lb.thisdcos.directory"},
		{"marathon", "/myapp:80", "myapp.marathon.l4lb.thisdcos.directory"},
		{"marathon", "/mygroup/myapp:80", "mygroupmyapp.marathon.l4lb.thisdcos.directory"},
		{"marathon", "My_App:80", "my-app.marathon.l4lb.thisdcos.directory"},
		{"hello-world", "/api.hello-world:80", "api.hello-world.hello-world.l4lb.thisdcos.directory"},
		{"kafka", "broker:9092", "broker.kafka.l4lb.thisdcos.directory"},
	}
	for _, tc := range tests {
		sp, err := ParseSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := NameKey(sp.Host, tc.fw)
		if !ok || FQDN(k) != tc.fqdn {
			t.Errorf("%s of %s = %q, want %q", tc.spec, tc.fw, FQDN(k), tc.fqdn)
		}
	}
}

func vipTask(id, agent, st string, ports []state.DiscoveryPort, ips ...string) state.Task {
	return state.Task{ID: id, Name: id, SlaveID: agent, State: st, Discovery: discovery(ports...), Statuses: testutil.RunningStatuses(ips...)}
}

func TestBackendRules(t *testing.T) {
	tcp := func(n uint32, kv ...string) state.DiscoveryPort {
		return state.DiscoveryPort{Number: n, Protocol: "tcp", Labels: labels(kv...)}
	}
	// Container port on the overlay: one backend per task IP, both families.
	overlay := vipTask("overlay", "agent-a", "TASK_RUNNING", []state.DiscoveryPort{tcp(8080, "VIP_0", "svc:80")}, "9.0.1.2", "fd01:b::2")
	// Host port (network-scope host): the agent IP and host port.
	host := vipTask("host", "agent-b", "TASK_RUNNING", []state.DiscoveryPort{tcp(31000, "VIP_0", "svc:80", "network-scope", "host")}, "172.17.0.2")
	// Killing: weight 0.
	killing := vipTask("killing", "agent-a", "TASK_KILLING", []state.DiscoveryPort{tcp(8080, "VIP_0", "svc:80")}, "9.0.1.9")
	// Staging: not a backend.
	staging := vipTask("staging", "agent-a", "TASK_STAGING", []state.DiscoveryPort{tcp(8080, "VIP_0", "svc:80")}, "9.0.1.10")
	// Health check without a result: weight 0.
	nohealth := vipTask("nohealth", "agent-b", "TASK_RUNNING", []state.DiscoveryPort{tcp(8080, "VIP_0", "svc:80")}, "9.0.2.9")
	nohealth.HealthCheck = &state.HealthCheck{Type: "COMMAND"}
	// IP VIP: only backends of its family.
	ipvip := vipTask("ipvip", "agent-b", "TASK_RUNNING", []state.DiscoveryPort{tcp(5000, "VIP_0", "1.2.3.4:5000")}, "9.0.2.4", "fd01:b::4")
	// udp, lower-case key, port 0 ignored, other protocol dropped.
	other := vipTask("other", "agent-a", "TASK_RUNNING", []state.DiscoveryPort{
		{Number: 53, Protocol: "UDP", Labels: labels("vip0", "dns:53")},
		{Number: 0, Protocol: "tcp", Labels: labels("VIP_0", "zero:1")},
		{Number: 9, Protocol: "sctp", Labels: labels("VIP_0", "sctp:9")},
		{Number: 10, Protocol: "tcp", Labels: labels("Vip_0", "notavip:10")},
	}, "9.0.1.3")

	snap := snapshotOf(t, "marathon", overlay, host, killing, staging, nohealth, ipvip, other)
	tab, probs := BuildTable(snap, Config{})
	// Ports are merged by the model's build, which reports bad port items.
	probs = append(snap.Problems, probs...)
	got := map[string][]Backend{}
	for _, v := range tab.VIPs {
		k := v.Name
		if k == "" {
			k = v.IP.String()
		}
		got[v.Protocol.String()+" "+k] = v.Backends
	}
	a, b := ip("10.0.0.7"), ip("10.0.0.8")
	want := map[string][]Backend{
		"tcp svc.marathon": {
			{AgentIP: a, IP: ip("9.0.1.2"), Port: 8080, Weight: 1, TaskID: "overlay"},
			{AgentIP: a, IP: ip("9.0.1.9"), Port: 8080, Weight: 0, TaskID: "killing"},
			{AgentIP: b, IP: ip("9.0.2.9"), Port: 8080, Weight: 0, TaskID: "nohealth"},
			{AgentIP: b, IP: b, Port: 31000, Weight: 1, TaskID: "host"},
			{AgentIP: a, IP: ip("fd01:b::2"), Port: 8080, Weight: 1, TaskID: "overlay"},
		},
		"tcp 1.2.3.4":      {{AgentIP: b, IP: ip("9.0.2.4"), Port: 5000, Weight: 1, TaskID: "ipvip"}},
		"udp dns.marathon": {{AgentIP: a, IP: ip("9.0.1.3"), Port: 53, Weight: 1, TaskID: "other"}},
	}
	if len(got) != len(want) {
		t.Errorf("VIPs = %v", got)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s backends = %+v\nwant %+v", k, got[k], w)
		}
	}
	// The sctp port is reported, naming the task and the field.
	if len(probs) != 1 || !strings.Contains(probs[0].String(), `task "other"`) || !strings.Contains(probs[0].Field, "protocol") {
		t.Errorf("problems = %v", probs)
	}
	// The named VIP has both families: one address each.
	for _, v := range tab.VIPs {
		if v.Name == "svc.marathon" && (len(v.Addrs) != 2 || !v.Addrs[0].Is4() || !v.Addrs[1].Is6()) {
			t.Errorf("svc addrs = %v", v.Addrs)
		}
	}

	// With IPv6 disabled the IPv6 backend and address go away.
	tab, _ = BuildTable(snap, Config{DisableIPv6: true})
	for _, v := range tab.VIPs {
		for _, be := range v.Backends {
			if be.IP.Is6() {
				t.Errorf("IPv6 backend with IPv6 disabled: %+v", be)
			}
		}
		if v.Name == "svc.marathon" && len(v.Addrs) != 1 {
			t.Errorf("addrs = %v", v.Addrs)
		}
	}
}

func TestBadLabelsSkipped(t *testing.T) {
	good := vipTask("good", "agent-a", "TASK_RUNNING", []state.DiscoveryPort{{Number: 80, Protocol: "tcp", Labels: labels("VIP_0", "good:80", "VIP_1", "bad", "VIP_2", "bad:0", "VIP_3", "/$$$:80")}}, "9.0.1.2")
	scope := vipTask("scope", "agent-a", "TASK_RUNNING", []state.DiscoveryPort{{Number: 81, Protocol: "tcp", Labels: labels("VIP_0", "x:81", "network-scope", "host", "network-scope", "container")}}, "9.0.1.3")
	legacy := state.Task{ID: "legacy", Name: "legacy", SlaveID: "agent-b", State: "TASK_RUNNING",
		Resources: state.Resources{Ports: "[31000-31001]"},
		Labels: []state.Label{{Key: "VIP_PORT0", Value: "tcp://legacy:80"}, {Key: "VIP_PORT5", Value: "tcp://far:80"},
			{Key: "VIP_PORTx", Value: "tcp://nan:80"}, {Key: "vip_port1", Value: "http://proto:80"}},
		Statuses: testutil.RunningStatuses("10.0.0.8"),
	}
	snap := snapshotOf(t, "marathon", good, scope, legacy)
	snap.Tasks[0].App = nil
	tab, probs := BuildTable(snap, Config{})
	// Ports are merged by the model's build, which reports bad port items.
	probs = append(snap.Problems, probs...)
	var names []string
	for _, v := range tab.VIPs {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"good.marathon", "legacy.marathon"}) {
		t.Errorf("VIPs = %v", names)
	}
	for _, v := range tab.VIPs {
		if v.Name == "legacy.marathon" && (len(v.Backends) != 1 || v.Backends[0].Port != 31000 || v.Backends[0].IP != ip("10.0.0.8")) {
			t.Errorf("legacy backends = %+v", v.Backends)
		}
	}
	wantFields := []string{"label VIP_1", "label VIP_2", "label VIP_3", "discovery.ports[0].labels.network-scope", "labels.VIP_PORT5", "labels.VIP_PORTx", "labels.vip_port1"}
	var fields []string
	for _, p := range probs {
		fields = append(fields, p.Field)
		if !strings.Contains(p.Item, "task ") {
			t.Errorf("problem %v does not name the task", p)
		}
	}
	slices.Sort(fields)
	slices.Sort(wantFields)
	if !slices.Equal(fields, wantFields) {
		t.Errorf("problem fields = %q\nwant %q", fields, wantFields)
	}
}

// Port mappings merge with discovery ports; host networking relabels host
// ports as plain ports.
func TestPortMerge(t *testing.T) {
	bridge := state.Task{ID: "bridge", Name: "bridge", SlaveID: "agent-a", State: "TASK_RUNNING",
		Container: &state.Container{Type: "DOCKER", Docker: &state.Docker{PortMappings: []state.PortMapping{{HostPort: 31005, ContainerPort: 80, Protocol: "tcp"}}}},
		Discovery: discovery(state.DiscoveryPort{Number: 31005, Protocol: "tcp", Labels: labels("VIP_0", "web:80", "network-scope", "host")}),
		Statuses:  testutil.RunningStatuses("172.17.0.2"),
	}
	hostnet := state.Task{ID: "hostnet", Name: "hostnet", SlaveID: "agent-b", State: "TASK_RUNNING",
		Discovery: discovery(state.DiscoveryPort{Number: 31010, Protocol: "tcp", Labels: labels("VIP_0", "h:80", "network-scope", "host")}),
		Statuses:  testutil.RunningStatuses("10.0.0.8"),
	}
	ucr := state.Task{ID: "ucr", Name: "ucr", SlaveID: "agent-a", State: "TASK_RUNNING",
		Container: &state.Container{Type: "MESOS", NetworkInfos: []state.NetworkInfo{{Name: "mesos-bridge",
			PortMappings: []state.PortMapping{{HostPort: 31020, ContainerPort: 8080, Protocol: "tcp"}}}}},
		Discovery: discovery(state.DiscoveryPort{Number: 8080, Protocol: "tcp", Labels: labels("VIP_0", "ucr:80", "network-scope", "container")}),
		Statuses:  testutil.RunningStatuses("172.31.254.3"),
	}
	snap := snapshotOf(t, "marathon", bridge, hostnet, ucr)
	ports, probs := snap.Tasks[0].NetPorts, snap.Problems
	if len(probs) != 0 || len(ports) != 1 {
		t.Fatalf("ports = %+v, %v", ports, probs)
	}
	if p := ports[0]; !p.HasPort || p.Port != 80 || !p.HasHostPort || p.HostPort != 31005 || len(p.VIPs) != 1 {
		t.Errorf("merged port = %+v", p)
	}
	ports = snap.Tasks[1].NetPorts
	if len(ports) != 1 || ports[0].HasHostPort || ports[0].Port != 31010 {
		t.Errorf("host networking ports = %+v", ports)
	}
	tab, _ := BuildTable(snap, Config{})
	for _, v := range tab.VIPs {
		want := Backend{AgentIP: ip("10.0.0.7"), IP: ip("10.0.0.7"), Port: 31005, Weight: 1, TaskID: "bridge"}
		switch v.Name {
		case "h.marathon":
			want = Backend{AgentIP: ip("10.0.0.8"), IP: ip("10.0.0.8"), Port: 31010, Weight: 1, TaskID: "hostnet"}
		case "ucr.marathon":
			// UCR bridge: gossiped as agentIP:hostPort, programmed locally
			// as containerIP:containerPort.
			want = Backend{AgentIP: ip("10.0.0.7"), IP: ip("10.0.0.7"), Port: 31020, Weight: 1, TaskID: "ucr",
				Local: netip.MustParseAddrPort("172.31.254.3:8080")}
		}
		if len(v.Backends) != 1 || v.Backends[0] != want {
			t.Errorf("%s backends = %+v", v.Name, v.Backends)
		}
	}
}

// QUIRK decision: `myapp:80` and `/myapp:80` are one VIP with one address.
func TestNormalisedKey(t *testing.T) {
	one := vipTask("one", "agent-a", "TASK_RUNNING", []state.DiscoveryPort{{Number: 80, Protocol: "tcp", Labels: labels("VIP_0", "myapp:80")}}, "9.0.1.2")
	two := vipTask("two", "agent-b", "TASK_RUNNING", []state.DiscoveryPort{{Number: 80, Protocol: "tcp", Labels: labels("VIP_0", "/myapp:80")}}, "9.0.2.2")
	tab, _ := BuildTable(snapshotOf(t, "marathon", one, two), Config{})
	if len(tab.VIPs) != 1 || len(tab.VIPs[0].Backends) != 2 || !slices.Equal(tab.VIPs[0].Labels, []string{"/myapp:80", "myapp:80"}) {
		t.Fatalf("VIPs = %+v", tab.VIPs)
	}
	if tab.VIPs[0].Addrs[0] != ip("11.215.14.108") {
		t.Errorf("addr = %v", tab.VIPs[0].Addrs)
	}
}

func TestAllocateCollisions(t *testing.T) {
	r := Range{ip("11.0.0.0"), ip("11.0.0.3")} // Q = 3: offsets 0..2
	keys := []string{"a", "b", "c", "d", "e"}
	m1, err := r.Allocate(keys)
	if err == nil || !strings.Contains(err.Error(), "out of named VIP addresses") {
		t.Errorf("err = %v", err)
	}
	if len(m1) != 4 {
		t.Errorf("allocated %v", m1)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range m1 {
		if seen[a] || a.Compare(r.Min) < 0 || a.Compare(r.Max) > 0 {
			t.Errorf("bad allocation %v", m1)
		}
		seen[a] = true
	}
	// Any arrival order gives the same mapping.
	m2, _ := r.Allocate([]string{"e", "d", "c", "b", "a", "a"})
	for k, v := range m1 {
		if m2[k] != v {
			t.Errorf("order dependent: %v vs %v", m1, m2)
		}
	}
	// A collision takes the next address; the sorted-first key keeps the
	// ideal one.
	small := Range{DefaultMinIPv4, ip("11.0.0.254")}
	ideal, _ := small.Ideal("foo.bar") // 11.0.0.37, the upstream vector
	other := ""
	for i := 0; i < 10000 && other == ""; i++ {
		k := "name" + itoaInt(i)
		if a, _ := small.Ideal(k); a == ideal {
			other = k
		}
	}
	if other == "" {
		t.Fatal("no colliding key found in 10000 tries over 254 slots")
	}
	m, _ := small.Allocate([]string{other, "foo.bar"})
	if m["foo.bar"] != ideal || m[other] != ideal.Next() {
		t.Errorf("collision of %s and %s: %v", "foo.bar", other, m)
	}
	wrap := Range{ip("11.0.0.0"), ip("11.0.0.2")}
	m, _ = wrap.Allocate([]string{"x", "y", "z"})
	if len(m) != 3 {
		t.Errorf("wrap allocation %v", m)
	}
}

func itoaInt(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestReachable(t *testing.T) {
	snap := loadSnapshot(t, "testdata/worked_example.json")
	tab, _ := BuildTable(snap, Config{})
	down := ip("10.0.0.8")
	f, st := tab.Reachable(func(a netip.Addr) bool { return a != down })
	if len(f.VIPs[0].Backends) != 1 || f.VIPs[0].Backends[0].IP != ip("9.0.1.2") {
		t.Errorf("filtered = %+v", f.VIPs[0].Backends)
	}
	if st != (ReachStats{Backends: 1, UnreachableBackends: 1, UnreachableNodes: 1}) {
		t.Errorf("stats = %+v", st)
	}
	if len(tab.VIPs[0].Backends) != 2 {
		t.Error("Reachable modified its receiver")
	}
	// All unreachable: fail open.
	f, st = tab.Reachable(func(netip.Addr) bool { return false })
	if len(f.VIPs[0].Backends) != 2 || st.UnreachableVIPs != 1 || st.UnreachableNodes != 2 {
		t.Errorf("fail open: %+v %+v", f.VIPs[0].Backends, st)
	}
	if f, st := tab.Reachable(nil); f != tab || st.Backends != 2 {
		t.Errorf("nil filter: %+v", st)
	}
}
