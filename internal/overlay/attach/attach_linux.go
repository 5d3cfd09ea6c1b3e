//go:build linux

package attach

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Spec says how to attach one container.
type Spec struct {
	Bridge  string       // the host bridge, e.g. m-dcos
	HostIf  string       // the veth's host end, ≤ 15 bytes
	IfName  string       // inside the container; "" is eth0
	Addr    netip.Prefix // the container's address, with the bridge's length
	Gateway netip.Addr   // the bridge's address
	MTU     int          // 0: the bridge's
}

// Attach wires the container namespace ns to the bridge: host is a handle
// in the host's namespace. On failure the veth is removed again.
func Attach(host *netlink.Handle, ns netns.NsHandle, s Spec) (err error) {
	if s.IfName == "" {
		s.IfName = "eth0"
	}
	br, err := host.LinkByName(s.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", s.Bridge, err)
	}
	mtu := s.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	// The peer is created directly in the container's namespace under
	// its final name: no rename, no move, fewer round trips.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: s.HostIf, MTU: mtu, MasterIndex: br.Attrs().Index},
		PeerName: s.IfName, PeerNamespace: netlink.NsFd(int(ns)), PeerMTU: uint32(mtu)}
	if err := host.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s: %w", s.HostIf, err)
	}
	defer func() {
		if err != nil {
			if l, lerr := host.LinkByName(s.HostIf); lerr == nil {
				_ = host.LinkDel(l)
			}
		}
	}()
	hl, err := host.LinkByName(s.HostIf)
	if err != nil {
		return err
	}
	if err := host.LinkSetUp(hl); err != nil {
		return fmt.Errorf("veth %s up: %w", s.HostIf, err)
	}
	c, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("container namespace: %w", err)
	}
	defer c.Close()
	if lo, err := c.LinkByName("lo"); err == nil {
		_ = c.LinkSetUp(lo)
	}
	cl, err := c.LinkByName(s.IfName)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: s.Addr.Addr().AsSlice(), Mask: net.CIDRMask(s.Addr.Bits(), s.Addr.Addr().BitLen())}}
	if err := c.AddrAdd(cl, addr); err != nil {
		return fmt.Errorf("address %s: %w", s.Addr, err)
	}
	if err := c.LinkSetUp(cl); err != nil {
		return fmt.Errorf("%s up: %w", s.IfName, err)
	}
	if err := c.RouteAdd(&netlink.Route{LinkIndex: cl.Attrs().Index, Gw: s.Gateway.AsSlice()}); err != nil {
		return fmt.Errorf("default route via %s: %w", s.Gateway, err)
	}
	return nil
}

// Detach removes the container's veth (its peer goes with it).
func Detach(host *netlink.Handle, hostIf string) error {
	l, err := host.LinkByName(hostIf)
	if err != nil {
		return nil // gone already
	}
	return host.LinkDel(l)
}
