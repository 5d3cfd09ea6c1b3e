package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

// fakeAgent serves a Mesos agent's /state with one running task whose
// port carries the VIP label spec.
func fakeAgent(t *testing.T, id, ip string, port int, spec string) *httptest.Server {
	t.Helper()
	task := state.Task{ID: id + ".task", Name: "svc", SlaveID: id, FrameworkID: "fw", State: "TASK_RUNNING",
		Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: uint32(port), Protocol: "tcp", Labels: labels("VIP_0", spec)}}}},
		Statuses:  testutil.RunningStatuses(ip)}
	doc := map[string]any{"id": id, "pid": "slave(1)@" + ip + ":5051", "hostname": id,
		"frameworks": []any{map[string]any{"id": "fw", "name": "marathon",
			"executors": []any{map[string]any{"id": task.ID, "tasks": []state.Task{task}}}}}}
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/state" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Per-writer backend sets (§0.6): the master's Mesos knows no task, each
// agent reads its own tasks from its local Mesos agent and gossips them
// under its own name; agent a's load balancer serves the union, and when
// agent b stops, b's backends disappear from a's table (not kept as
// "unreachable": they went with their writer).
func TestAgentL4LBPerWriterSets(t *testing.T) {
	pA := backendServer(t, "127.0.0.1:0", "a")
	pB := backendServer(t, "127.0.0.2:0", "b")
	vipPort := testutil.FreePort(t)
	spec := fmt.Sprintf("11.22.33.44:%d", vipPort)
	agentA := fakeAgent(t, "S1", "127.0.0.1", pA, spec)
	agentB := fakeAgent(t, "S2", "127.0.0.2", pB, spec)

	srv := testutil.NewStateServer(t)
	body, err := json.Marshal(&state.State{Leader: srv.Leader()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Set(body)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	run := func(name string, f func(context.Context) error) context.CancelFunc {
		cctx, ccancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- f(cctx) }()
		t.Cleanup(func() {
			ccancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop", name)
			}
		})
		return ccancel
	}
	dnsCfg := func(name, ip string, join []string) NodeDNSConfig {
		return NodeDNSConfig{Listen: []string{testutil.FreeAddr(t)}, APIAddr: testutil.FreeAddr(t), NodeIP: ip,
			GossipBind: ip + ":0", Join: join, NodeName: name, FastGossip: true, Version: "test"}
	}
	gossipAddr := make(chan string, 1)
	mc := MasterConfig{DNS: dnsCfg("m1", "127.0.0.3", nil), Mesos: srv.HostPort(), MesosRefresh: time.Second, NoStream: true,
		ZonePushInterval: 50 * time.Millisecond}
	run("master", func(ctx context.Context) error {
		return Master(ctx, mc, log, func(r Ready) { gossipAddr <- r.Gossip })
	})
	var join string
	select {
	case join = <-gossipAddr:
	case <-time.After(30 * time.Second):
		t.Fatal("master not ready")
	}
	ac := dnsCfg("agent-a", "127.0.0.1", []string{join})
	ac.L4LBPlane, ac.L4LBLoopback, ac.MesosAgent = PlaneUserspace, true, agentA.URL
	run("agent a", func(ctx context.Context) error { return Agent(ctx, ac, log, nil) })
	bc := dnsCfg("agent-b", "127.0.0.2", []string{join})
	bc.MesosAgent = agentB.URL
	stopB := run("agent b", func(ctx context.Context) error { return Agent(ctx, bc, log, nil) })

	states := func() map[string]string {
		out := map[string]string{}
		resp, err := http.Get("http://" + ac.APIAddr + "/v1/vips")
		if err != nil {
			return out
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		vs, _, _ := ParseVIPs(b)
		for _, v := range vs {
			for _, be := range v.Backend {
				out[be.IP] = be.State
			}
		}
		return out
	}
	listen := fmt.Sprintf("127.22.33.44:%d", vipPort)
	testutil.Eventually(t, 60*time.Second, "agent a serving the union of both writers' backends", func() bool {
		s := states()
		return s["127.0.0.1"] == "up" && s["127.0.0.2"] == "up"
	})
	seen := map[string]bool{}
	testutil.Eventually(t, 30*time.Second, "both backends through "+listen, func() bool {
		if c, err := net.DialTimeout("tcp", listen, 2*time.Second); err == nil {
			b, _ := io.ReadAll(c)
			c.Close()
			seen[string(b)] = true
		}
		return seen["a"] && seen["b"]
	})

	stopB()
	testutil.Eventually(t, 60*time.Second, "agent b's backends gone with it", func() bool {
		s := states()
		_, hasB := s["127.0.0.2"]
		return !hasB && s["127.0.0.1"] == "up"
	})
	for i := 0; i < 20; i++ {
		c, err := net.DialTimeout("tcp", listen, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "a" {
			t.Fatalf("connection %d went to %q after agent b stopped", i, b)
		}
	}
}
