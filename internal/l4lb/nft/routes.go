package nft

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes the plane adds (rtnetlink's protocol
// field), so that it finds and removes its own, also those a crashed
// predecessor left, and never touches anyone else's.
const RouteProtocol = 83

// routes keeps the local routes that make VIP addresses reach the nat
// hooks: a packet needs a route before the output hook sees it, and a
// VIP range with no route would follow the default route off the node.
// They are local routes on lo (dcos-l4lb's VIP routes were too), so
// anything the table does not DNAT is delivered locally, where the
// filter hooks refuse it.
type routes struct {
	h    *netlink.Handle
	lo   int
	have map[netip.Prefix]bool
}

func openRoutes(ns int) (*routes, error) {
	var h *netlink.Handle
	var err error
	if ns > 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(ns))
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("link lo: %w", err)
	}
	r := &routes{h: h, lo: lo.Attrs().Index, have: map[netip.Prefix]bool{}}
	return r, nil
}

func (r *routes) route(p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		LinkIndex: r.lo,
		Dst:       &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Type:      unix.RTN_LOCAL,
		Table:     unix.RT_TABLE_LOCAL,
		Scope:     netlink.SCOPE_HOST,
		Protocol:  RouteProtocol,
	}
}

// ours lists the plane's routes in the kernel.
func (r *routes) ours() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := r.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_LOCAL, Protocol: RouteProtocol},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, err
		}
		for _, rt := range rs {
			if rt.Dst == nil {
				continue
			}
			a, _ := netip.AddrFromSlice(rt.Dst.IP)
			ones, _ := rt.Dst.Mask.Size()
			out = append(out, netip.PrefixFrom(a.Unmap(), ones))
		}
	}
	return out, nil
}

// sync makes the plane's routes exactly want. A prefix someone else
// already routes locally (an IP VIP that is an address of this host) is
// left to them.
func (r *routes) sync(want map[netip.Prefix]bool) error {
	have, err := r.ours()
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	r.have = map[netip.Prefix]bool{}
	var errs []error
	for _, p := range have {
		if want[p] {
			r.have[p] = true
			continue
		}
		if err := r.h.RouteDel(r.route(p)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", p, err))
		}
	}
	for p := range want {
		if r.have[p] {
			continue
		}
		if err := r.h.RouteAdd(r.route(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add route %s: %w", p, err))
			continue
		}
		r.have[p] = true
	}
	return errors.Join(errs...)
}

func (r *routes) close() error {
	err := r.sync(nil)
	r.h.Close()
	return err
}
