package userspace

import (
	"errors"
	"fmt"
	"net/netip"
)

// PrefixMap maps the VIP addresses in VIP one to one onto the local
// addresses in Local: both prefixes have the same length and an address
// keeps its host bits (VIP 11.0.0.0/8 → Local 127.0.0.0/8 maps
// 11.215.13.222 to 127.215.13.222).
type PrefixMap struct {
	VIP, Local netip.Prefix
}

// AddrMap says where the plane listens for each VIP address. The first
// PrefixMap that contains a VIP address maps it; a VIP address no entry
// contains cannot be served (Sync reports it). A nil AddrMap listens on
// the VIP address itself, which must then be a local address (on lo, or
// added through Options.Links).
type AddrMap []PrefixMap

// LoopbackMap is the rootless mapping of named VIPs: 11.0.0.0/8, the
// default named VIP range (§B.3), onto 127.0.0.0/8, the loopback range
// every Linux host routes locally, so VIP 11.a.b.c listens on
// 127.a.b.c. Only VIP 11.0.0.1 lands on 127.0.0.1 (one named VIP in 16
// million); a listener already there on the same port makes that one
// service fail to sync. IPv6 has one loopback address, so IPv6 VIPs are
// mapped only by an explicit /128 entry (fd01:c::10/128 → ::1/128), one
// VIP per port.
func LoopbackMap() AddrMap {
	return AddrMap{{VIP: netip.MustParsePrefix("11.0.0.0/8"), Local: netip.MustParsePrefix("127.0.0.0/8")}}
}

var loopback6 = netip.IPv6Loopback()

// Validate checks that every entry maps a prefix onto a loopback prefix
// of the same family and length, and that no two entries overlap on
// either side, so the map is one to one.
func (m AddrMap) Validate() error {
	var errs []error
	for i, e := range m {
		switch {
		case !e.VIP.IsValid() || !e.Local.IsValid():
			errs = append(errs, fmt.Errorf("address map entry %d: both prefixes must be set", i))
		case e.VIP.Addr().Is4() != e.Local.Addr().Is4():
			errs = append(errs, fmt.Errorf("address map entry %d: %s and %s are of different families", i, e.VIP, e.Local))
		case e.VIP.Bits() != e.Local.Bits():
			errs = append(errs, fmt.Errorf("address map entry %d: %s and %s differ in length: not one to one", i, e.VIP, e.Local))
		case !e.Local.Addr().IsLoopback() || (e.Local.Addr().Is6() && e.Local.Bits() != 128):
			errs = append(errs, fmt.Errorf("address map entry %d: %s is not a loopback prefix (127.0.0.0/8, ::1/128)", i, e.Local))
		}
		for j := range i {
			if m[j].VIP.Overlaps(e.VIP) || m[j].Local.Overlaps(e.Local) {
				errs = append(errs, fmt.Errorf("address map entries %d and %d overlap: not one to one", j, i))
			}
		}
	}
	return errors.Join(errs...)
}

// Local returns the address the plane listens on for a VIP address;
// false when the map has no entry for it.
func (m AddrMap) Local(vip netip.Addr) (netip.Addr, bool) {
	if m == nil {
		return vip, true
	}
	vip = vip.Unmap()
	for _, e := range m {
		if e.VIP.Contains(vip) {
			return graft(e.Local, vip), true
		}
	}
	return netip.Addr{}, false
}

// VIP is Local's inverse: the VIP address a local address serves.
func (m AddrMap) VIP(local netip.Addr) (netip.Addr, bool) {
	if m == nil {
		return local, true
	}
	local = local.Unmap()
	for _, e := range m {
		if e.Local.Contains(local) {
			return graft(e.VIP, local), true
		}
	}
	return netip.Addr{}, false
}

// graft returns the address with p's network bits and a's host bits.
func graft(p netip.Prefix, a netip.Addr) netip.Addr {
	net, host := p.Masked().Addr().AsSlice(), a.AsSlice()
	bits := p.Bits()
	for i := range net {
		keep := 0 // how many high bits of this byte come from the prefix
		switch {
		case bits >= 8*(i+1):
			keep = 8
		case bits > 8*i:
			keep = bits - 8*i
		}
		mask := byte(0xff << (8 - keep))
		if keep == 0 {
			mask = 0
		}
		net[i] = net[i]&mask | host[i]&^mask
	}
	out, _ := netip.AddrFromSlice(net)
	return out
}
