package l4lb

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

var ap = netip.MustParseAddrPort

func labels(kv ...string) *state.Labels {
	ls := &state.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls.Labels = append(ls.Labels, state.Label{Key: kv[i], Value: kv[i+1]})
	}
	return ls
}

// task is a running task on agent with one tcp discovery port carrying
// the VIP label spec.
func task(id, agent, spec string, port uint32, ips ...string) state.Task {
	return state.Task{ID: id, Name: id, SlaveID: agent, State: "TASK_RUNNING",
		Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: port, Protocol: "tcp", Labels: labels("VIP_0", spec)}}}},
		Statuses:  testutil.RunningStatuses(ips...)}
}

func snapshot(version uint64, tasks ...state.Task) *model.Snapshot {
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{
			{ID: "agent-a", PID: "slave(1)@10.0.0.7:5051", Hostname: "a.example"},
			{ID: "agent-b", PID: "slave(1)@10.0.0.8:5051", Hostname: "b.example"},
		},
		Frameworks: []state.Framework{{ID: "fw", Name: "marathon", Tasks: tasks}},
	}
	return modeltest.FromState(st, modeltest.Options{Version: version})
}

// The worked example of §G: /mygroup/myapp:80 with two overlay tasks.
func TestDesiredWorkedExample(t *testing.T) {
	snap := modeltest.LoadSnapshot(t, "../vip/testdata/worked_example.json", 7)
	got, rep := Desired(snap, Config{})
	want := []Service{{Key: Key{Protocol: TCP, Addr: ap("11.198.144.249:80")}, Name: "mygroupmyapp.marathon", Mode: Random,
		Backends: []Backend{{Addr: ap("9.0.1.2:80"), Weight: 1}, {Addr: ap("9.0.2.3:80"), Weight: 1}}}}
	if !servicesEqual(got, want) {
		t.Errorf("services = %+v\nwant %+v", got, want)
	}
	if rep.VIPs != 1 || rep.Backends != 2 || len(rep.Problems) != 0 {
		t.Errorf("report = %+v", rep)
	}
}

func servicesEqual(a, b []Service) bool {
	return slices.EqualFunc(a, b, func(x, y Service) bool { return x.Equal(&y) })
}

func TestDesiredWeightsFamiliesAndModes(t *testing.T) {
	web1 := task("web1", "agent-a", "web:80", 8080, "9.0.1.2", "fd01:b::2")
	web1.Labels = []state.Label{{Key: ModeLabel, Value: "maglev"}}
	web2 := task("web2", "agent-b", "web:80", 8080, "9.0.2.2")
	web2.Labels = []state.Label{{Key: ModeLabel, Value: "Maglev"}}
	web2.State = "TASK_KILLING"
	// Disagreeing tasks: default mode and a problem.
	db1 := task("db1", "agent-a", "db:5432", 5432, "9.0.1.3")
	db1.Labels = []state.Label{{Key: ModeLabel, Value: "maglev"}}
	db2 := task("db2", "agent-b", "db:5432", 5432, "9.0.2.3")
	// An IP VIP with a bad mode value.
	ipv := task("ipv", "agent-a", "1.2.3.4:5000", 5000, "9.0.1.4")
	ipv.Labels = []state.Label{{Key: ModeLabel, Value: "wlc"}}
	got, rep := Desired(snapshot(3, web1, web2, db1, db2, ipv), Config{})

	byKey := map[string]Service{}
	for _, s := range got {
		byKey[s.Key.String()] = s
	}
	var web4, web6 string
	for k, s := range byKey {
		if s.Name == "web.marathon" {
			if s.Addr.Addr().Is4() {
				web4 = k
			} else {
				web6 = k
			}
		}
	}
	if w := byKey[web4]; w.Mode != Maglev || !slices.Equal(w.Backends, []Backend{{Addr: ap("9.0.1.2:8080"), Weight: 1}, {Addr: ap("9.0.2.2:8080"), Weight: 0}}) {
		t.Errorf("web IPv4 = %+v", w)
	}
	if w := byKey[web6]; w.Mode != Maglev || !slices.Equal(w.Backends, []Backend{{Addr: ap("[fd01:b::2]:8080"), Weight: 1}}) {
		t.Errorf("web IPv6 = %+v (services %v)", w, got)
	}
	if s := byKey["tcp/1.2.3.4:5000"]; s.Mode != Random || len(s.Backends) != 1 {
		t.Errorf("IP VIP = %+v", s)
	}
	for _, s := range got {
		if s.Name == "db.marathon" && s.Mode != Random {
			t.Errorf("db mode = %v", s.Mode)
		}
	}
	if len(got) != 4 || !slices.IsSortedFunc(got, func(a, b Service) int { return balance.CompareKeys(a.Key, b.Key) }) {
		t.Errorf("services not 4 and sorted: %v", got)
	}
	var reasons []string
	for _, p := range rep.Problems {
		reasons = append(reasons, p.String())
	}
	all := strings.Join(reasons, "\n")
	if len(rep.Problems) != 2 || !strings.Contains(all, "disagree") || !strings.Contains(all, `"wlc"`) {
		t.Errorf("problems:\n%s", all)
	}
}

