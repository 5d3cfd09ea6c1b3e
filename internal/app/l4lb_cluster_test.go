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
	ac.L4LBPlane, ac.L4LBLoopback = PlaneUserspace, true
	run("agent a", func(ctx context.Context) error { return Agent(ctx, ac, log, nil) })
	bc := dnsCfg("agent-b", "127.0.0.2", []string{join})
	stopB := run("agent b", func(ctx context.Context) error { return Agent(ctx, bc, log, nil) })

	vips := func() []APIVIP {
		resp, err := http.Get("http://" + ac.APIAddr + "/v1/vips")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		v, _, _ := ParseVIPs(b)
		return v
	}
	states := func() map[string]string {
		out := map[string]string{}
		for _, v := range vips() {
			for _, b := range v.Backend {
				out[b.IP] = b.State
			}
		}
		return out
	}
	var listen string
	testutil.Eventually(t, 60*time.Second, "agent a serving the gossiped VIP with both backends up", func() bool {
		v := vips()
		if len(v) != 1 || len(v[0].Listen) != 1 || v[0].Plane != PlaneUserspace {
			return false
		}
		listen = v[0].Listen[0]
		s := states()
		return s["127.0.0.1"] == "up" && s["127.0.0.2"] == "up"
	})
	if !strings.HasPrefix(listen, "127.") || !strings.HasSuffix(listen, fmt.Sprint(":", vipPort)) {
		t.Fatalf("listen %s: want the 127.x mapping of the VIP", listen)
	}
	seen := map[string]bool{}
	testutil.Eventually(t, 30*time.Second, "both backends through "+listen, func() bool {
		if c, err := net.DialTimeout("tcp", listen, 2*time.Second); err == nil {
			b, _ := io.ReadAll(c)
			c.Close()
			seen[string(b)] = true
		}
		return seen["a"] && seen["b"]
	})

	// Agent b leaves: its backend is reported unreachable and gets no
	// more connections.
	stopB()
	testutil.Eventually(t, 60*time.Second, "agent b's backend unreachable", func() bool { return states()["127.0.0.2"] == "unreachable" })
	for i := 0; i < 20; i++ {
		c, err := net.DialTimeout("tcp", listen, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "a" {
			t.Fatalf("connection %d went to %q after agent b left", i, b)
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
