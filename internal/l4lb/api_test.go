package l4lb

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/vip"
)

// statsPlane counts one connection per backend it was synced with, and
// serves VIP a.b.c.d at 127.b.c.d.
type statsPlane struct {
	mu   sync.Mutex
	last []Service
	ch   chan struct{}
}

func (p *statsPlane) Sync(_ context.Context, s []Service) error {
	p.mu.Lock()
	p.last = s
	p.mu.Unlock()
	select {
	case p.ch <- struct{}{}:
	default:
	}
	return nil
}

func (p *statsPlane) Close() error { return nil }

func (p *statsPlane) Stats() []ServiceStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ServiceStats
	for _, s := range p.last {
		st := ServiceStats{Key: s.Key, Refused: 1}
		for _, b := range s.Backends {
			st.Backends = append(st.Backends, BackendStats{Addr: b.Addr, Connections: 3, Active: 1, BytesToBackend: 7, BytesFromBackend: 9})
		}
		out = append(out, st)
	}
	return out
}

func (p *statsPlane) ListenAddr(v netip.AddrPort) (netip.AddrPort, bool) {
	b := v.Addr().As4()
	b[0] = 127
	return netip.AddrPortFrom(netip.AddrFrom4(b), v.Port()), true
}

var (
	_ StatsReporter = (*statsPlane)(nil)
	_ Listener      = (*statsPlane)(nil)
)

// runLB runs an LB on plane until the test ends and returns it and its
// snapshot channel.
func runLB(t *testing.T, plane Dataplane, o Options) (*LB, chan *model.Snapshot) {
	t.Helper()
	lb, err := New(plane, o)
	if err != nil {
		t.Fatal(err)
	}
	snaps := make(chan *model.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx, snaps) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		lb.Close()
	})
	return lb, snaps
}

func waitSync(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no sync within 10s")
	}
}

