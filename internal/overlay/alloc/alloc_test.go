package alloc

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/sextantdc/sextant/internal/overlay/config"
)

const seedNet = `{"vtep_subnet":"44.128.0.0/20","vtep_subnet6":"fd01:a::/64","vtep_mac_oui":"70:B3:D5:00:00:00",
 "overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24},{"name":"dcos6","subnet6":"fd01:b::/64","prefix6":80}]}`

func network(t testing.TB, doc string) config.Network {
	t.Helper()
	n, probs, err := config.ParseNetwork([]byte(doc), "network")
	if err != nil || len(probs) > 0 {
		t.Fatalf("config: %v %v", err, probs)
	}
	return n
}

func agentReg(ip string) Registration {
	return Registration{IP: ip, AllocateSubnet: true, MesosBridge: true, DockerBridge: true, EnableIPv6: true}
}

func TestFirstAgentAsTheSpecSays(t *testing.T) {
	a := NewAllocator(network(t, seedNet))
	res, err := a.Register(agentReg("10.0.0.7"))
	if err != nil || !res.Changed || len(res.Failed) > 0 {
		t.Fatalf("%+v %v", res, err)
	}
	ag := res.Agent
	if ag.IP != "10.0.0.7" || len(ag.Overlays) != 2 {
		t.Fatalf("%+v", ag)
	}
	d, d6 := ag.Overlays[0], ag.Overlays[1]
	vx := VXLAN{VNI: 1024, VTEPName: "vtep1024", VTEPIP: "44.128.0.1/20", VTEPIP6: "fd01:a::1/64", VTEPMAC: "70:b3:d5:80:00:01"}
	if *d.Backend.VXLAN != vx || *d6.Backend.VXLAN != vx {
		t.Errorf("vxlan %+v %+v", d.Backend.VXLAN, d6.Backend.VXLAN)
	}
	if d.Subnet != "9.0.0.0/24" || *d.MesosBridge != (Bridge{Name: "m-dcos", IP: "9.0.0.0/25"}) || *d.DockerBridge != (Bridge{Name: "d-dcos", IP: "9.0.0.128/25"}) {
		t.Errorf("dcos %+v %+v %+v", d, d.MesosBridge, d.DockerBridge)
	}
	if d.Info != (OverlayInfo{Name: "dcos", Subnet: "9.0.0.0/8", Prefix: 24}) || d.State.Status != StatusConfiguring {
		t.Errorf("info %+v state %+v", d.Info, d.State)
	}
	if d6.Subnet6 != "fd01:b::/80" || d6.MesosBridge.IP6 != "fd01:b::/81" || d6.DockerBridge.IP6 != "fd01:b::8000:0:0/81" || d6.Subnet != "" {
		t.Errorf("dcos6 %+v %+v %+v", d6, d6.MesosBridge, d6.DockerBridge)
	}
}

func TestDistinctLowestFreeAndStable(t *testing.T) {
	a := NewAllocator(network(t, seedNet))
	seen := map[string]string{}
	for i := 1; i <= 300; i++ {
		ip := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		res, err := a.Register(agentReg(ip))
		if err != nil {
			t.Fatal(err)
		}
		o := res.Agent.Overlays[0]
		wantVTEP := netip.PrefixFrom(netip.MustParseAddr("44.128.0.0"), 20).Addr()
		for range i {
			wantVTEP = wantVTEP.Next()
		}
		if o.Backend.VXLAN.VTEPIP != netip.PrefixFrom(wantVTEP, 20).String() {
			t.Fatalf("agent %d vtep %s, want %s", i, o.Backend.VXLAN.VTEPIP, wantVTEP)
		}
		for _, k := range []string{o.Subnet, o.Backend.VXLAN.VTEPIP, o.Backend.VXLAN.VTEPMAC, res.Agent.Overlays[1].Subnet6} {
			if prev, dup := seen[k]; dup {
				t.Fatalf("%s given to %s and %s", k, prev, ip)
			}
			seen[k] = ip
		}
	}
	// Registering again changes nothing.
	before, _ := a.Agent("10.0.0.42")
	res, err := a.Register(agentReg("10.0.0.42"))
	if err != nil || res.Changed || !reflect.DeepEqual(res.Agent, before) {
		t.Fatalf("re-registration changed the allocation: %+v", res)
	}
}

func TestDeleteReturnsToThePool(t *testing.T) {
	a := NewAllocator(network(t, seedNet))
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if _, err := a.Register(agentReg(ip)); err != nil {
			t.Fatal(err)
		}
	}
	if unknown := a.Delete([]string{"10.0.0.2", "10.9.9.9", "bogus"}); len(unknown) != 2 {
		t.Fatalf("unknown %v", unknown)
	}
	res, _ := a.Register(agentReg("10.0.0.4"))
	if o := res.Agent.Overlays[0]; o.Subnet != "9.0.1.0/24" || o.Backend.VXLAN.VTEPIP != "44.128.0.2/20" {
		t.Errorf("freed block not reused: %+v %+v", o, o.Backend.VXLAN)
	}
}

