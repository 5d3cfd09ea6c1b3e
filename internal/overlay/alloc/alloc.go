package alloc

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"

	"github.com/sextantdc/sextant/internal/overlay/config"
)

// Allocator holds the agents' allocations of one network and hands out
// new ones. It is a value with no I/O (the Master persists it) and is not
// safe for concurrent use.
type Allocator struct {
	net    config.Network
	agents map[string]*AgentInfo
}

// NewAllocator returns an allocator with no agents.
func NewAllocator(n config.Network) *Allocator {
	return &Allocator{net: n, agents: map[string]*AgentInfo{}}
}

// ErrExhausted is returned when the VTEP pool has no free address.
var ErrExhausted = errors.New("vtep_subnet exhausted")

// Restore replaces the allocations with persisted ones. An entry that does
// not parse, or takes what an earlier entry holds, is dropped and reported;
// the others are kept.
func (a *Allocator) Restore(agents []AgentInfo) []error {
	a.agents = map[string]*AgentInfo{}
	var probs []error
	vteps, blocks := map[netip.Addr]string{}, map[netip.Prefix]string{}
	for i, ag := range agents {
		err := func() error {
			ip, err := netip.ParseAddr(ag.IP)
			if err != nil {
				return fmt.Errorf("ip %q: not an address", ag.IP)
			}
			if _, dup := a.agents[ip.String()]; dup {
				return fmt.Errorf("ip %s: listed twice", ip)
			}
			var mine []netip.Addr
			var mineB []netip.Prefix
			for _, o := range ag.Overlays {
				if o.Backend.VXLAN == nil {
					return fmt.Errorf("overlay %q: no vxlan backend", o.Info.Name)
				}
				for _, s := range []string{o.Backend.VXLAN.VTEPIP, o.Backend.VXLAN.VTEPIP6} {
					if s == "" {
						continue
					}
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return fmt.Errorf("overlay %q: vtep %q: not a CIDR", o.Info.Name, s)
					}
					if owner, ok := vteps[p.Addr()]; ok && owner != ip.String() {
						return fmt.Errorf("vtep %s is %s's", p.Addr(), owner)
					}
					mine = append(mine, p.Addr())
				}
				for _, s := range []string{o.Subnet, o.Subnet6} {
					if s == "" {
						continue
					}
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return fmt.Errorf("overlay %q: subnet %q: not a CIDR", o.Info.Name, s)
					}
					for b, owner := range blocks {
						if b.Overlaps(p) {
							return fmt.Errorf("subnet %s overlaps %s of %s", p, b, owner)
						}
					}
					mineB = append(mineB, p)
				}
			}
			for _, v := range mine {
				vteps[v] = ip.String()
			}
			for _, b := range mineB {
				blocks[b] = ip.String()
			}
			c := clone(ag)
			c.IP = ip.String()
			a.agents[c.IP] = &c
			return nil
		}()
		if err != nil {
			probs = append(probs, fmt.Errorf("agents[%d]: %w", i, err))
		}
	}
	return probs
}

func clone(ag AgentInfo) AgentInfo {
	c := ag
	c.Overlays = slices.Clone(ag.Overlays)
	for i := range c.Overlays {
		o := &c.Overlays[i]
		if o.MesosBridge != nil {
			b := *o.MesosBridge
			o.MesosBridge = &b
		}
		if o.DockerBridge != nil {
			b := *o.DockerBridge
			o.DockerBridge = &b
		}
		if o.Backend.VXLAN != nil {
			v := *o.Backend.VXLAN
			o.Backend.VXLAN = &v
		}
	}
	return c
}

// Agents returns every allocation, ordered by agent IP.
func (a *Allocator) Agents() []AgentInfo {
	out := make([]AgentInfo, 0, len(a.agents))
	for _, ag := range a.agents {
		out = append(out, clone(*ag))
	}
	slices.SortFunc(out, func(x, y AgentInfo) int {
		return netip.MustParseAddr(x.IP).Compare(netip.MustParseAddr(y.IP))
	})
	return out
}

// Agent returns one agent's allocation.
func (a *Allocator) Agent(ip string) (AgentInfo, bool) {
	ag, ok := a.agents[ip]
	if !ok {
		return AgentInfo{}, false
	}
	return clone(*ag), true
}

