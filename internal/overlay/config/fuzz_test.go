package config

import (
	"encoding/json"
	"testing"
)

// FuzzParseNetwork: no input panics, and whatever is accepted holds the
// invariants the allocator relies on.
func FuzzParseNetwork(f *testing.F) {
	f.Add([]byte(seed))
	f.Add([]byte(`{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","overlays":[{"name":"a","subnet":"9.0.0.0/8","prefix":29},{"name":"b","subnet":"9.0.0.0/8","prefix":24}]}`))
	f.Add([]byte(`{"vtep_subnet":"44.128.0.0/8","vtep_mac_oui":"ff:ff:ff:00:00:00","vtep_mtu":552,"overlays":[null,1,"x",{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, probs, err := ParseNetwork(b, "network")
		for _, p := range probs {
			if p.Key == "" || p.Err == nil {
				t.Fatalf("problem without key or error: %+v", p)
			}
		}
		if err != nil {
			return
		}
		if !n.VTEPSubnet.Addr().Is4() || n.VTEPSubnet.Bits() < 8 || n.VTEPSubnet.Masked() != n.VTEPSubnet {
			t.Fatalf("bad vtep subnet accepted: %v", n.VTEPSubnet)
		}
		if !json.Valid(n.Raw) {
			t.Fatalf("raw is not JSON")
		}
		seen := map[string]bool{}
		for i, o := range n.Overlays {
			if seen[o.Name] || len(o.Name) == 0 || len(o.Name) > MaxNameLen {
				t.Fatalf("bad name accepted: %q", o.Name)
			}
			seen[o.Name] = true
			if !o.Subnet.IsValid() && !o.Subnet6.IsValid() {
				t.Fatalf("overlay without space: %+v", o)
			}
			if o.Subnet.IsValid() && (o.Prefix < o.Subnet.Bits() || o.Prefix > 29) {
				t.Fatalf("bad prefix accepted: %+v", o)
			}
			for _, p := range n.Overlays[:i] {
				if overlaps(p.Subnet, o.Subnet) || overlaps(p.Subnet6, o.Subnet6) {
					t.Fatalf("overlapping overlays accepted: %+v %+v", p, o)
				}
			}
		}
	})
}

func FuzzParseAgent(f *testing.F) {
	f.Add([]byte(`{"network_config":{"allocate_subnet":true,"mesos_bridge":false,"overlay_mtu":1420}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, _, err := ParseAgent(b)
		if err == nil && (a.OverlayMTU < MinMTU || a.MaxConfigurationAttempts < 1) {
			t.Fatalf("bad agent config accepted: %+v", a)
		}
	})
}
