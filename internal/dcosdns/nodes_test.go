package dcosdns

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/testutil"
)

// runNode runs the role in-process and returns what it bound; the role
// stops (leaving the cluster) when the returned cancel is called or the
// test ends.
func runNode(t *testing.T, o Options) (Ready, context.CancelFunc) {
	t.Helper()
	readyc := make(chan Ready, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o.Ready = func(r Ready) { readyc <- r }
	go func() { done <- Run(ctx, o) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	select {
	case r := <-readyc:
		return r, stop
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	return Ready{}, nil
}

func getNodes(t *testing.T, api string) []APINode {
	t.Helper()
	_, _, body := getBody(t, "http://"+api+"/v1/nodes")
	var out []APINode
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/v1/nodes: %v: %s", err, body)
	}
	return out
}

// TestNodesFromGossip: /v1/nodes lists the alive members with the public
// IPs and hostname from their gossip metadata and the time their state
// last changed; an agent without a master list follows the master members
// as they come and go (zk-1.zk), driven by membership events.
func TestNodesFromGossip(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	g := func(name string, join ...string) *GossipOptions {
		return &GossipOptions{NodeName: name, Bind: "127.0.0.1:0", Join: join, Key: key, Label: "nodes-test", Timers: gossip.FastTimers()}
	}
	mIP, aIP := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	pub := netip.MustParseAddr("52.1.2.3")
	before := time.Now().Add(-time.Millisecond)
	m, stopMaster := runNode(t, Options{Role: RoleMaster, Listen: []string{"127.0.0.1:0"}, APIAddr: "127.0.0.1:0",
		NodeIP: mIP, PublicIPs: []netip.Addr{pub}, Hostname: "ip-10-0-0-1", Gossip: g("m1"), UDPSockets: 1})
	a, _ := runNode(t, Options{Role: RoleAgent, Listen: []string{"127.0.0.1:0"}, APIAddr: "127.0.0.1:0",
		NodeIP: aIP, Gossip: g("a1", m.Gossip), UDPSockets: 1})

	var ns []APINode
	testutil.Eventually(t, 20*time.Second, "both nodes in the agent's /v1/nodes", func() bool {
		ns = getNodes(t, a.API)
		return len(ns) == 2
	})
	byIP := map[string]APINode{}
	for _, n := range ns {
		byIP[n.PrivateIP] = n
	}
	mn, an := byIP["10.0.0.1"], byIP["10.0.0.2"]
	if mn.Hostname != "ip-10-0-0-1" || !slices.Equal(mn.PublicIPs, []string{"52.1.2.3"}) {
		t.Fatalf("master as the agent sees it: %+v", mn)
	}
	if an.Hostname != "a1" || an.PublicIPs == nil || len(an.PublicIPs) != 0 {
		t.Fatalf("agent as it sees itself: %+v", an)
	}
	for _, n := range ns {
		u, err := time.Parse("2006-01-02T15:04:05.000Z", n.Updated)
		if err != nil || u.Before(before.Truncate(time.Millisecond)) || u.After(time.Now()) {
			t.Fatalf("%s updated %q (%v), want between %v and now", n.PrivateIP, n.Updated, err, before)
		}
	}

	// The agent follows the master member: zk-1.zk is the master's IP and
	// the public address answers on the master.
	testutil.Eventually(t, 20*time.Second, "zk-1.zk from the master member", func() bool {
		r, err := ask(t, a.DNS[0], "udp", "zk-1.zk", dns.TypeA)
		return err == nil && len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == "10.0.0.1"
	})
	r, err := ask(t, m.DNS[0], "udp", "public.thisnode.thisdcos.directory", dns.TypeA)
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "52.1.2.3" {
		t.Fatalf("public.thisnode on the master: %v %v", r, err)
	}

	// The master leaves: the agent lists only itself, with its own time
	// unchanged, and keeps the last master list.
	stopMaster()
	testutil.Eventually(t, 20*time.Second, "master gone from /v1/nodes", func() bool {
		ns = getNodes(t, a.API)
		return len(ns) == 1
	})
	if ns[0].PrivateIP != "10.0.0.2" || ns[0].Updated != an.Updated {
		t.Fatalf("after the master left: %+v (before: %+v)", ns[0], an)
	}
	r, err = ask(t, a.DNS[0], "udp", "zk-1.zk", dns.TypeA)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("zk-1.zk after the master left: %v %v", r, err)
	}
}

// TestNodesStandalone: without gossip the node lists itself with its
// configured public IPs and its start time.
func TestNodesStandalone(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	r, _ := runNode(t, Options{Role: RoleAgent, Listen: []string{"127.0.0.1:0"}, APIAddr: "127.0.0.1:0",
		NodeIP: netip.MustParseAddr("10.0.0.9"), PublicIPs: []netip.Addr{netip.MustParseAddr("2001:db8::9")}, UDPSockets: 1})
	ns := getNodes(t, r.API)
	if len(ns) != 1 || ns[0].PrivateIP != "10.0.0.9" || ns[0].Hostname != "10.0.0.9" || !slices.Equal(ns[0].PublicIPs, []string{"2001:db8::9"}) {
		t.Fatalf("nodes: %+v", ns)
	}
	u, err := time.Parse("2006-01-02T15:04:05.000Z", ns[0].Updated)
	if err != nil || u.Before(before.Truncate(time.Millisecond)) || u.After(time.Now()) {
		t.Fatalf("updated %q", ns[0].Updated)
	}
	time.Sleep(5 * time.Millisecond)
	if again := getNodes(t, r.API); again[0].Updated != ns[0].Updated {
		t.Fatalf("updated moved without a change: %s → %s", ns[0].Updated, again[0].Updated)
	}
}