// Result says what a registration changed.
type Result struct {
	Agent   AgentInfo
	Changed bool     // something was allocated: persist before answering
	Failed  []string // overlays skipped for want of a free block
}

// Register allocates for a new agent, or completes the allocation of a
// known one (overlays it lacks, a VTEP IPv6 once IPv6 is wanted); what an
// agent holds is never moved.
func (a *Allocator) Register(r Registration) (Result, error) {
	ip, err := netip.ParseAddr(r.IP)
	if err != nil {
		return Result{}, fmt.Errorf("ip %q: not an address", r.IP)
	}
	ip = ip.Unmap()
	var res Result
	ag, known := a.agents[ip.String()]
	var vx VXLAN
	if known && len(ag.Overlays) > 0 {
		vx = *ag.Overlays[0].Backend.VXLAN
	} else {
		v4, err := a.freeVTEP(a.net.VTEPSubnet, func(o AgentOverlay) string { return o.Backend.VXLAN.VTEPIP })
		if err != nil {
			return Result{}, err
		}
		b := v4.As4()
		o := a.net.VTEPMACOUI
		vx = VXLAN{VNI: VNI, VTEPName: VTEPName, VTEPMTU: a.net.VTEPMTU,
			VTEPIP:  netip.PrefixFrom(v4, a.net.VTEPSubnet.Bits()).String(),
			VTEPMAC: fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", o[0], o[1], o[2], b[1], b[2], b[3])}
	}
	if vx.VTEPIP6 == "" && r.EnableIPv6 && a.net.VTEPSubnet6.IsValid() {
		if v6, err := a.freeVTEP(a.net.VTEPSubnet6, func(o AgentOverlay) string { return o.Backend.VXLAN.VTEPIP6 }); err == nil {
			vx.VTEPIP6 = netip.PrefixFrom(v6, a.net.VTEPSubnet6.Bits()).String()
		}
	}
	if !known {
		ag = &AgentInfo{IP: ip.String()}
	}
	for i := range ag.Overlays {
		if *ag.Overlays[i].Backend.VXLAN != vx {
			v := vx
			ag.Overlays[i].Backend.VXLAN = &v
			res.Changed = true
		}
	}
	for _, ov := range a.net.Enabled() {
		if slices.ContainsFunc(ag.Overlays, func(o AgentOverlay) bool { return o.Info.Name == ov.Name }) {
			continue
		}
		v := vx
		o := AgentOverlay{Info: info(ov), Backend: Backend{VXLAN: &v}, State: OverlayState{Status: StatusConfiguring}}
		if r.AllocateSubnet {
			if ov.Subnet.IsValid() {
				if b, ok := a.freeBlock(ov.Subnet, ov.Prefix, func(o AgentOverlay) string { return o.Subnet }); ok {
					o.Subnet = b.String()
				}
			}
			if ov.Subnet6.IsValid() && r.EnableIPv6 {
				if b, ok := a.freeBlock(ov.Subnet6, ov.Prefix6, func(o AgentOverlay) string { return o.Subnet6 }); ok {
					o.Subnet6 = b.String()
				}
			}
			if o.Subnet == "" && o.Subnet6 == "" {
				res.Failed = append(res.Failed, ov.Name)
				continue
			}
			bridge := func(name string, second bool) *Bridge {
				br := &Bridge{Name: name}
				if o.Subnet != "" {
					br.IP = half(netip.MustParsePrefix(o.Subnet), second).String()
				}
				if o.Subnet6 != "" {
					br.IP6 = half(netip.MustParsePrefix(o.Subnet6), second).String()
				}
				return br
			}
			if r.MesosBridge {
				o.MesosBridge = bridge(ov.MesosBridge(), false)
			}
			if r.DockerBridge {
				o.DockerBridge = bridge(ov.DockerBridge(), true)
			}
		}
		ag.Overlays = append(ag.Overlays, o)
		res.Changed = true
	}
	if !known {
		a.agents[ag.IP] = ag
		res.Changed = true
	}
	res.Agent = clone(*ag)
	return res, nil
}

// SetStatus records the states an agent reports for its overlays; it says
// whether anything changed.
func (a *Allocator) SetStatus(ip string, overlays []AgentOverlay) bool {
	ag, ok := a.agents[ip]
	if !ok {
		return false
	}
	changed := false
	for _, rep := range overlays {
		for i := range ag.Overlays {
			if ag.Overlays[i].Info.Name == rep.Info.Name && ag.Overlays[i].State != rep.State {
				ag.Overlays[i].State = rep.State
				changed = true
			}
		}
	}
	return changed
}

// Delete drops agents and returns their addresses and blocks to the pools.
// It returns the IPs that were unknown.
func (a *Allocator) Delete(ips []string) (unknown []string) {
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			unknown = append(unknown, s)
			continue
		}
		if _, ok := a.agents[ip.String()]; !ok {
			unknown = append(unknown, s)
			continue
		}
		delete(a.agents, ip.String())
	}
	return unknown
}

