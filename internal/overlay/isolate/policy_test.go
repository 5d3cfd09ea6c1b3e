package isolate

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestAllowed(t *testing.T) {
	p := Compute([]Endpoint{
		{ip("9.0.0.2"), []string{"blue"}},
		{ip("9.0.1.2"), []string{"blue"}},
		{ip("9.0.2.2"), []string{"red"}},
		{ip("9.0.0.3"), []string{"red", "green"}},
		{ip("9.0.1.3"), nil},
		{ip("fd01:b::2"), []string{"blue"}}, // IPv6: not enforced
	})
	cases := []struct {
		src, dst string
		ok       bool
	}{
		{"9.0.0.2", "9.0.1.2", true},
		{"9.0.0.2", "9.0.2.2", false},
		{"9.0.2.2", "9.0.0.2", false},
		{"9.0.2.2", "9.0.0.3", true},
		{"9.0.0.3", "9.0.0.2", false},
		{"9.0.1.3", "9.0.0.2", true},
		{"9.0.0.2", "9.0.1.3", true},
		{"9.9.9.9", "9.0.0.2", true}, // not a known task
	}
	for _, c := range cases {
		if got := p.Allowed(ip(c.src), ip(c.dst)); got != c.ok {
			t.Errorf("%s → %s: %v, want %v", c.src, c.dst, got, c.ok)
		}
	}
	want := `table inet sextant_overlay_isolation {
  set grouped { type ipv4_addr; elements = { 9.0.0.2, 9.0.0.3, 9.0.1.2, 9.0.2.2 } }
  set g0 { type ipv4_addr; elements = { 9.0.0.2, 9.0.1.2 } } # blue
  set g1 { type ipv4_addr; elements = { 9.0.0.3 } } # green
  set g2 { type ipv4_addr; elements = { 9.0.0.3, 9.0.2.2 } } # red
  map dst { type ipv4_addr : verdict; elements = { 9.0.0.2 : jump c0, 9.0.1.2 : jump c0, 9.0.0.3 : jump c1, 9.0.2.2 : jump c2 } }
  chain forward { type filter hook forward priority filter; policy accept; meta nfproto ipv4 ip daddr vmap @dst }
  chain c0 { # blue
    ip saddr @g0 accept
    ip saddr @grouped drop
  }
  chain c1 { # green,red
    ip saddr @g1 accept
    ip saddr @g2 accept
    ip saddr @grouped drop
  }
  chain c2 { # red
    ip saddr @g2 accept
    ip saddr @grouped drop
  }
}
`
	if got := p.String(); got != want {
		t.Errorf("ruleset:\n%s", got)
	}
}

func TestFromSnapshot(t *testing.T) {
	blue := &model.App{ID: "/a", Networks: []model.Network{{Mode: model.NetworkContainer, Name: "dcos", Labels: map[string]string{"groups": "blue, green,"}}}}
	plain := &model.App{ID: "/b", Networks: []model.Network{{Mode: model.NetworkContainer, Name: "dcos"}}}
	s := &model.Snapshot{Tasks: []model.Task{
		{ID: "a1", State: model.TaskRunning, App: blue, IPs: []netip.Addr{ip("9.0.0.2"), ip("10.0.0.1")}},
		{ID: "a2", State: model.TaskRunning - 1, App: blue, IPs: []netip.Addr{ip("9.0.0.5")}},
		{ID: "b1", State: model.TaskRunning, App: plain, IPs: []netip.Addr{ip("9.0.1.2")}},
		{ID: "x", State: model.TaskRunning, IPs: []netip.Addr{ip("9.0.1.9")}},
	}}
	eps := FromSnapshot(s, netip.MustParsePrefix("9.0.0.0/8"))
	if len(eps) != 2 || eps[0].Addr != ip("9.0.0.2") || strings.Join(eps[0].Groups, "|") != "blue|green" || eps[1].Addr != ip("9.0.1.2") || eps[1].Groups != nil {
		t.Fatalf("%+v", eps)
	}
}
