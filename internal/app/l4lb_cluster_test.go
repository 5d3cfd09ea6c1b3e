package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

// backendServer answers every connection on addr with its name.
func backendServer(t *testing.T, addr, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, name)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// A master builds the VIP table from Mesos and gossips it; an agent's load
// balancer serves it (the userspace plane on the 127.x mapping, so the
// host is untouched), its /v1/vips shows it, and the backends of an agent
// that leaves the gossip cluster are reported unreachable and dropped.
func TestAgentL4LBFromGossip(t *testing.T) {
	pA := backendServer(t, "127.0.0.1:0", "a")
	pB := backendServer(t, "127.0.0.2:0", "b")
	vipPort := testutil.FreePort(t)
	spec := fmt.Sprintf("/agentvip:%d", vipPort)
	tk := func(id, agent string, port int, ip string) state.Task {
		return state.Task{ID: id, Name: id, SlaveID: agent, State: "TASK_RUNNING",
			Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: uint32(port), Protocol: "tcp", Labels: labels("VIP_0", spec)}}}},
			Statuses:  testutil.RunningStatuses(ip)}
	}
	srv := testutil.NewStateServer(t)
	st := &state.State{Leader: srv.Leader(),
		Slaves:     []state.Slave{{ID: "S1", PID: "slave(1)@127.0.0.1:5051", Hostname: "a"}, {ID: "S2", PID: "slave(1)@127.0.0.2:5051", Hostname: "b"}},
		Frameworks: []state.Framework{{ID: "fw", Name: "marathon", Tasks: []state.Task{tk("a1", "S1", pA, "127.0.0.1"), tk("b1", "S2", pB, "127.0.0.2")}}}}
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	srv.Set(body)

	c := startL4LBCluster(t, srv, "", "")

	var listen string
	testutil.Eventually(t, 60*time.Second, "agent a serving the gossiped VIP with both backends up", func() bool {
		v := c.vips()
		if len(v) != 1 || len(v[0].Listen) != 1 || v[0].Plane != PlaneUserspace {
			return false
		}
		listen = v[0].Listen[0]
		s := c.states()
		return s["127.0.0.1"] == "up" && s["127.0.0.2"] == "up"
	})
	if !strings.HasPrefix(listen, "127.") || !strings.HasSuffix(listen, fmt.Sprint(":", vipPort)) {
		t.Fatalf("listen %s: want the 127.x mapping of the VIP", listen)
	}
	reachesBoth(t, listen)

	// Agent b leaves: its backend is reported unreachable and gets no
	// more connections.
	c.stopB()
	testutil.Eventually(t, 60*time.Second, "agent b's backend unreachable", func() bool { return c.states()["127.0.0.2"] == "unreachable" })
	onlyReaches(t, listen, "a", 20)
}

// l4lbCluster is a master reading a state server and two agents gossiping
// with it on loopback: a on 127.0.0.1 with the userspace load balancer on
// the 127.x mapping (the host is untouched), b on 127.0.0.2.
type l4lbCluster struct {
	a     NodeDNSConfig
	stopB context.CancelFunc
}

// startL4LBCluster starts the cluster; agentA and agentB are the agents'
// --mesos-agent URLs ("" for none).
func startL4LBCluster(t *testing.T, srv *testutil.StateServer, agentA, agentB string) *l4lbCluster {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
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
	c := &l4lbCluster{a: dnsCfg("agent-a", "127.0.0.1", []string{join})}
	c.a.L4LBPlane, c.a.L4LBLoopback, c.a.MesosAgent = PlaneUserspace, true, agentA
	run("agent a", func(ctx context.Context) error { return Agent(ctx, c.a, log, nil) })
	bc := dnsCfg("agent-b", "127.0.0.2", []string{join})
	bc.MesosAgent = agentB
	c.stopB = run("agent b", func(ctx context.Context) error { return Agent(ctx, bc, log, nil) })
	return c
}

// vips is agent a's /v1/vips (nil while it does not answer).
func (c *l4lbCluster) vips() []APIVIP {
	resp, err := http.Get("http://" + c.a.APIAddr + "/v1/vips")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, _, _ := ParseVIPs(b)
	return v
}

// states is the state of every backend agent a's /v1/vips lists, by IP.
func (c *l4lbCluster) states() map[string]string {
	out := map[string]string{}
	for _, v := range c.vips() {
		for _, b := range v.Backend {
			out[b.IP] = b.State
		}
	}
	return out
}

// reachesBoth waits until connections through listen have reached both
// backends ("a" and "b").
func reachesBoth(t *testing.T, listen string) {
	t.Helper()
	seen := map[string]bool{}
	testutil.Eventually(t, 30*time.Second, "both backends through "+listen, func() bool {
		if c, err := net.DialTimeout("tcp", listen, 2*time.Second); err == nil {
			b, _ := io.ReadAll(c)
			c.Close()
			seen[string(b)] = true
		}
		return seen["a"] && seen["b"]
	})
}

// onlyReaches makes n connections through listen and fails unless every
// one reached the backend named name.
func onlyReaches(t *testing.T, listen, name string, n int) {
	t.Helper()
	for i := range n {
		c, err := net.DialTimeout("tcp", listen, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != name {
			t.Fatalf("connection %d went to %q, want only %q", i, b, name)
		}
	}
}

func labels(kv ...string) *state.Labels {
	ls := &state.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls.Labels = append(ls.Labels, state.Label{Key: kv[i], Value: kv[i+1]})
	}
	return ls
}