func info(o config.Overlay) OverlayInfo {
	i := OverlayInfo{Name: o.Name}
	if o.Subnet.IsValid() {
		i.Subnet, i.Prefix = o.Subnet.String(), o.Prefix
	}
	if o.Subnet6.IsValid() {
		i.Subnet6, i.Prefix6 = o.Subnet6.String(), o.Prefix6
	}
	return i
}

// used collects, from every agent, the prefixes field returns.
func (a *Allocator) used(field func(AgentOverlay) string) map[netip.Prefix]bool {
	m := map[netip.Prefix]bool{}
	for _, ag := range a.agents {
		for _, o := range ag.Overlays {
			if s := field(o); s != "" {
				if p, err := netip.ParsePrefix(s); err == nil {
					m[p] = true
				}
			}
		}
	}
	return m
}

// freeVTEP is the lowest address of pool, past the network address and
// short of the IPv4 broadcast address, that no agent holds.
func (a *Allocator) freeVTEP(pool netip.Prefix, field func(AgentOverlay) string) (netip.Addr, error) {
	taken := map[netip.Addr]bool{}
	for p := range a.used(field) {
		taken[p.Addr()] = true
	}
	// The lowest free address is among the first len(taken)+1 candidates.
	for ip := pool.Addr().Next(); pool.Contains(ip); ip = ip.Next() {
		if ip.Is4() && !pool.Contains(ip.Next()) {
			break // the broadcast address
		}
		if !taken[ip] {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: no free address in %s", ErrExhausted, pool)
}

// freeBlock is the lowest /bits block of space that overlaps no agent's.
func (a *Allocator) freeBlock(space netip.Prefix, bits int, field func(AgentOverlay) string) (netip.Prefix, bool) {
	var taken []netip.Prefix
	for p := range a.used(field) {
		if p.Overlaps(space) {
			taken = append(taken, p)
		}
	}
	// Blocks of the configured size are looked up exactly; others (a
	// prefix changed since they were given) are checked for overlap.
	exact, odd := map[netip.Prefix]bool{}, []netip.Prefix(nil)
	for _, p := range taken {
		if p.Bits() == bits {
			exact[p] = true
		} else {
			odd = append(odd, p)
		}
	}
	step := new(big.Int).Lsh(big.NewInt(1), uint(space.Addr().BitLen()-bits))
	cur := toInt(space.Addr())
	for {
		addr, ok := fromInt(cur, space.Addr().Is4())
		if !ok || !space.Contains(addr) {
			return netip.Prefix{}, false
		}
		b := netip.PrefixFrom(addr, bits)
		if !exact[b] && !slices.ContainsFunc(odd, b.Overlaps) {
			return b, true
		}
		cur.Add(cur, step)
	}
}

// half is the first or second half of p.
func half(p netip.Prefix, second bool) netip.Prefix {
	bits := p.Bits() + 1
	if !second {
		return netip.PrefixFrom(p.Addr(), bits)
	}
	n := toInt(p.Addr())
	n.Add(n, new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-bits)))
	addr, _ := fromInt(n, p.Addr().Is4())
	return netip.PrefixFrom(addr, bits)
}

func toInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

func fromInt(n *big.Int, v4 bool) (netip.Addr, bool) {
	size := 16
	if v4 {
		size = 4
	}
	if n.BitLen() > size*8 {
		return netip.Addr{}, false
	}
	b := make([]byte, size)
	n.FillBytes(b)
	a, ok := netip.AddrFromSlice(b)
	return a, ok
}

// String is for logs: the agent and its blocks.
func (r Result) String() string {
	var parts []string
	for _, o := range r.Agent.Overlays {
		parts = append(parts, o.Info.Name+"="+o.Subnet+o.Subnet6)
	}
	return r.Agent.IP + " " + strings.Join(parts, " ")
}
