package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/config"
)

// flakySyncer fails the syncs it is told to and records the others.
type flakySyncer struct {
	mu     sync.Mutex
	fail   int // fail this many more syncs
	synced []Desired
	calls  int
}

func (f *flakySyncer) Sync(d Desired) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return errors.New("netlink: device busy")
	}
	f.synced = append(f.synced, d)
	return nil
}

func (f *flakySyncer) state() (int, []Desired) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]Desired(nil), f.synced...)
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The agent configures after failed attempts, re-applies everything after
// a failed sync, leaves an unchanged state alone, and follows peers.
func TestAgentRetriesAndResyncs(t *testing.T) {
	n, _, _ := config.ParseNetwork([]byte(seedNet), "")
	m := alloc.NewMaster(alloc.MasterOptions{Network: n, Store: &alloc.FileStore{Path: filepath.Join(t.TempDir(), "s")}})
	if err := m.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	k := &flakySyncer{fail: 2} // the first configuration fails twice
	a := NewAgent(AgentOptions{IP: "10.0.0.1", Masters: []string{srv.URL}, Kernel: k, PeerInterval: 20 * time.Millisecond,
		Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-a.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("not configured")
	}
	if info := a.Info(); info.ConfigurationAttempts != 3 || info.Overlays[0].State.Status != alloc.StatusOK {
		t.Fatalf("info %+v", info)
	}
	// Unchanged: no more syncs after the first poll.
	time.Sleep(150 * time.Millisecond)
	calls, _ := k.state()
	time.Sleep(150 * time.Millisecond)
	if c2, _ := k.state(); c2 != calls {
		t.Errorf("%d syncs of an unchanged state", c2-calls)
	}
	// A peer arrives while the kernel fails once: the next poll re-applies.
	k.mu.Lock()
	k.fail = 1
	k.mu.Unlock()
	if _, err := m.Register(context.Background(), alloc.Registration{IP: "10.0.0.2", AllocateSubnet: true, MesosBridge: true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the peer programmed after the failure", func() bool {
		_, synced := k.state()
		last := synced[len(synced)-1]
		return len(last.FDB) == 1 && last.FDB[0].Dst.String() == "10.0.0.2"
	})
	// The agent API.
	resp, err := http.Get(srv.URL + "/overlay-master/state")
	if err != nil {
		t.Fatal(err)
	}
	var st alloc.State
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Agents[0].Overlays[0].State.Status != alloc.StatusOK {
		t.Errorf("the master did not record the agent's state: %+v", st.Agents[0].Overlays[0].State)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/overlay-agent/overlay", nil))
	var info alloc.AgentInfo
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &info) != nil || info.IP != "10.0.0.1" {
		t.Errorf("agent API %d %s", rec.Code, rec.Body)
	}
}

// FuzzPeers: whatever a master's state holds, building the desired state
// does not panic, and every peer it programs parsed.
func FuzzPeers(f *testing.F) {
	agents := cluster(f, seedNet, reg("10.0.0.1", true, true), reg("10.0.0.2", true, true))
	b, _ := json.Marshal(alloc.State{Agents: agents})
	f.Add(b)
	f.Add([]byte(`{"agents":[{"ip":"10.0.0.9","overlays":[{"backend":{"vxlan":{"vtep_ip":"44.128.0.9/20","vtep_mac":"70:b3:d5:80:00:09"}},"subnet":"::/0"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st alloc.State
		if json.Unmarshal(b, &st) != nil {
			return
		}
		peers, _ := PeersFrom(st.Agents, "10.0.0.1")
		d, err := Build(agents[0], peers, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			if !p.AgentIP.Is4() || !p.VTEPIP.Is4() || len(p.MAC) != 6 {
				t.Fatalf("bad peer kept: %+v", p)
			}
		}
		_ = d.String()
	})
}
