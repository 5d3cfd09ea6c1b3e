package isolate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sextantdc/sextant/internal/model"
)

// TableName is the nftables table (in the inet and bridge families) the
// policy lives in; nothing else is touched.
const TableName = "sextant_overlay_isolation"

// GroupsLabel is the container-network label that lists a task's groups.
const GroupsLabel = "groups"

// Endpoint is one overlay address and the groups of the task holding it.
type Endpoint struct {
	Addr   netip.Addr
	Groups []string
}

// Policy is the computed isolation: per set of groups, the destinations
// holding exactly that set.
type Policy struct {
	Grouped []netip.Addr            // every grouped address
	Members map[string][]netip.Addr // group → its addresses
	Combos  []Combo
}

// Combo is a distinct set of groups and the addresses that hold it.
type Combo struct {
	Groups []string
	Dsts   []netip.Addr
}

// Compute builds the policy. Only IPv4 endpoints are enforced. An address
// listed twice gets the union of its groups.
func Compute(eps []Endpoint) Policy {
	byAddr := map[netip.Addr][]string{}
	for _, e := range eps {
		if !e.Addr.Is4() || len(e.Groups) == 0 {
			continue
		}
		byAddr[e.Addr] = append(byAddr[e.Addr], e.Groups...)
	}
	p := Policy{Members: map[string][]netip.Addr{}}
	combos := map[string]*Combo{}
	for a, gs := range byAddr {
		slices.Sort(gs)
		gs = slices.Compact(gs)
		p.Grouped = append(p.Grouped, a)
		for _, g := range gs {
			p.Members[g] = append(p.Members[g], a)
		}
		key := strings.Join(gs, ",")
		c, ok := combos[key]
		if !ok {
			c = &Combo{Groups: gs}
			combos[key] = c
		}
		c.Dsts = append(c.Dsts, a)
	}
	slices.SortFunc(p.Grouped, netip.Addr.Compare)
	for _, m := range p.Members {
		slices.SortFunc(m, netip.Addr.Compare)
	}
	for _, c := range combos {
		slices.SortFunc(c.Dsts, netip.Addr.Compare)
		p.Combos = append(p.Combos, *c)
	}
	slices.SortFunc(p.Combos, func(a, b Combo) int { return strings.Compare(strings.Join(a.Groups, ","), strings.Join(b.Groups, ",")) })
	return p
}

// Allowed says whether the policy lets src reach dst.
func (p Policy) Allowed(src, dst netip.Addr) bool {
	var sg, dg []string
	for g, m := range p.Members {
		if slices.Contains(m, src) {
			sg = append(sg, g)
		}
		if slices.Contains(m, dst) {
			dg = append(dg, g)
		}
	}
	if len(sg) == 0 || len(dg) == 0 {
		return true
	}
	for _, g := range sg {
		if slices.Contains(dg, g) {
			return true
		}
	}
	return false
}

// Groups sorted, for stable output.
func (p Policy) groupNames() []string {
	var out []string
	for g := range p.Members {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// String renders the policy as the nft ruleset Apply installs (inet
// table; the bridge table is the same with "meta protocol ip").
func (p Policy) String() string {
	var b strings.Builder
	names := p.groupNames()
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	fmt.Fprintf(&b, "  set grouped { type ipv4_addr; elements = { %s } }\n", addrs(p.Grouped))
	for i, g := range names {
		fmt.Fprintf(&b, "  set g%d { type ipv4_addr; elements = { %s } } # %s\n", i, addrs(p.Members[g]), g)
	}
	var vmap []string
	for i, c := range p.Combos {
		for _, d := range c.Dsts {
			vmap = append(vmap, fmt.Sprintf("%s : jump c%d", d, i))
		}
	}
	fmt.Fprintf(&b, "  map dst { type ipv4_addr : verdict; elements = { %s } }\n", strings.Join(vmap, ", "))
	fmt.Fprintf(&b, "  chain forward { type filter hook forward priority filter; policy accept; meta nfproto ipv4 ip daddr vmap @dst }\n")
	for i, c := range p.Combos {
		fmt.Fprintf(&b, "  chain c%d { # %s\n", i, strings.Join(c.Groups, ","))
		for _, g := range c.Groups {
			fmt.Fprintf(&b, "    ip saddr @g%d accept\n", slices.Index(names, g))
		}
		b.WriteString("    ip saddr @grouped drop\n  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func addrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// FromSnapshot lists the endpoints on the overlay space: the IPs of
// running tasks inside space, with the groups label of their app's
// container network (any container network when the app names one).
func FromSnapshot(s *model.Snapshot, space netip.Prefix) []Endpoint {
	var out []Endpoint
	for i := range s.Tasks {
		t := &s.Tasks[i]
		if !t.Running() || t.App == nil {
			continue
		}
		var groups []string
		for _, n := range t.App.Networks {
			if n.Mode != model.NetworkContainer {
				continue
			}
			for _, g := range strings.Split(n.Labels[GroupsLabel], ",") {
				if g = strings.TrimSpace(g); g != "" {
					groups = append(groups, g)
				}
			}
		}
		for _, ip := range t.IPs {
			if space.Contains(ip) {
				out = append(out, Endpoint{Addr: ip, Groups: groups})
			}
		}
	}
	return out
}
