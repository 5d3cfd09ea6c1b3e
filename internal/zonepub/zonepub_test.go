package zonepub

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
	"github.com/sextantdc/sextant/internal/vip"
)

// snapshot is one agent and a Marathon task web with a VIP, healthy or
// not (a Mesos health check).
func snapshot(version uint64, healthy bool) *model.Snapshot {
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{{ID: "S1", PID: "slave(1)@10.0.0.7:5051", Hostname: "agent-1"}},
		Frameworks: []state.Framework{{ID: "F1", Name: "marathon", PID: "scheduler@10.0.0.1:8080", Tasks: []state.Task{{
			ID: "web.1", Name: "web", SlaveID: "S1", State: "TASK_RUNNING", HealthCheck: &state.HealthCheck{},
			Discovery: &state.Discovery{Name: "web", Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: 80, Protocol: "tcp",
				Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}}}}},
			Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 1, Healthy: &healthy,
				ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: "9.0.1.2"}}}}}}},
		}}}},
	}
	return modeltest.FromState(st, modeltest.Options{Version: version})
}

func zone(t *testing.T, items []Item, name string) *directory.Zone {
	t.Helper()
	for _, it := range items {
		if it.Name == name {
			z := new(directory.Zone)
			if err := z.UnmarshalBinary(it.Payload); err != nil {
				t.Fatal(err)
			}
			return z
		}
	}
	t.Fatalf("no item %s", name)
	return nil
}

func hasName(z *directory.Zone, name string) bool {
	return slices.ContainsFunc(z.Records, func(r directory.Record) bool { return r.Name == name })
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		healthy  bool
		ignore   bool
		wantTask bool
	}{
		{"healthy task is named", true, false, true},
		{"unhealthy task leaves the task zones", false, false, false},
		{"unhealthy task kept when health is ignored", false, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(Options{IgnoreHealth: tc.ignore})
			items, probs := b.Build(snapshot(1, tc.healthy), []netip.Addr{netip.MustParseAddr("10.0.0.1")})
			if len(probs) != 0 {
				t.Fatalf("problems %v", probs)
			}
			var names []string
			for _, it := range items {
				names = append(names, it.Name)
			}
			want := []string{directory.ZoneDCOS, "l4lb.thisdcos.directory", "mesos.thisdcos.directory", directory.VIPsItem, vip.TableItem}
			if !slices.Equal(names, want) {
				t.Fatalf("items %v, want %v", names, want)
			}
			dcos := zone(t, items, directory.ZoneDCOS)
			if got := hasName(dcos, "web.marathon.containerip.dcos.thisdcos.directory"); got != tc.wantTask {
				t.Errorf("task name present %v, want %v", got, tc.wantTask)
			}
			mirror := zone(t, items, "mesos.thisdcos.directory")
			if got := hasName(mirror, "web.marathon.mesos.thisdcos.directory"); got != tc.wantTask {
				t.Errorf("mirror name present %v, want %v", got, tc.wantTask)
			}
			// The VIP name stays: its backend is weighed 0 instead.
			if !hasName(zone(t, items, "l4lb.thisdcos.directory"), "web.marathon.l4lb.thisdcos.directory") {
				t.Error("VIP name missing")
			}
		})
	}
}

// target records what is published.
type target struct {
	mu      sync.Mutex
	leading bool
	lead    chan struct{}
	got     map[string][]byte
	pushes  int
}

func (t *target) Leading() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.leading
}
func (t *target) Leadership() <-chan struct{} { return t.lead }
func (t *target) Masters() []netip.Addr       { return nil }
func (t *target) Publish(name string, payload []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if string(t.got[name]) == string(payload) {
		return false
	}
	t.got[name] = payload
	t.pushes++
	return true
}

func (t *target) count() (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.got), t.pushes
}

var _ Target = (*target)(nil)

func TestRunPublishesOnlyWhileLeading(t *testing.T) {
	tg := &target{lead: make(chan struct{}, 1), got: map[string][]byte{}}
	snaps := make(chan *model.Snapshot, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, snaps, tg, Options{PublishInterval: 10 * time.Millisecond}) }()
	snaps <- snapshot(1, true)
	time.Sleep(100 * time.Millisecond)
	if n, _ := tg.count(); n != 0 {
		t.Fatalf("published %d items while not leading", n)
	}
	tg.mu.Lock()
	tg.leading = true
	tg.mu.Unlock()
	tg.lead <- struct{}{}
	testutil.Eventually(t, 10*time.Second, "items published on becoming leader", func() bool { n, _ := tg.count(); return n == 5 })
	// The same snapshot again changes nothing; a changed one republishes
	// only what changed (the task zones, not the VIP items' names).
	snaps <- snapshot(2, true)
	snaps <- snapshot(3, false)
	testutil.Eventually(t, 10*time.Second, "the unhealthy task's zones pushed", func() bool { _, p := tg.count(); return p > 5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With VIPAddr the l4lb zone answers the mapped address, while the table
// item (what data planes program) keeps the VIP address.
func TestBuildMapsVIPNames(t *testing.T) {
	lo := func(a netip.Addr) netip.Addr {
		b := a.As4()
		b[0] = 127
		return netip.AddrFrom4(b)
	}
	items, probs := NewBuilder(Options{VIPAddr: lo}).Build(snapshot(1, true), nil)
	if len(probs) != 0 {
		t.Fatalf("problems %v", probs)
	}
	l4 := zone(t, items, "l4lb.thisdcos.directory")
	var a netip.Addr
	for _, r := range l4.Records {
		if r.Name == "web.marathon.l4lb.thisdcos.directory." || r.Name == "web.marathon.l4lb.thisdcos.directory" {
			a = r.Addr
		}
	}
	var tab vip.Table
	for _, it := range items {
		if it.Name == vip.TableItem {
			if err := tab.UnmarshalBinary(it.Payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(tab.Names) != 1 || tab.Version != 0 {
		t.Fatalf("table item names %+v version %d", tab.Names, tab.Version)
	}
	v4 := tab.Names[0].IPv4
	if v4.As4()[0] != 11 || a != lo(v4) {
		t.Fatalf("zone answers %q for VIP %s, want %s", a, v4, lo(v4))
	}
}