func TestExhaustion(t *testing.T) {
	a := NewAllocator(network(t, `{"vtep_subnet":"44.128.0.0/30","vtep_mac_oui":"70:B3:D5:00:00:00",
	  "overlays":[{"name":"tiny","subnet":"9.0.0.0/24","prefix":25},{"name":"big","subnet":"10.0.0.0/16","prefix":24}]}`))
	for i, ip := range []string{"10.1.0.1", "10.1.0.2"} {
		res, err := a.Register(agentReg(ip))
		if err != nil || len(res.Failed) > 0 || len(res.Agent.Overlays) != 2 {
			t.Fatalf("agent %d: %+v %v", i, res, err)
		}
	}
	// /30 has two usable addresses: the third agent gets no VTEP.
	if _, err := a.Register(agentReg("10.1.0.3")); err == nil {
		t.Fatal("third VTEP allocated from a /30")
	}
	b := NewAllocator(network(t, `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00",
	  "overlays":[{"name":"tiny","subnet":"9.0.0.0/24","prefix":25},{"name":"big","subnet":"10.0.0.0/16","prefix":24}]}`))
	for range 2 {
		b.Register(agentReg(fmt.Sprint("10.2.0.", len(b.agents)+1)))
	}
	res, err := b.Register(agentReg("10.2.0.9"))
	if err != nil || len(res.Failed) != 1 || res.Failed[0] != "tiny" || len(res.Agent.Overlays) != 1 || res.Agent.Overlays[0].Subnet != "10.0.2.0/24" {
		t.Fatalf("exhausted overlay not skipped alone: %+v %v", res, err)
	}
}

func TestNoBridgesNoSubnetNoIPv6(t *testing.T) {
	a := NewAllocator(network(t, seedNet))
	res, _ := a.Register(Registration{IP: "10.0.0.1", AllocateSubnet: true})
	if o := res.Agent.Overlays[0]; o.MesosBridge != nil || o.DockerBridge != nil || o.Subnet != "9.0.0.0/24" || o.Backend.VXLAN.VTEPIP6 != "" {
		t.Errorf("master-style agent %+v", o)
	}
	// dcos6 has only IPv6: without IPv6 it cannot be given.
	if len(res.Agent.Overlays) != 1 {
		t.Errorf("overlays %+v", res.Agent.Overlays)
	}
	res, _ = a.Register(Registration{IP: "10.0.0.2"})
	if o := res.Agent.Overlays[0]; o.Subnet != "" || o.Backend.VXLAN.VTEPIP != "44.128.0.2/20" {
		t.Errorf("no-subnet agent %+v", o)
	}
	// IPv6 enabled later: a VTEP IPv6 is added, the IPv4 allocation kept.
	res, _ = a.Register(Registration{IP: "10.0.0.1", AllocateSubnet: true, EnableIPv6: true})
	if !res.Changed || len(res.Agent.Overlays) != 2 || res.Agent.Overlays[0].Backend.VXLAN.VTEPIP6 != "fd01:a::1/64" || res.Agent.Overlays[0].Subnet != "9.0.0.0/24" {
		t.Errorf("ipv6 later: %+v", res.Agent)
	}
	if _, err := a.Register(Registration{IP: "nope"}); err == nil {
		t.Error("bad ip accepted")
	}
}

func TestRestoreDropsBadEntries(t *testing.T) {
	a := NewAllocator(network(t, seedNet))
	a.Register(agentReg("10.0.0.1"))
	a.Register(agentReg("10.0.0.2"))
	good := a.Agents()
	dup := clone(good[1])
	dup.IP = "10.0.0.3" // claims 10.0.0.2's VTEP and blocks
	bad := AgentInfo{IP: "x"}
	b := NewAllocator(network(t, seedNet))
	probs := b.Restore(append(good, dup, bad))
	if len(probs) != 2 || len(b.Agents()) != 2 {
		t.Fatalf("problems %v agents %v", probs, b.Agents())
	}
	res, _ := b.Register(agentReg("10.0.0.3"))
	if res.Agent.Overlays[0].Subnet != "9.0.2.0/24" {
		t.Errorf("after restore: %+v", res.Agent.Overlays[0])
	}
}

func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"agents":[{"ip":"10.0.0.1","overlays":[{"info":{"name":"dcos"},"subnet":"9.0.0.0/24","backend":{"vxlan":{"vtep_ip":"44.128.0.1/20"}}}]}]}`))
	n, _, _ := config.ParseNetwork([]byte(seedNet), "")
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc document
		if jsonUnmarshal(b, &doc) != nil {
			return
		}
		a := NewAllocator(n)
		a.Restore(doc.Agents)
		res, err := a.Register(agentReg("192.0.2.1"))
		if err != nil {
			return
		}
		for _, ag := range a.Agents() {
			if ag.IP == "192.0.2.1" {
				continue
			}
			for _, o := range ag.Overlays {
				for _, mine := range res.Agent.Overlays {
					if o.Subnet != "" && o.Subnet == mine.Subnet || o.Backend.VXLAN.VTEPIP == mine.Backend.VXLAN.VTEPIP {
						t.Fatalf("new agent shares %+v with %s", mine, ag.IP)
					}
				}
			}
		}
	})
}
