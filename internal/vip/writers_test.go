package vip

import (
	"net/netip"
	"slices"
	"testing"
)

func TestParseWriterItem(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.7")
	if got, ok := ParseWriterItem(WriterItem(ip)); !ok || got != ip {
		t.Fatalf("round trip: %v %v", got, ok)
	}
	for _, bad := range []string{TableItem, "_vip_backends/", "_vip_backends/not-an-ip", "_vip_backends/fe80::1%eth0", "vip_backends/10.0.0.1"} {
		if _, ok := ParseWriterItem(bad); ok {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestMergeWriters(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	named := Key{Protocol: TCP, Name: "web.marathon", Port: 80}
	ipKey := Key{Protocol: TCP, IP: netip.MustParseAddr("11.1.1.1"), Port: 81}
	be := func(agent netip.Addr, port uint16) Backend {
		return Backend{AgentIP: agent, IP: agent, Port: port, Weight: 1, TaskID: agent.String()}
	}
	base := &Table{Version: 9, VIPs: []VIP{{Key: named, FQDN: FQDN(named.Name), Addrs: []netip.Addr{netip.MustParseAddr("11.0.0.5")},
		Backends: []Backend{be(a, 1), be(b, 1), be(c, 1)}}},
		Names: []Name{{FQDN: FQDN(named.Name), IPv4: netip.MustParseAddr("11.0.0.5")}}}
	sets := map[netip.Addr]*Table{
		// a no longer runs the task the master still lists; it runs two.
		a: {VIPs: []VIP{{Key: named, Backends: []Backend{be(a, 2), be(a, 3), be(c, 9)}}, {Key: ipKey, Backends: []Backend{be(a, 4)}}}},
		// b's named VIP the master has not allocated yet: waits.
		b: {VIPs: []VIP{{Key: Key{Protocol: TCP, Name: "new.marathon", Port: 80}, Backends: []Backend{be(b, 5)}}}},
	}
	got := MergeWriters(base, sets)
	if len(got.VIPs) != 2 || got.VIPs[0].Key != ipKey || got.VIPs[1].Key != named {
		t.Fatalf("VIPs: %+v", got.VIPs)
	}
	if want := []Backend{be(a, 4)}; !slices.Equal(got.VIPs[0].Backends, want) || !slices.Equal(got.VIPs[0].Addrs, []netip.Addr{ipKey.IP}) {
		t.Errorf("IP VIP from a writer only: %+v", got.VIPs[0])
	}
	// a's set replaces the master's a backend, c's forged entry in a's set
	// is ignored, b (a writer with nothing for this VIP) loses its master
	// backend, c (no writer) keeps the master's.
	if want := []Backend{be(a, 2), be(a, 3), be(c, 1)}; !slices.Equal(got.VIPs[1].Backends, want) {
		t.Errorf("named VIP backends %+v, want %+v", got.VIPs[1].Backends, want)
	}
	if got.VIPs[1].Addrs[0] != base.VIPs[0].Addrs[0] || !slices.Equal(got.Names, base.Names) || got.Version != 9 {
		t.Errorf("names and addresses must be the master's: %+v", got)
	}
	if len(base.VIPs[0].Backends) != 3 {
		t.Errorf("base modified: %+v", base.VIPs[0].Backends)
	}
	if MergeWriters(base, nil) != base {
		t.Error("no writers: the base table itself")
	}
	if e := MergeWriters(nil, sets); len(e.VIPs) != 1 || e.VIPs[0].Key != ipKey {
		t.Errorf("no base: only the writers' IP VIPs: %+v", e.VIPs)
	}
}

func FuzzParseWriterItem(f *testing.F) {
	f.Add(WriterItem(netip.MustParseAddr("10.0.0.1")))
	f.Add(WriterItem(netip.MustParseAddr("fd00::1")))
	f.Add("_vip_backends/::ffff:10.0.0.1")
	f.Add(TableItem)
	f.Fuzz(func(t *testing.T, name string) {
		ip, ok := ParseWriterItem(name)
		if !ok {
			return
		}
		// Every accepted name names one writer, and that writer's own
		// item name parses back to it.
		if !ip.IsValid() || ip.Is4In6() {
			t.Fatalf("%q: writer %v", name, ip)
		}
		if back, ok := ParseWriterItem(WriterItem(ip)); !ok || back != ip {
			t.Fatalf("%q: %v does not round-trip", name, ip)
		}
	})
}
