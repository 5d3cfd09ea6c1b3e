//go:build linux

package agent

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProto marks the routes the agent owns, so a sync removes the
// routes of peers that left and never touches anyone else's. (DC/OS used
// proto boot and deleted nothing, leaving dead peers' routes behind.)
const RouteProto = netlink.RouteProtocol(211)

// Kernel programs a Desired state through one netlink handle (one network
// namespace).
type Kernel struct {
	H *netlink.Handle
	// NFT, when set, carries the masquerade of container traffic leaving
	// the overlays (Masquerade over the IPv4 overlay spaces).
	NFT *nftables.Conn
}

// Sync makes the kernel match d: it creates or replaces what d holds and
// removes what the agent owns that d no longer holds. It is idempotent and
// goes through every step even when one fails, returning all errors; the
// caller retries the whole sync.
func (k Kernel) Sync(d Desired) error {
	vtep, err := k.vtep(d.VTEP)
	if err != nil {
		return fmt.Errorf("vtep %s: %w", d.VTEP.Name, err)
	}
	var errs []error
	add := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	add("vtep addresses", k.addrs(vtep, d.VTEP.Addrs))
	for _, br := range d.Bridges {
		add("bridge "+br.Name, k.bridge(br))
	}
	add("rules", k.rules(d.Rules))
	add("neighbours", k.neighs(vtep, d.Neighs))
	add("fdb", k.fdb(vtep, d.FDB))
	add("routes", k.routes(vtep, d.Routes))
	if k.NFT != nil {
		add("masquerade", Masquerade(k.NFT, d.Rules))
	}
	return errors.Join(errs...)
}

func notFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

func (k Kernel) vtep(v VTEP) (netlink.Link, error) {
	l, err := k.H.LinkByName(v.Name)
	if err != nil && !notFound(err) {
		return nil, err
	}
	if err == nil {
		vx, ok := l.(*netlink.Vxlan)
		if !ok || vx.VxlanId != v.VNI || vx.Port != v.Port || vx.Learning || (v.MTU != 0 && vx.MTU != v.MTU) {
			if err := k.H.LinkDel(l); err != nil {
				return nil, fmt.Errorf("delete the mismatched device: %w", err)
			}
			l = nil
		}
	} else {
		l = nil
	}
	if l == nil {
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: v.Name, MTU: v.MTU}, VxlanId: v.VNI, Port: v.Port}
		if err := k.H.LinkAdd(vx); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		if l, err = k.H.LinkByName(v.Name); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(l.Attrs().HardwareAddr, v.MAC) {
		if err := k.H.LinkSetHardwareAddr(l, v.MAC); err != nil {
			return nil, fmt.Errorf("set mac: %w", err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := k.H.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set up: %w", err)
		}
	}
	return l, nil
}

func (k Kernel) bridge(b BridgeDev) error {
	l, err := k.H.LinkByName(b.Name)
	if notFound(err) {
		if err := k.H.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.Name, MTU: b.MTU}}); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		l, err = k.H.LinkByName(b.Name)
	}
	if err != nil {
		return err
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return fmt.Errorf("exists and is a %s, not a bridge", l.Type())
	}
	if b.MTU != 0 && l.Attrs().MTU != b.MTU {
		if err := k.H.LinkSetMTU(l, b.MTU); err != nil {
			return fmt.Errorf("set mtu: %w", err)
		}
	}
	if err := k.addrs(l, b.Addrs); err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return k.H.LinkSetUp(l)
	}
	return nil
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, _ := netip.AddrFromSlice(n.IP)
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits)
}

