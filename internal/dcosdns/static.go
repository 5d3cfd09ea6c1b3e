package dcosdns

import (
	"net/netip"

	"github.com/miekg/dns"
)

// SpartanIPs are the DNS listener addresses of a DC/OS agent (spec §0.4).
var SpartanIPs = []netip.Addr{
	netip.MustParseAddr("198.51.100.1"),
	netip.MustParseAddr("198.51.100.2"),
	netip.MustParseAddr("198.51.100.3"),
}

func addrRR(name string, ip netip.Addr) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: DataTTL}, A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: DataTTL}, AAAA: ip.AsSlice()}
}

// StaticZones returns the zones every node builds for itself (spec §A.4):
// `spartan` (ready.spartan → 127.0.0.1, ns.spartan → 198.51.100.1),
// `localhost`, `zk` (zk-1 … zk-5 → the masters, repeated cyclically) and,
// when the node IP is known, `thisnode.thisdcos.directory`.
func StaticZones(masters []netip.Addr, nodeIP netip.Addr, publicIPs []netip.Addr) []*Zone {
	mk := func(name string, rrs ...dns.RR) *Zone {
		z, _ := NewZone(name, 0, rrs)
		return z
	}
	out := []*Zone{
		mk("spartan.", addrRR("ready.spartan.", netip.MustParseAddr("127.0.0.1")), addrRR("ns.spartan.", SpartanIPs[0])),
		mk("localhost.", addrRR("localhost.", netip.MustParseAddr("127.0.0.1"))),
	}
	var zk []dns.RR
	if len(masters) > 0 {
		for i := range 5 {
			zk = append(zk, addrRR("zk-"+string(rune('1'+i))+".zk.", masters[i%len(masters)]))
		}
	}
	out = append(out, mk("zk.", zk...))
	if nodeIP.IsValid() {
		rrs := []dns.RR{addrRR("thisnode.thisdcos.directory.", nodeIP)}
		for _, p := range publicIPs {
			rrs = append(rrs, addrRR("public.thisnode.thisdcos.directory.", p))
		}
		out = append(out, mk("thisnode.thisdcos.directory.", rrs...))
	}
	return out
}