// §B.5: backends on unreachable agents go, unless all of a VIP's do.
func TestDesiredReachability(t *testing.T) {
	snap := snapshot(1,
		task("a1", "agent-a", "two:80", 80, "9.0.1.2"), task("b1", "agent-b", "two:80", 80, "9.0.2.2"),
		task("b2", "agent-b", "one:80", 80, "9.0.2.3"))
	down := []netip.Addr{netip.MustParseAddr("10.0.0.8")}
	got, rep := Desired(snap, Config{Unreachable: func() []netip.Addr { return down }})
	for _, s := range got {
		switch s.Name {
		case "two.marathon":
			if len(s.Backends) != 1 || s.Backends[0].Addr != ap("9.0.1.2:80") {
				t.Errorf("two: %+v", s.Backends)
			}
		case "one.marathon":
			if len(s.Backends) != 1 {
				t.Errorf("one (fail open): %+v", s.Backends)
			}
		}
	}
	// Backends on unreachable agents count whether dropped or kept (fail open).
	if rep.UnreachableBackends != 2 || rep.UnreachableVIPs != 1 || rep.UnreachableNodes != 1 || rep.Backends != 2 {
		t.Errorf("report = %+v", rep.ReachStats)
	}
}

// §B.4: a UCR bridge task's host-port backend is its container address
// on its own agent, and agentIP:hostPort elsewhere.
func TestDesiredLocalSubstitution(t *testing.T) {
	ucr := state.Task{ID: "ucr", Name: "ucr", SlaveID: "agent-a", State: "TASK_RUNNING",
		Container: &state.Container{Type: "MESOS", NetworkInfos: []state.NetworkInfo{{Name: "mesos-bridge",
			PortMappings: []state.PortMapping{{HostPort: 31020, ContainerPort: 8080, Protocol: "tcp"}}}}},
		Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: 8080, Protocol: "tcp",
			Labels: labels("VIP_0", "ucr:80", "network-scope", "container")}}}},
		Statuses: testutil.RunningStatuses("172.31.254.3"),
	}
	snap := snapshot(1, ucr)
	for node, want := range map[string]netip.AddrPort{"10.0.0.7": ap("172.31.254.3:8080"), "10.0.0.8": ap("10.0.0.7:31020")} {
		got, _ := Desired(snap, Config{NodeIP: netip.MustParseAddr(node)})
		if len(got) != 1 || len(got[0].Backends) != 1 || got[0].Backends[0].Addr != want {
			t.Errorf("on %s: %+v, want backend %s", node, got, want)
		}
	}
}

// fakePlane records syncs and fails on demand.
type fakePlane struct {
	mu    sync.Mutex
	syncs [][]Service
	fail  int // fail this many more syncs
	ch    chan []Service
}

func (f *fakePlane) Sync(_ context.Context, s []Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs = append(f.syncs, s)
	if f.fail > 0 {
		f.fail--
		return errors.New("injected")
	}
	select {
	case f.ch <- s:
	default:
	}
	return nil
}

func (f *fakePlane) Close() error { return nil }