// addrs makes the link's global addresses exactly want.
func (k Kernel) addrs(l netlink.Link, want []netip.Prefix) error {
	have, err := k.H.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range have {
		p := prefixOf(a.IPNet)
		if p.Addr().IsLinkLocalUnicast() || slices.Contains(want, p) {
			continue
		}
		errs = append(errs, k.H.AddrDel(l, &a))
	}
	for _, p := range want {
		a := &netlink.Addr{IPNet: ipnet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD // usable at once, not tentative
		}
		if err := k.H.AddrReplace(l, a); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func (k Kernel) rules(want []netip.Prefix) error {
	have, err := k.H.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	var errs []error
	present := map[netip.Prefix]bool{}
	for _, r := range have {
		if r.Table != Table {
			continue
		}
		p := prefixOf(r.Src)
		if slices.Contains(want, p) && !present[p] {
			present[p] = true
			continue
		}
		errs = append(errs, k.H.RuleDel(&r))
	}
	for _, p := range want {
		if present[p] {
			continue
		}
		r := netlink.NewRule()
		r.Family, r.Table, r.Src = netlink.FAMILY_V4, Table, ipnet(p)
		if err := k.H.RuleAdd(r); err != nil {
			errs = append(errs, fmt.Errorf("from %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func (k Kernel) neighs(vtep netlink.Link, want []Neigh) error {
	idx := vtep.Attrs().Index
	var errs []error
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		have, err := k.H.NeighList(idx, fam)
		if err != nil {
			return err
		}
		for _, n := range have {
			if n.State&netlink.NUD_PERMANENT == 0 {
				continue
			}
			ip, _ := netip.AddrFromSlice(n.IP)
			if slices.ContainsFunc(want, func(w Neigh) bool { return w.IP == ip.Unmap() && bytes.Equal(w.MAC, n.HardwareAddr) }) {
				continue
			}
			errs = append(errs, k.H.NeighDel(&n))
		}
	}
	for _, w := range want {
		fam := netlink.FAMILY_V4
		if w.IP.Is6() {
			fam = netlink.FAMILY_V6
		}
		n := &netlink.Neigh{LinkIndex: idx, Family: fam, State: netlink.NUD_PERMANENT, IP: w.IP.AsSlice(), HardwareAddr: w.MAC}
		if err := k.H.NeighSet(n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.IP, err))
		}
	}
	return errors.Join(errs...)
}

func (k Kernel) fdb(vtep netlink.Link, want []FDB) error {
	idx := vtep.Attrs().Index
	have, err := k.H.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range have {
		if n.IP == nil || n.Flags&netlink.NTF_SELF == 0 {
			continue
		}
		dst, _ := netip.AddrFromSlice(n.IP)
		if slices.ContainsFunc(want, func(w FDB) bool { return w.Dst == dst.Unmap() && bytes.Equal(w.MAC, n.HardwareAddr) }) {
			continue
		}
		errs = append(errs, k.H.NeighDel(&n))
	}
	for _, w := range want {
		n := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT | netlink.NUD_NOARP,
			Flags: netlink.NTF_SELF, IP: w.Dst.AsSlice(), HardwareAddr: w.MAC}
		if err := k.H.NeighSet(n); err != nil {
			errs = append(errs, fmt.Errorf("%s dst %s: %w", w.MAC, w.Dst, err))
		}
	}
	return errors.Join(errs...)
}

func table(t int) int {
	if t == 0 {
		return unix.RT_TABLE_MAIN
	}
	return t
}

func (k Kernel) route(vtep netlink.Link, r Route) *netlink.Route {
	nr := &netlink.Route{Dst: ipnet(r.Dst), Table: table(r.Table), Protocol: RouteProto}
	if r.Unreachable {
		nr.Type, nr.Priority = unix.RTN_UNREACHABLE, UnreachableMetric
		return nr
	}
	nr.LinkIndex, nr.Gw, nr.Type = vtep.Attrs().Index, r.Via.AsSlice(), unix.RTN_UNICAST
	return nr
}

// routeKey identifies a route the way the agent compares them.
func routeKey(tbl, typ, prio int, dst netip.Prefix, gw net.IP) string {
	return fmt.Sprintf("%d %d %d %s %s", tbl, typ, prio, dst, gw)
}

func (k Kernel) routes(vtep netlink.Link, want []Route) error {
	wanted := map[string]bool{}
	for _, r := range want {
		nr := k.route(vtep, r)
		wanted[routeKey(nr.Table, nr.Type, nr.Priority, r.Dst, nr.Gw)] = true
	}
	var errs []error
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		have, err := k.H.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProto, Table: unix.RT_TABLE_UNSPEC},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, r := range have {
			if wanted[routeKey(r.Table, r.Type, r.Priority, prefixOf(r.Dst), r.Gw)] {
				continue
			}
			errs = append(errs, k.H.RouteDel(&r))
		}
	}
	for _, r := range want {
		if err := k.H.RouteReplace(k.route(vtep, r)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

// Teardown removes what the agent created: the VTEP (and with it its
// neighbours, FDB entries and routes), the bridges of d, the rules and
// the remaining owned routes.
func (k Kernel) Teardown(d Desired) error {
	var errs []error
	for _, name := range append([]string{d.VTEP.Name}, bridgeNames(d)...) {
		if l, err := k.H.LinkByName(name); err == nil {
			errs = append(errs, k.H.LinkDel(l))
		}
	}
	errs = append(errs, k.rules(nil))
	if k.NFT != nil {
		errs = append(errs, Masquerade(k.NFT, nil))
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		have, _ := k.H.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProto, Table: unix.RT_TABLE_UNSPEC},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		for _, r := range have {
			errs = append(errs, k.H.RouteDel(&r))
		}
	}
	return errors.Join(errs...)
}

func bridgeNames(d Desired) []string {
	var out []string
	for _, b := range d.Bridges {
		out = append(out, b.Name)
	}
	return out
}
