package dcosdns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/sextantdc/sextant/internal/kernel/link"
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

	links link.Links // nil once torn down
}

// SpartanLink is the dummy interface name DC/OS uses.
const SpartanLink = "spartan"

// SetupSpartan creates the spartan interface (or falls back to lo) and adds
// the addresses through links (link.Open for the host's; that needs
// CAP_NET_ADMIN). "Already exists" counts as success, as in DC/OS'
// ExecStartPre, but such an address is not removed on teardown since we
// did not add it. When a step fails, what was added is removed again.
//
// With ipv6 the IPv6 spartan address is added too.
//
// SetupSpartan takes links over: Teardown closes it, or SetupSpartan
// itself when it fails, so that the handle that made the changes is the
// one that undoes them and lives exactly as long as they do.
func SetupSpartan(log *slog.Logger, ipv6 bool, links link.Links) (*Spartan, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Spartan{Link: SpartanLink, links: links}
	// The kernel checks the name before the driver, so an existing
	// spartan interface is used even where a new one could not be made.
	switch err := links.AddDummy(SpartanLink); {
	case err == nil:
		s.CreatedLink = true
	case errors.Is(err, link.ErrExists):
		log.Info("spartan interface already exists; using it")
	case errors.Is(err, link.ErrNoDummy):
		log.Warn("kernel has no dummy interface driver; putting the spartan addresses on lo", "err", err)
		s.Link = "lo"
	default:
		return nil, errors.Join(fmt.Errorf("create spartan interface: %w", err), s.Teardown(log))
	}
	if err := links.SetUp(s.Link); err != nil {
		return nil, errors.Join(fmt.Errorf("set %s up: %w", s.Link, err), s.Teardown(log))
	}
	want := SpartanIPs()
	if ipv6 {
		want = append(want, SpartanIPv6())
	}
	for _, ip := range want {
		p := netip.PrefixFrom(ip, ip.BitLen())
		switch err := links.AddAddr(s.Link, p); {
		case err == nil:
			s.Added = append(s.Added, ip)
		case errors.Is(err, link.ErrExists):
		default:
			return nil, errors.Join(fmt.Errorf("add %s to %s: %w", p, s.Link, err), s.Teardown(log))
		}
		s.Addrs = append(s.Addrs, ip)
	}
	log.Info("spartan addresses ready", "link", s.Link, "created_link", s.CreatedLink, "added", s.Added)
	return s, nil
}

// Teardown removes what SetupSpartan added and closes its links. Calling
// it again does nothing.
func (s *Spartan) Teardown(log *slog.Logger) error {
	if s.links == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if s.CreatedLink {
		// Deleting the link removes its addresses with it.
		if err := s.links.Delete(s.Link); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.Link, err))
		}
	} else {
		for _, ip := range s.Added {
			if err := s.links.DelAddr(s.Link, netip.PrefixFrom(ip, ip.BitLen())); err != nil {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", ip, s.Link, err))
			}
		}
	}
	if len(errs) == 0 && (s.CreatedLink || len(s.Added) > 0) {
		log.Info("spartan addresses removed", "link", s.Link)
	}
	if err := s.links.Close(); err != nil {
		errs = append(errs, err)
	}
	s.Added, s.CreatedLink, s.links = nil, false, nil
	return errors.Join(errs...)
}
