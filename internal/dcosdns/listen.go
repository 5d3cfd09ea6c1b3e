package dcosdns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// SpartanIPs returns the DNS listener addresses of a DC/OS agent
// (spec §0.4): 198.51.100.1–3.
func SpartanIPs() []netip.Addr {
	return []netip.Addr{
		netip.AddrFrom4([4]byte{198, 51, 100, 1}),
		netip.AddrFrom4([4]byte{198, 51, 100, 2}),
		netip.AddrFrom4([4]byte{198, 51, 100, 3}),
	}
}

// SpartanIPv6 is the IPv6 spartan address DC/OS adds when IPv6 is on
// (fd01:d::c633:6401; c633:6401 is 198.51.100.1).
func SpartanIPv6() netip.Addr { return netip.MustParseAddr("fd01:d::c633:6401") }

// Iface is one host interface and its addresses.
type Iface struct {
	Name  string
	Addrs []netip.Addr
}

// HostInterfaces lists the host's interfaces and addresses.
func HostInterfaces() ([]Iface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []Iface
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		it := Iface{Name: ifc.Name}
		for _, a := range addrs {
			if pn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok {
					it.Addrs = append(it.Addrs, ip.Unmap())
				}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// BindIPs computes the listen addresses as dcos-dns does (spec §A.1):
// bind_ips when set; otherwise every interface address, only those of
// bind_interface when set, IPv6 link-local dropped; then the blacklist
// (with ReservedBlacklist) removed, duplicates removed, sorted.
func BindIPs(c *Config, ifaces []Iface) []netip.Addr {
	var ips []netip.Addr
	if len(c.BindIPs) > 0 {
		ips = append(ips, c.BindIPs...)
	} else {
		for _, it := range ifaces {
			if c.BindInterface != "" && it.Name != c.BindInterface {
				continue
			}
			for _, a := range it.Addrs {
				if a.Is6() && a.IsLinkLocalUnicast() {
					continue
				}
				ips = append(ips, a)
			}
		}
	}
	black := append(ReservedBlacklist(), c.BindIPBlacklist...)
	out := ips[:0:0]
	for _, a := range ips {
		if !slices.Contains(black, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// ListenAddrs pairs bind IPs with a port as "ip:port" strings.
func ListenAddrs(ips []netip.Addr, port int) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	}
	return out
}

// Spartan is the host setup behind the agents' DNS addresses (spec §0.4):
// a dummy interface `spartan` carrying 198.51.100.1–3/32. Where the
// kernel has no dummy driver the same addresses go on the loopback device
// instead, which answers them locally just the same (they are not routed
// anywhere else either way). Teardown removes exactly what Setup added.
type Spartan struct {
	// Link is the device holding the addresses ("spartan" or "lo").
	Link string
	// CreatedLink is true when Setup created the spartan interface.
	CreatedLink bool
	// Added lists the addresses Setup added (not those already present).
	Added []netip.Addr
	// Addrs are all spartan addresses, present now on Link.
	Addrs []netip.Addr
}

// SpartanLink is the dummy interface name DC/OS uses.
const SpartanLink = "spartan"

// SetupSpartan creates the spartan interface (or falls back to lo) and adds
// the addresses. It needs CAP_NET_ADMIN. "Already exists" counts as
// success, as in DC/OS' ExecStartPre, but such an address is not removed
// on teardown since we did not add it.
//
// With ipv6 the IPv6 spartan address is added too.
func SetupSpartan(log *slog.Logger, ipv6 bool) (*Spartan, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nl, err := openNetlink()
	if err != nil {
		return nil, err
	}
	defer nl.close()
	s := &Spartan{Link: SpartanLink}
	if ifc, err := net.InterfaceByName(SpartanLink); err == nil {
		log.Info("spartan interface already exists; using it", "index", ifc.Index)
	} else {
		err := nl.addDummy(SpartanLink)
		switch {
		case err == nil:
			s.CreatedLink = true
		case errors.Is(err, errNoDummy):
			log.Warn("kernel has no dummy interface driver; putting the spartan addresses on lo", "err", err)
			s.Link = "lo"
		default:
			return nil, fmt.Errorf("create spartan interface: %w", err)
		}
	}
	ifc, err := net.InterfaceByName(s.Link)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", s.Link, err)
	}
	if err := nl.setUp(ifc.Index); err != nil {
		s.teardown(nl, log)
		return nil, fmt.Errorf("set %s up: %w", s.Link, err)
	}
	want := SpartanIPs()
	if ipv6 {
		want = append(want, SpartanIPv6())
	}
	for _, ip := range want {
		added, err := nl.addAddr(ifc.Index, ip)
		if err != nil {
			s.teardown(nl, log)
			return nil, fmt.Errorf("add %s/32 to %s: %w", ip, s.Link, err)
		}
		if added {
			s.Added = append(s.Added, ip)
		}
		s.Addrs = append(s.Addrs, ip)
	}
	log.Info("spartan addresses ready", "link", s.Link, "created_link", s.CreatedLink, "added", s.Added)
	return s, nil
}

// Teardown removes what SetupSpartan added.
func (s *Spartan) Teardown(log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nl, err := openNetlink()
	if err != nil {
		return err
	}
	defer nl.close()
	return s.teardown(nl, log)
}

func (s *Spartan) teardown(nl *netlinkConn, log *slog.Logger) error {
	var errs []error
	ifc, err := net.InterfaceByName(s.Link)
	if err != nil {
		return fmt.Errorf("interface %s: %w", s.Link, err)
	}
	if s.CreatedLink {
		// Deleting the link removes its addresses with it.
		if err := nl.delLink(ifc.Index); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.Link, err))
		}
	} else {
		for _, ip := range s.Added {
			if err := nl.delAddr(ifc.Index, ip); err != nil {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", ip, s.Link, err))
			}
		}
	}
	if len(errs) == 0 {
		log.Info("spartan addresses removed", "link", s.Link)
	}
	s.Added, s.CreatedLink = nil, false
	return errors.Join(errs...)
}
