package agent

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const seedNet = `{"vtep_subnet":"44.128.0.0/20","vtep_subnet6":"fd01:a::/64","vtep_mac_oui":"70:B3:D5:00:00:00",
 "overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24},{"name":"dcos6","subnet6":"fd01:b::/64","prefix6":80}]}`

// cluster allocates for the given agents with the real allocator.
func cluster(t testing.TB, doc string, regs ...alloc.Registration) []alloc.AgentInfo {
	t.Helper()
	n, _, err := config.ParseNetwork([]byte(doc), "network")
	if err != nil {
		t.Fatal(err)
	}
	a := alloc.NewAllocator(n)
	for _, r := range regs {
		if _, err := a.Register(r); err != nil {
			t.Fatal(err)
		}
	}
	return a.Agents()
}

func reg(ip string, bridges, v6 bool) alloc.Registration {
	return alloc.Registration{IP: ip, AllocateSubnet: true, MesosBridge: bridges, DockerBridge: bridges, EnableIPv6: v6}
}

func TestBuildGolden(t *testing.T) {
	cases := map[string]struct {
		doc  string
		regs []alloc.Registration
		self string
	}{
		"agent-three-hosts": {seedNet, []alloc.Registration{reg("10.0.0.5", false, true), reg("10.0.0.7", true, true), reg("10.0.0.8", true, true)}, "10.0.0.7"},
		"master-no-bridges": {seedNet, []alloc.Registration{reg("10.0.0.5", false, true), reg("10.0.0.7", true, true)}, "10.0.0.5"},
		"ipv4-only-mtu": {`{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","vtep_mtu":1450,
		  "overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":26},{"name":"blue","subnet":"10.8.0.0/16","prefix":24}]}`,
			[]alloc.Registration{reg("192.168.1.1", true, false), reg("192.168.1.2", true, false)}, "192.168.1.2"},
		"alone": {seedNet, []alloc.Registration{reg("10.0.0.7", true, false)}, "10.0.0.7"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			agents := cluster(t, c.doc, c.regs...)
			var self alloc.AgentInfo
			for _, a := range agents {
				if a.IP == c.self {
					self = a
				}
			}
			peers, probs := PeersFrom(agents, c.self)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			d, err := Build(self, peers, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := d.String()
			path := filepath.Join("testdata", name+".golden")
			if *update {
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("desired state differs from %s:\n%s", path, got)
			}
			// Peers in another order give the same state.
			for i, j := 0, len(peers)-1; i < j; i, j = i+1, j-1 {
				peers[i], peers[j] = peers[j], peers[i]
			}
			if d2, _ := Build(self, peers, Options{}); d2.String() != got {
				t.Error("the desired state depends on the peers' order")
			}
		})
	}
}

func TestPeersFromSkipsBadAgents(t *testing.T) {
	agents := cluster(t, seedNet, reg("10.0.0.1", true, true), reg("10.0.0.2", true, true), reg("10.0.0.3", true, true))
	b, _ := json.Marshal(agents)
	var bad []alloc.AgentInfo
	json.Unmarshal(b, &bad)
	bad[1].Overlays[0].Backend.VXLAN.VTEPMAC = "zz"
	bad = append(bad, alloc.AgentInfo{IP: "not-an-ip"})
	peers, probs := PeersFrom(bad, "10.0.0.1")
	if len(peers) != 1 || peers[0].AgentIP.String() != "10.0.0.3" || len(probs) != 2 {
		t.Fatalf("peers %+v problems %v", peers, probs)
	}
}

func TestBuildRefusesNoAllocation(t *testing.T) {
	if _, err := Build(alloc.AgentInfo{IP: "10.0.0.1"}, nil, Options{}); err == nil {
		t.Fatal("built a state without a VTEP")
	}
}
