package alloc

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"

	tu "github.com/sextantdc/sextant/internal/testutil"
)

func post(t *testing.T, url string, body any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.Bytes()
}

func startMaster(t *testing.T, o MasterOptions) (*Master, *httptest.Server) {
	t.Helper()
	m := NewMaster(o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return m, srv
}

func register(t *testing.T, base, ip string) AgentInfo {
	t.Helper()
	resp, body := post(t, base+"/overlay-master/agents/register", agentReg(ip))
	if resp.StatusCode != 200 {
		t.Fatalf("register %s: %d %s", ip, resp.StatusCode, body)
	}
	var info AgentInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func getState(t *testing.T, base string) State {
	t.Helper()
	resp, err := http.Get(base + "/overlay-master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil {
		t.Fatalf("state: %d", resp.StatusCode)
	}
	return st
}

func TestFileMasterSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overlay", "network-state.json")
	n := network(t, seedNet)
	reg := prometheus.NewRegistry()
	_, srv := startMaster(t, MasterOptions{Network: n, Store: &FileStore{Path: path}, Registry: reg})
	a1 := register(t, srv.URL, "10.0.0.1")
	a2 := register(t, srv.URL, "10.0.0.2")
	if a1.Overlays[0].Subnet == a2.Overlays[0].Subnet {
		t.Fatal("same subnet twice")
	}
	resp, body := post(t, srv.URL+"/overlay-master/agents/registered", AgentInfo{IP: "10.0.0.1",
		Overlays: []AgentOverlay{{Info: OverlayInfo{Name: "dcos"}, State: OverlayState{Status: StatusOK}}}})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("registered: %d %s", resp.StatusCode, body)
	}
	srv.Close()

	// A new master on the same file: same allocations, and the next agent
	// gets the next block.
	_, srv2 := startMaster(t, MasterOptions{Network: n, Store: &FileStore{Path: path}})
	st := getState(t, srv2.URL)
	if len(st.Agents) != 2 || st.Agents[0].Overlays[0].Subnet != a1.Overlays[0].Subnet || st.Agents[0].Overlays[0].State.Status != StatusOK {
		t.Fatalf("after restart: %+v", st.Agents)
	}
	var compact bytes.Buffer
	json.Compact(&compact, n.Raw)
	if string(st.Network) != compact.String() {
		t.Errorf("network not echoed: %s", st.Network)
	}
	if again := register(t, srv2.URL, "10.0.0.2"); again.Overlays[0].Subnet != a2.Overlays[0].Subnet {
		t.Errorf("re-registration moved: %v → %v", a2.Overlays[0].Subnet, again.Overlays[0].Subnet)
	}
	if a3 := register(t, srv2.URL, "10.0.0.3"); a3.Overlays[0].Subnet != "9.0.2.0/24" || a3.Overlays[0].Backend.VXLAN.VTEPIP != "44.128.0.3/20" {
		t.Errorf("third agent %+v", a3.Overlays[0])
	}
	resp, body = post(t, srv2.URL+"/overlay-master/agents/delete", DeleteRequest{Agents: []string{"10.0.0.1"}})
	if resp.StatusCode != 200 || strings.Contains(string(body), `"10.0.0.1"`) {
		t.Errorf("delete: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{`{`, `{"agents":[]}`} {
		r, _ := http.Post(srv2.URL+"/overlay-master/agents/delete", "application/json", strings.NewReader(bad))
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Errorf("delete %s: %d", bad, r.StatusCode)
		}
	}
	if resp, _ := post(t, srv2.URL+"/overlay-master/agents/register", Registration{IP: "x"}); resp.StatusCode != 400 {
		t.Errorf("bad ip: %d", resp.StatusCode)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestNotRecoveredRefuses(t *testing.T) {
	m := NewMaster(MasterOptions{Network: network(t, seedNet), Store: &FileStore{Path: filepath.Join(t.TempDir(), "s")}})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	if resp, _ := post(t, srv.URL+"/overlay-master/agents/register", agentReg("10.0.0.1")); resp.StatusCode != 503 {
		t.Errorf("before recovery: %d", resp.StatusCode)
	}
}

func TestBadStoredStateIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	os.WriteFile(path, []byte("{torn"), 0o644)
	m := NewMaster(MasterOptions{Network: network(t, seedNet), Store: &FileStore{Path: path}})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := m.Recover(ctx); err == nil {
		t.Fatal("recovered from a torn document")
	}
}

func zkConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// Two masters on ZooKeeper: the leader allocates, the follower redirects
// agents to it, and after the leader goes the other takes over with the
// same allocations.
func TestZooKeeperMasters(t *testing.T) {
	addr := tu.StartZooKeeper(t)
	n := network(t, seedNet)
	log := slog.New(slog.DiscardHandler)
	type node struct {
		m      *Master
		srv    *httptest.Server
		el     *ZKElection
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func() *node {
		conn := zkConn(t, addr)
		nd := &node{done: make(chan struct{})}
		nd.srv = httptest.NewUnstartedServer(nil)
		nd.el = &ZKElection{Conn: conn, Dir: "/sextant/overlay/leader", URL: "http://" + nd.srv.Listener.Addr().String(), Log: log}
		nd.m = NewMaster(MasterOptions{Network: n, Store: &ZKStore{Conn: conn, Path: "/sextant/overlay/network-state"}, Elector: nd.el, Logger: log})
		nd.srv.Config.Handler = nd.m.Handler()
		nd.srv.Start()
		t.Cleanup(nd.srv.Close)
		var ctx context.Context
		ctx, nd.cancel = context.WithCancel(context.Background())
		go func() { defer close(nd.done); nd.el.Run(ctx) }()
		t.Cleanup(func() { nd.cancel(); <-nd.done })
		if err := nd.m.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		return nd
	}
	waitFor := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a := start()
	waitFor("first leader", func() bool { me, _, _ := a.el.Leader(); return me })
	b := start()
	waitFor("follower to see the leader", func() bool { _, url, _ := b.el.Leader(); return url == a.el.URL })
	if me, _, _ := b.el.Leader(); me {
		t.Fatal("two leaders")
	}
	x := register(t, a.srv.URL, "10.0.0.1")
	y := register(t, b.srv.URL, "10.0.0.2") // redirected to a
	if x.Overlays[0].Subnet != "9.0.0.0/24" || y.Overlays[0].Subnet != "9.0.1.0/24" {
		t.Fatalf("allocations %v %v", x.Overlays[0].Subnet, y.Overlays[0].Subnet)
	}
	if st := getState(t, b.srv.URL); len(st.Agents) != 2 {
		t.Fatalf("follower's state %+v", st.Agents)
	}
	a.cancel()
	<-a.done
	waitFor("failover", func() bool { me, _, _ := b.el.Leader(); return me })
	z := register(t, b.srv.URL, "10.0.0.3")
	again := register(t, b.srv.URL, "10.0.0.1")
	if z.Overlays[0].Subnet != "9.0.2.0/24" || again.Overlays[0].Subnet != x.Overlays[0].Subnet {
		t.Fatalf("after failover %v %v", z.Overlays[0].Subnet, again.Overlays[0].Subnet)
	}
	// The old leader, still serving HTTP but out of the election, refuses.
	if resp, _ := post(t, a.srv.URL+"/overlay-master/agents/register", agentReg("10.0.0.4")); resp.StatusCode == 200 {
		t.Error("a master out of the election allocated")
	}
}
