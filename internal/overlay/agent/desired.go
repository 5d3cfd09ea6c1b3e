package agent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
)

// Table is the routing table that sends traffic from containers to
// other agents' host IPs into the tunnel (§C.4 step 4).
const Table = 42

// UnreachableMetric is the metric of the safety routes: higher than any
// route the agent or the kernel adds, so they only catch overlay traffic
// nothing else claims (a peer's block not programmed yet, the VTEP down).
const UnreachableMetric = 4278198272

// Desired is the whole kernel state the agent wants, a pure function of
// its allocation and its peers' (Build).
type Desired struct {
	VTEP    VTEP
	Bridges []BridgeDev
	Rules   []netip.Prefix // from <prefix> lookup Table
	Neighs  []Neigh        // on the VTEP, permanent
	FDB     []FDB          // on the VTEP, self permanent
	Routes  []Route
}

// VTEP is the VXLAN device.
type VTEP struct {
	Name  string
	VNI   int
	Port  int
	MAC   net.HardwareAddr
	MTU   int // 0: the kernel's default
	Addrs []netip.Prefix
}

// BridgeDev is a bridge and its gateway address (the first usable address
// of its half of the agent's block).
type BridgeDev struct {
	Name  string
	Addrs []netip.Prefix
	MTU   int
}

// Neigh is a static ARP/NDP entry on the VTEP.
type Neigh struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

// FDB is a static forwarding entry of the VTEP: a peer MAC's host IP.
type FDB struct {
	MAC net.HardwareAddr
	Dst netip.Addr
}

// Route is a unicast route via a peer's VTEP, or an unreachable one.
type Route struct {
	Dst         netip.Prefix
	Via         netip.Addr // invalid for unreachable routes
	Table       int        // 0: main
	Unreachable bool
}

// Peer is another agent's endpoint, as the master's state gives it.
type Peer struct {
	AgentIP netip.Addr
	VTEPIP  netip.Addr
	VTEPIP6 netip.Addr
	MAC     net.HardwareAddr
	Blocks  []netip.Prefix // its IPv4 and IPv6 blocks, all overlays
}

// Options shape the desired state beyond the allocation.
type Options struct {
	// MTU of the bridges (the overlay MTU, 1420 by default); the VTEP's is
	// vtep_mtu from the allocation.
	MTU int
}

// PeersFrom turns the master's agents into peers, leaving out self. An
// agent whose entry does not parse is skipped and reported.
func PeersFrom(agents []alloc.AgentInfo, self string) ([]Peer, []error) {
	var peers []Peer
	var probs []error
	for _, ag := range agents {
		if ag.IP == self {
			continue
		}
		p, err := peerOf(ag)
		if err != nil {
			probs = append(probs, fmt.Errorf("agent %s: %w", ag.IP, err))
			continue
		}
		if p.VTEPIP.IsValid() {
			peers = append(peers, p)
		}
	}
	return peers, probs
}

func peerOf(ag alloc.AgentInfo) (Peer, error) {
	var p Peer
	var err error
	if p.AgentIP, err = netip.ParseAddr(ag.IP); err != nil || !p.AgentIP.Is4() {
		return Peer{}, fmt.Errorf("ip %q: not an IPv4 address", ag.IP)
	}
	for _, o := range ag.Overlays {
		vx := o.Backend.VXLAN
		if vx == nil {
			continue
		}
		v, err := netip.ParsePrefix(vx.VTEPIP)
		if err != nil || !v.Addr().Is4() {
			return Peer{}, fmt.Errorf("overlay %s: vtep_ip %q: not an IPv4 CIDR", o.Info.Name, vx.VTEPIP)
		}
		mac, err := net.ParseMAC(vx.VTEPMAC)
		if err != nil || len(mac) != 6 {
			return Peer{}, fmt.Errorf("overlay %s: vtep_mac %q: not a MAC", o.Info.Name, vx.VTEPMAC)
		}
		p.VTEPIP, p.MAC = v.Addr(), mac
		if vx.VTEPIP6 != "" {
			v6, err := netip.ParsePrefix(vx.VTEPIP6)
			if err != nil || v6.Addr().Is4() {
				return Peer{}, fmt.Errorf("overlay %s: vtep_ip6 %q: not an IPv6 CIDR", o.Info.Name, vx.VTEPIP6)
			}
			p.VTEPIP6 = v6.Addr()
		}
		for _, s := range []string{o.Subnet, o.Subnet6} {
			if s == "" {
				continue
			}
			b, err := netip.ParsePrefix(s)
			if err != nil {
				return Peer{}, fmt.Errorf("overlay %s: subnet %q: not a CIDR", o.Info.Name, s)
			}
			p.Blocks = append(p.Blocks, b)
		}
	}
	return p, nil
}