func TestAPIStatesAndCounters(t *testing.T) {
	plane := &statsPlane{ch: make(chan struct{}, 4)}
	up := task("a1", "agent-a", "two:80", 80, "9.0.1.2")
	killing := task("a2", "agent-a", "two:80", 80, "9.0.1.3")
	killing.State = "TASK_KILLING"
	far := task("b1", "agent-b", "two:80", 80, "9.0.2.2")
	lb, snaps := runLB(t, plane, Options{Plane: "test", PlaneInfo: "because", Config: Config{
		Unreachable: func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.0.0.8")} }}})
	if got := lb.VIPs(); len(got) != 0 {
		t.Fatalf("before the first snapshot: %+v", got)
	}
	snaps <- snapshot(1, up, killing, far)
	waitSync(t, plane.ch)

	got := lb.VIPs()
	if len(got) != 1 {
		t.Fatalf("VIPs %+v", got)
	}
	v := got[0]
	if v.VIP != "two.marathon.l4lb.thisdcos.directory:80" || v.Protocol != "tcp" || v.Plane != "test" || v.Mode != "random" || v.Refused != 1 {
		t.Errorf("VIP %+v", v)
	}
	if len(v.Addrs) != 1 || len(v.Listen) != 1 || !strings.HasPrefix(v.Listen[0], "127.") || strings.TrimPrefix(v.Listen[0], "127") != strings.TrimPrefix(v.Addrs[0]+":80", "11") {
		t.Errorf("addrs %v listen %v: want the VIP and its 127.x mapping", v.Addrs, v.Listen)
	}
	want := map[string]struct {
		state string
		conns uint64
	}{"9.0.1.2": {StateUp, 3}, "9.0.1.3": {StateDraining, 3}, "9.0.2.2": {StateUnreachable, 0}}
	if len(v.Backend) != 3 {
		t.Fatalf("backends %+v", v.Backend)
	}
	for _, b := range v.Backend {
		w, ok := want[b.IP]
		if !ok || b.State != w.state || b.Connections != w.conns || b.Port != 80 || b.TaskID == "" {
			t.Errorf("backend %+v, want state %s conns %d", b, w.state, w.conns)
		}
	}
	// The sync's result is recorded once the plane's Sync returned.
	testutil.Eventually(t, 10*time.Second, "the sync recorded", func() bool { return lb.Status().LastSync != "" })
	st := lb.Status()
	if st.Plane != "test" || st.PlaneInfo != "because" || st.VIPs != 1 || st.Backends != 2 || st.UnreachableBackends != 1 || st.LastSync == "" || st.LastSyncError != "" {
		t.Errorf("status %+v", st)
	}

	// Over HTTP: dcos-net's fields first and intact, an ETag, 304 for it.
	srv := httptest.NewServer(lb.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/vips")
	if err != nil {
		t.Fatal(err)
	}
	var plain []struct {
		VIP      string `json:"vip"`
		Protocol string `json:"protocol"`
		Backend  []struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"backend"`
	}
	err = json.NewDecoder(resp.Body).Decode(&plain)
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	if err != nil || len(plain) != 1 || len(plain[0].Backend) != 3 || tag == "" {
		t.Fatalf("as a dcos-net client: %+v %v etag %q", plain, err, tag)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/vips", nil)
	req.Header.Set("If-None-Match", tag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match the current tag: %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/v1/l4lb")
	if err != nil {
		t.Fatal(err)
	}
	var st2 Status
	_ = json.NewDecoder(resp.Body).Decode(&st2)
	resp.Body.Close()
	if st2.Plane != "test" {
		t.Errorf("/v1/l4lb %+v", st2)
	}
}

// Every backend unreachable: all are kept (fail open) and shown up.
func TestAPIFailOpenIsNotUnreachable(t *testing.T) {
	plane := &statsPlane{ch: make(chan struct{}, 4)}
	lb, snaps := runLB(t, plane, Options{Config: Config{
		Unreachable: func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.0.0.7")} }}})
	snaps <- snapshot(1, task("a1", "agent-a", "one:80", 80, "9.0.1.2"))
	waitSync(t, plane.ch)
	if got := lb.VIPs(); len(got) != 1 || got[0].Backend[0].State != StateUp {
		t.Errorf("fail open: %+v", got)
	}
}

func itemsSnapshot(version uint64, payload []byte) *model.Snapshot {
	s := snapshot(version)
	s.Items = []model.Item{{Name: "dcos.thisdcos.directory", Version: 1}, {Name: vip.TableItem, Version: version, Payload: payload}}
	return s
}

// An agent programs the table it receives as an item; a bad item keeps
// the last good table.
func TestRunFromItems(t *testing.T) {
	table, _ := vip.BuildTable(snapshot(1, task("a1", "agent-a", "two:80", 80, "9.0.1.2"), task("b1", "agent-b", "two:80", 80, "9.0.2.2")), vip.Config{})
	good, err := table.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	plane := &statsPlane{ch: make(chan struct{}, 4)}
	lb, snaps := runLB(t, plane, Options{Config: Config{FromItems: true, Unreachable: func() []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("10.0.0.8")}
	}}})
	snaps <- snapshot(1) // no item yet: nothing served
	waitSync(t, plane.ch)
	if n := len(lb.Services()); n != 0 {
		t.Fatalf("before the item: %d services", n)
	}
	snaps <- itemsSnapshot(2, good)
	waitSync(t, plane.ch)
	svcs := lb.Services()
	if len(svcs) != 1 || len(svcs[0].Backends) != 1 || svcs[0].Backends[0].Addr != ap("9.0.1.2:80") {
		t.Fatalf("from the item, agent-b unreachable: %+v", svcs)
	}
	snaps <- itemsSnapshot(3, []byte(`{"format":1,"vips":[{"protocol":"sctp"}]}`))
	// The bad item is read (a sync follows) and ignored.
	waitSync(t, plane.ch)
	if got := lb.Services(); len(got) != 1 || !got[0].Equal(&svcs[0]) {
		t.Errorf("after a bad item: %+v, want the last good %+v", got, svcs)
	}
}

func TestParseVIPs(t *testing.T) {
	doc := `[{"vip":"a.marathon.l4lb.thisdcos.directory:80","protocol":"tcp","backend":[{"ip":"10.0.0.7","port":23456}]},
		{"vip":"1.2.3.4:5000","protocol":"udp","backend":[{"ip":"10.0.0.8","port":5000,"state":"draining","connections":4}]},
		{"protocol":"tcp"}, {"vip":"x:1"}, 7, {"vip":"y:1","protocol":"tcp","backend":[{"port":"bad"}]}]`
	got, bad, err := ParseVIPs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Backend[0].State != StateDraining || got[1].Backend[0].Connections != 4 || got[0].Backend[0].Port != 23456 {
		t.Errorf("parsed %+v", got)
	}
	wantBad := []string{"[2].vip", "[3].protocol", "[4]", "[5]"}
	if len(bad) != len(wantBad) {
		t.Fatalf("bad %v, want %v", bad, wantBad)
	}
	for i, w := range wantBad {
		if !strings.Contains(bad[i].Error(), w) {
			t.Errorf("bad[%d] = %v, want it to name %s", i, bad[i], w)
		}
	}
	for _, whole := range []string{"", "{}", `{"vip":"a"}`, "[", "null x"} {
		if _, _, err := ParseVIPs([]byte(whole)); err == nil {
			t.Errorf("%q: want an error", whole)
		}
	}
}

func FuzzParseVIPs(f *testing.F) {
	f.Add([]byte(`[{"vip":"1.2.3.4:5000","protocol":"udp","backend":[{"ip":"10.0.0.8","port":5000}]}]`))
	f.Add([]byte(`[1,{"vip":""}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := ParseVIPs(b)
		if err != nil && got != nil {
			t.Fatal("an error with results")
		}
		for _, v := range got {
			if v.VIP == "" || v.Protocol == "" {
				t.Fatalf("kept an element without vip or protocol: %+v", v)
			}
		}
	})
}

// partialPlane serves every service but the first it is given.
type partialPlane struct{ statsPlane }

func (p *partialPlane) Stats() []ServiceStats {
	st := p.statsPlane.Stats()
	if len(st) > 1 {
		return st[1:]
	}
	return st
}

// A service the plane could not serve (a port taken) has no address to
// connect to.
func TestAPIListenOnlyWhatIsServed(t *testing.T) {
	plane := &partialPlane{statsPlane{ch: make(chan struct{}, 4)}}
	lb, snaps := runLB(t, plane, Options{})
	snaps <- snapshot(1, task("a1", "agent-a", "one:80", 80, "9.0.1.2"), task("a2", "agent-a", "two:80", 80, "9.0.1.3"))
	waitSync(t, plane.ch)
	got := lb.VIPs()
	if len(got) != 2 {
		t.Fatalf("VIPs %+v", got)
	}
	served := 0
	for _, v := range got {
		served += len(v.Listen)
	}
	if served != 1 {
		t.Errorf("listen addresses %d, want 1 (one service not served): %+v", served, got)
	}
}

// The balancing mode travels with the gossiped table: an agent, which
// has no tasks, balances as the master would.
func TestFromItemsKeepsTheMode(t *testing.T) {
	m1 := task("a1", "agent-a", "two:80", 80, "9.0.1.2")
	m1.Labels = []state.Label{{Key: ModeLabel, Value: "maglev"}}
	m2 := task("b1", "agent-b", "two:80", 80, "9.0.2.2")
	m2.Labels = []state.Label{{Key: ModeLabel, Value: "Maglev"}}
	table, _ := vip.BuildTable(snapshot(1, m1, m2), vip.Config{})
	wire, err := table.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back vip.Table
	if err := back.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(2) // no tasks, as on an agent
	for _, fromTasks := range []bool{true, false} {
		tab, s := &back, snap
		if fromTasks {
			tab, s = table, snapshot(1, m1, m2)
		}
		svcs, rep, _ := desiredFrom(tab, nil, s, Config{})
		if len(svcs) != 1 || svcs[0].Mode != Maglev || len(rep.Problems) != 0 {
			t.Errorf("from tasks %v: %+v %v", fromTasks, svcs, rep.Problems)
		}
	}
	// Disagreeing tasks: the default, reported, both ways.
	m2.Labels = nil
	table, _ = vip.BuildTable(snapshot(1, m1, m2), vip.Config{})
	wire, _ = table.MarshalBinary()
	if err := back.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	if svcs, rep, _ := desiredFrom(&back, nil, snap, Config{}); svcs[0].Mode != Random || len(rep.Problems) != 1 {
		t.Errorf("disagreeing, from the table: %+v %v", svcs, rep.Problems)
	}
}