func (f *fakePlane) Stats() []ServiceStats {
	return []ServiceStats{{Key: Key{Protocol: TCP, Addr: ap("11.198.144.249:80")}, Refused: 2,
		Backends: []BackendStats{{Addr: ap("9.0.1.2:80"), Connections: 5, Active: 1, Failures: 1, BytesToBackend: 10, BytesFromBackend: 20}}}}
}

var _ StatsReporter = (*fakePlane)(nil)

func TestRunSyncsRetriesAndResyncs(t *testing.T) {
	plane := &fakePlane{fail: 1, ch: make(chan []Service, 8)}
	reg := prometheus.NewPedanticRegistry()
	var mu sync.Mutex
	var down []netip.Addr
	lb, err := New(plane, Options{Registerer: reg, Config: Config{Unreachable: func() []netip.Addr {
		mu.Lock()
		defer mu.Unlock()
		return down
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	snaps := make(chan *model.Snapshot, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx, snaps) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	snaps <- snapshot(1, task("a1", "agent-a", "two:80", 80, "9.0.1.2"), task("b1", "agent-b", "two:80", 80, "9.0.2.2"))
	// The first sync fails; the retry (after a second) succeeds.
	var got []Service
	select {
	case got = <-plane.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no successful sync")
	}
	if len(got) != 1 || len(got[0].Backends) != 2 {
		t.Fatalf("synced %+v", got)
	}
	if n := promtest.ToFloat64(lb.m.syncFailures); n != 1 {
		t.Errorf("sync failures = %v", n)
	}

	// Reachability changes outside snapshots: Resync recomputes.
	mu.Lock()
	down = []netip.Addr{netip.MustParseAddr("10.0.0.8")}
	mu.Unlock()
	lb.Resync()
	select {
	case got = <-plane.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no sync after Resync")
	}
	if len(got[0].Backends) != 1 || got[0].Backends[0].Addr != ap("9.0.1.2:80") {
		t.Errorf("after agent-b unreachable: %+v", got)
	}
	if !servicesEqual(lb.Services(), got) {
		t.Errorf("Services() = %+v", lb.Services())
	}
	if n := promtest.ToFloat64(lb.m.unreachBackends); n != 1 {
		t.Errorf("unreachable backends gauge = %v", n)
	}

	// A snapshot that changed only gossip items is skipped.
	before := len(plane.syncs)
	snap := snapshot(2, task("a1", "agent-a", "two:80", 80, "9.0.1.2"), task("b1", "agent-b", "two:80", 80, "9.0.2.2"))
	snaps <- snap
	time.Sleep(100 * time.Millisecond)
	plane.mu.Lock()
	after := len(plane.syncs)
	plane.mu.Unlock()
	if after != before+1 {
		t.Errorf("a snapshot with new sources: %d syncs, want 1", after-before)
	}

	// Metrics lint clean, with the per-backend series.
	probs, err := promtest.GatherAndLint(reg)
	if err != nil || len(probs) != 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
	const want = `
# HELP sextant_l4lb_backend_connections_total Connections (UDP: flows) forwarded to a backend.
# TYPE sextant_l4lb_backend_connections_total counter
sextant_l4lb_backend_connections_total{backend="9.0.1.2:80",name="",protocol="tcp",vip="11.198.144.249:80"} 5
# HELP sextant_l4lb_vip_refused_total New connections to a VIP refused (TCP reset, UDP dropped): no backend takes new connections.
# TYPE sextant_l4lb_vip_refused_total counter
sextant_l4lb_vip_refused_total{name="",protocol="tcp",vip="11.198.144.249:80"} 2
`
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want), "sextant_l4lb_backend_connections_total", "sextant_l4lb_vip_refused_total"); err != nil {
		t.Error(err)
	}
	n, err := promtest.GatherAndCount(reg, "sextant_l4lb_backend_weight", "sextant_l4lb_backend_bytes_total")
	if err != nil || n != 1+2 {
		t.Errorf("weight and bytes series = %d, %v", n, err)
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	lb, err := New(&fakePlane{}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(&fakePlane{}, Options{Registerer: reg}); err == nil {
		t.Error("a second LB on the same registry registered")
	}
	lb.Close()
	lb2, err := New(&fakePlane{}, Options{Registerer: reg})
	if err != nil {
		t.Errorf("after Close: %v", err)
	}
	lb2.Close()
}