// Build computes the desired state: the VTEP with this agent's addresses,
// its bridges, a table-42 rule per IPv4 overlay, per peer the neighbour,
// FDB entry, routes to its blocks and the table-42 route to its host IP,
// and unreachable routes for the overlay spaces and the VTEP pool. The
// result is sorted, so equal inputs give equal outputs.
func Build(self alloc.AgentInfo, peers []Peer, o Options) (Desired, error) {
	var d Desired
	if o.MTU == 0 {
		o.MTU = 1420
	}
	var vx *alloc.VXLAN
	spaces := map[netip.Prefix]bool{}
	for _, ov := range self.Overlays {
		if ov.Backend.VXLAN == nil {
			return Desired{}, fmt.Errorf("overlay %s: no vxlan backend", ov.Info.Name)
		}
		if vx == nil {
			vx = ov.Backend.VXLAN
		}
		for _, s := range []string{ov.Info.Subnet, ov.Info.Subnet6} {
			if s == "" {
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return Desired{}, fmt.Errorf("overlay %s: info subnet %q: %w", ov.Info.Name, s, err)
			}
			spaces[p] = true
			if p.Addr().Is4() {
				d.Rules = append(d.Rules, p)
			}
		}
		for _, br := range []*alloc.Bridge{ov.MesosBridge, ov.DockerBridge} {
			if br == nil {
				continue
			}
			bd := BridgeDev{Name: br.Name, MTU: o.MTU}
			for _, s := range []string{br.IP, br.IP6} {
				if s == "" {
					continue
				}
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return Desired{}, fmt.Errorf("overlay %s: bridge %s ip %q: %w", ov.Info.Name, br.Name, s, err)
				}
				bd.Addrs = append(bd.Addrs, Gateway(p))
			}
			d.Bridges = append(d.Bridges, bd)
		}
	}
	if vx == nil {
		return Desired{}, fmt.Errorf("agent %s: no overlay allocated", self.IP)
	}
	mac, err := net.ParseMAC(vx.VTEPMAC)
	if err != nil {
		return Desired{}, fmt.Errorf("vtep_mac %q: %w", vx.VTEPMAC, err)
	}
	d.VTEP = VTEP{Name: vx.VTEPName, VNI: int(vx.VNI), Port: alloc.VXLANPort, MAC: mac, MTU: vx.VTEPMTU}
	for _, s := range []string{vx.VTEPIP, vx.VTEPIP6} {
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Desired{}, fmt.Errorf("vtep ip %q: %w", s, err)
		}
		d.VTEP.Addrs = append(d.VTEP.Addrs, p)
		spaces[p.Masked()] = true
	}
	for _, p := range peers {
		d.Neighs = append(d.Neighs, Neigh{IP: p.VTEPIP, MAC: p.MAC})
		if p.VTEPIP6.IsValid() {
			d.Neighs = append(d.Neighs, Neigh{IP: p.VTEPIP6, MAC: p.MAC})
		}
		d.FDB = append(d.FDB, FDB{MAC: p.MAC, Dst: p.AgentIP})
		for _, b := range p.Blocks {
			via := p.VTEPIP
			if !b.Addr().Is4() {
				via = p.VTEPIP6
			}
			if via.IsValid() {
				d.Routes = append(d.Routes, Route{Dst: b, Via: via})
			}
		}
		d.Routes = append(d.Routes, Route{Dst: netip.PrefixFrom(p.AgentIP, 32), Via: p.VTEPIP, Table: Table})
	}
	for s := range spaces {
		d.Routes = append(d.Routes, Route{Dst: s, Unreachable: true})
	}
	d.sort()
	return d, nil
}

// Gateway is the first usable address of p, with p's length: the bridge's
// address and its containers' default gateway.
func Gateway(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits())
}

func (d *Desired) sort() {
	slices.SortFunc(d.Bridges, func(a, b BridgeDev) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Rules, comparePrefix)
	d.Rules = slices.Compact(d.Rules)
	slices.SortFunc(d.Neighs, func(a, b Neigh) int { return a.IP.Compare(b.IP) })
	slices.SortFunc(d.FDB, func(a, b FDB) int { return strings.Compare(a.MAC.String(), b.MAC.String()) })
	slices.SortFunc(d.Routes, func(a, b Route) int {
		if a.Table != b.Table {
			return a.Table - b.Table
		}
		if c := comparePrefix(a.Dst, b.Dst); c != 0 {
			return c
		}
		return a.Via.Compare(b.Via)
	})
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// String renders the state as the ip(8)/bridge(8) commands that would
// create it: the golden files' format, and readable in logs.
func (d Desired) String() string {
	var b strings.Builder
	v := d.VTEP
	fmt.Fprintf(&b, "ip link add %s type vxlan id %d dstport %d nolearning", v.Name, v.VNI, v.Port)
	if v.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", v.MTU)
	}
	fmt.Fprintf(&b, " address %s\n", v.MAC)
	for _, a := range v.Addrs {
		fmt.Fprintf(&b, "ip addr replace %s dev %s\n", a, v.Name)
	}
	for _, br := range d.Bridges {
		fmt.Fprintf(&b, "ip link add %s type bridge mtu %d\n", br.Name, br.MTU)
		for _, a := range br.Addrs {
			fmt.Fprintf(&b, "ip addr replace %s dev %s\n", a, br.Name)
		}
	}
	for _, r := range d.Rules {
		fmt.Fprintf(&b, "ip rule add from %s lookup %d\n", r, Table)
	}
	for _, n := range d.Neighs {
		fmt.Fprintf(&b, "ip neigh replace %s lladdr %s dev %s nud permanent\n", n.IP, n.MAC, v.Name)
	}
	for _, f := range d.FDB {
		fmt.Fprintf(&b, "bridge fdb replace %s dev %s dst %s self permanent\n", f.MAC, v.Name, f.Dst)
	}
	for _, r := range d.Routes {
		if r.Unreachable {
			fmt.Fprintf(&b, "ip route replace unreachable %s metric %d\n", r.Dst, uint32(UnreachableMetric))
			continue
		}
		fmt.Fprintf(&b, "ip route replace %s via %s dev %s", r.Dst, r.Via, v.Name)
		if r.Table != 0 {
			fmt.Fprintf(&b, " table %d", r.Table)
		}
		b.WriteString("\n")
	}
	return b.String()
}
