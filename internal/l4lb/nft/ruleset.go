package nft

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// TableName is the one nftables table the plane owns (family inet).
const TableName = "sextant_l4lb"

// Ruleset is the desired content of the plane's table: a pure value
// rendered from the services (Render), compiled into netlink messages
// (kernel.go), printed canonically for golden tests (String) and walked
// by the packet tracer (Trace).
type Ruleset struct {
	Chains   map[string]*Chain
	Sets     map[string]*Set
	Counters map[string]bool
}

// Chain is a base chain (Hook set) or a regular chain.
type Chain struct {
	Name string
	// Hook is "", "prerouting", "input", "forward", "output" or
	// "postrouting"; Type "nat" or "filter".
	Hook     string
	Type     string
	Priority int32
	Rules    []Rule
}

// Rule is a list of statements, all matches before at most one action.
type Rule []Stmt

type op uint8

const (
	opNFProto       op = iota + 1 // meta nfproto ipv4|ipv6
	opDaddrIn                     // ip daddr @Set
	opSaddrIn                     // ip saddr @Set
	opCtStateNew                  // ct state new
	opCtDNAT                      // ct status dnat
	opCtDir                       // ct direction original|reply
	opTupleIn                     // ct original proto-dst . ip daddr . th dport @Set
	opOifLo                       // oifname "lo"
	opIifNotLo                    // iifname != "lo"
	opFibSaddrLocal               // fib saddr type local
	opL4                          // meta l4proto tcp|udp
	opServiceVmap                 // ip daddr . meta l4proto . th dport vmap @Set
	opNumgenDNAT                  // dnat ip to numgen random mod Mod map @Set
	opJhashDNAT                   // dnat ip to jhash ip saddr mod 65537 seed … map @Set
	opTupleVmap                   // ct original proto-dst . ip daddr . th dport vmap @Set (Reply: ip saddr . th sport)
	opCounter                     // counter name Name
	opDNAT                        // dnat ip to To
	opMasq                        // masquerade
	opRejectTCP                   // reject with tcp reset
	opRejectICMPX                 // reject with icmpx port-unreachable
	opJump                        // jump Name
	opGoto                        // goto Name
	opReturn                      // return
)

// Stmt is one statement of a rule.
type Stmt struct {
	Op    op
	V6    bool   // the address family of address statements
	Set   string // set of matches and vmaps
	Name  string // counter or chain
	Mod   uint32
	Proto balance.Protocol
	To    netip.AddrPort
	Reply bool // opCtDir: reply (else original)
}

// SetKind is what a set's elements are.
type SetKind uint8

// Kinds of sets.
const (
	KindAddr    SetKind = iota + 1 // addresses or prefixes
	KindService                    // address . protocol . port → chain
	KindSlot                       // slot number → backend address . port (a data map)
	KindTuple                      // VIP port . backend address . port (→ chain, in a map)
)

// Set is a named set or verdict map.
type Set struct {
	Name     string
	Kind     SetKind
	V6       bool
	Interval bool
	Elems    map[string]Elem // by canonical key text
}

// Elem is one element; Goto is the chain of a verdict map.
type Elem struct {
	Prefix  netip.Prefix   // KindAddr
	Addr    netip.AddrPort // KindService (with Proto), KindTuple (the VIP)
	Proto   balance.Protocol
	Backend netip.AddrPort // KindTuple, KindSlot
	Slot    uint32         // KindSlot
	Goto    string
}

// Key is the element's canonical text without its verdict.
func (e Elem) Key(k SetKind) string {
	switch k {
	case KindAddr:
		if e.Prefix.IsSingleIP() {
			return e.Prefix.Addr().String()
		}
		return e.Prefix.String()
	case KindService:
		return fmt.Sprintf("%s . %s . %d", e.Addr.Addr(), e.Proto, e.Addr.Port())
	case KindSlot:
		return strconv.FormatUint(uint64(e.Slot), 10)
	case KindTuple:
		return fmt.Sprintf("%d . %s . %d", e.Addr.Port(), e.Backend.Addr(), e.Backend.Port())
	}
	return "?"
}

func (s *Set) add(e Elem) { s.Elems[e.Key(s.Kind)] = e }

// addFirst adds e unless its key is taken.
func (s *Set) addFirst(e Elem) {
	if _, ok := s.Elems[e.Key(s.Kind)]; !ok {
		s.add(e)
	}
}

// counterNames returns the counters that count a backend of a service
// in rs: its own, or those of the first service on the same port with
// the same backend (the byte keys hold no VIP address).
func (rs *Ruleset) counterNames(k balance.Key, b netip.AddrPort) (be, bt, bf string) {
	v6 := k.Addr.Addr().Is6()
	key := Elem{Addr: k.Addr, Backend: b}.Key(KindTuple)
	to, ok1 := rs.Sets[famName(setBytesTo, v6)].Elems[key]
	from, ok2 := rs.Sets[famName(setBytesFr, v6)].Elems[key]
	if !ok1 || !ok2 {
		return backendName("be", k, b), backendName("bt", k, b), backendName("bf", k, b)
	}
	return "be" + strings.TrimPrefix(to.Goto, "bt"), to.Goto, from.Goto
}

// Set names of the fixed part of the table.
const (
	setRanges   = "vip_ranges"
	setVIPs     = "vips"
	setTargets  = "dnat_targets"
	setServices = "services"
	setRefuse   = "refuse"
	setBytesTo  = "bytes_to"
	setBytesFr  = "bytes_from"
)

func famName(name string, v6 bool) string {
	if v6 {
		return name + "6"
	}
	return name + "4"
}

// Render returns the ruleset serving services, refusing new flows to the
// ranges and to every VIP address that no service with a backend taking
// new flows answers. It does no I/O.
func Render(services []balance.Service, ranges []netip.Prefix) *Ruleset {
	return render(services, ranges, nil)
}

// slotCache keeps the slot maps of the last render by service: an
// unchanged Maglev service reuses its 65537-element map (the same
// pointer, which the diff then skips) instead of computing it again.
type slotCache map[balance.Key]cachedSlots

type cachedSlots struct {
	svc balance.Service
	set *Set
}

func render(services []balance.Service, ranges []netip.Prefix, cache slotCache) *Ruleset {
	rs := &Ruleset{Chains: map[string]*Chain{}, Sets: map[string]*Set{}, Counters: map[string]bool{}}
	for _, v6 := range []bool{false, true} {
		rs.Sets[famName(setRanges, v6)] = &Set{Name: famName(setRanges, v6), Kind: KindAddr, V6: v6, Interval: true, Elems: map[string]Elem{}}
		for _, n := range []string{setVIPs, setServices, setRefuse, setBytesTo, setBytesFr, setTargets} {
			k := KindAddr
			switch n {
			case setServices, setRefuse:
				k = KindService
			case setBytesTo, setBytesFr, setTargets:
				k = KindTuple
			}
			rs.Sets[famName(n, v6)] = &Set{Name: famName(n, v6), Kind: k, V6: v6, Elems: map[string]Elem{}}
		}
	}
	for _, p := range ranges {
		p = p.Masked()
		rs.Sets[famName(setRanges, p.Addr().Is6())].add(Elem{Prefix: p})
	}
	rs.fixedChains()
	for i := range services {
		rs.service(&services[i], cache)
	}
	return rs
}

func (rs *Ruleset) chain(c *Chain) { rs.Chains[c.Name] = c }

func (rs *Ruleset) fixedChains() {
	rs.chain(&Chain{Name: "nat-prerouting", Hook: "prerouting", Type: "nat", Priority: -100, Rules: []Rule{{{Op: opJump, Name: "services"}}}})
	rs.chain(&Chain{Name: "nat-output", Hook: "output", Type: "nat", Priority: -100, Rules: []Rule{{{Op: opJump, Name: "services"}}}})
	rs.chain(&Chain{Name: "nat-postrouting", Hook: "postrouting", Type: "nat", Priority: 100})
	rs.chain(&Chain{Name: "services"})
	rs.chain(&Chain{Name: "masq", Rules: []Rule{{{Op: opOifLo}, {Op: opReturn}}}})
	rs.chain(&Chain{Name: "refuse"})
	rs.chain(&Chain{Name: "reject", Rules: []Rule{{{Op: opL4, Proto: balance.TCP}, {Op: opRejectTCP}}, {{Op: opRejectICMPX}}}})
	rs.chain(&Chain{Name: "count"})
	for _, v6 := range []bool{false, true} {
		fam := Stmt{Op: opNFProto, V6: v6}
		c := rs.Chains["services"]
		c.Rules = append(c.Rules, Rule{fam, {Op: opServiceVmap, V6: v6, Set: famName(setServices, v6)}})
		c = rs.Chains["nat-postrouting"]
		c.Rules = append(c.Rules, Rule{{Op: opCtDNAT}, fam, {Op: opTupleIn, V6: v6, Set: famName(setTargets, v6)}, {Op: opJump, Name: "masq"}})
		c = rs.Chains["masq"]
		// A local client's source is the VIP itself (the VIP routes are
		// local routes): the backend could not answer it off this node.
		c.Rules = append(c.Rules,
			Rule{fam, {Op: opSaddrIn, V6: v6, Set: famName(setRanges, v6)}, {Op: opMasq}},
			Rule{fam, {Op: opSaddrIn, V6: v6, Set: famName(setVIPs, v6)}, {Op: opMasq}})
		c = rs.Chains["refuse"]
		c.Rules = append(c.Rules,
			Rule{fam, {Op: opServiceVmap, V6: v6, Set: famName(setRefuse, v6)}},
			Rule{fam, {Op: opDaddrIn, V6: v6, Set: famName(setRanges, v6)}, {Op: opGoto, Name: "reject"}},
			Rule{fam, {Op: opDaddrIn, V6: v6, Set: famName(setVIPs, v6)}, {Op: opGoto, Name: "reject"}})
	}
	// Flows from other hosts (and containers) are masqueraded so that
	// the backend's answer comes back through this node, as dcos-l4lb's
	// IPVS NAT did; a local client with its own address needs none.
	masq := rs.Chains["masq"]
	masq.Rules = append(masq.Rules, Rule{{Op: opFibSaddrLocal}, {Op: opReturn}}, Rule{{Op: opMasq}})
	for _, v6 := range []bool{false, true} {
		fam := Stmt{Op: opNFProto, V6: v6}
		c := rs.Chains["count"]
		c.Rules = append(c.Rules,
			Rule{{Op: opCtDir}, fam, {Op: opTupleVmap, V6: v6, Set: famName(setBytesTo, v6)}},
			Rule{{Op: opCtDir, Reply: true}, fam, {Op: opTupleVmap, V6: v6, Reply: true, Set: famName(setBytesFr, v6)}})
	}
	// Filter hooks run after the nat ones (priority 0 > -100): a flow
	// still addressed to a VIP address here was not DNATed, so nothing
	// serves it. Packets arriving on lo were counted on their way out.
	refuse := Rule{{Op: opCtStateNew}, {Op: opJump, Name: "refuse"}}
	count := Rule{{Op: opCtDNAT}, {Op: opJump, Name: "count"}}
	rs.chain(&Chain{Name: "filter-input", Hook: "input", Type: "filter", Priority: 0,
		Rules: []Rule{refuse, append(Rule{{Op: opIifNotLo}}, count...)}})
	rs.chain(&Chain{Name: "filter-forward", Hook: "forward", Type: "filter", Priority: 0, Rules: []Rule{refuse, count}})
	rs.chain(&Chain{Name: "filter-output", Hook: "output", Type: "filter", Priority: 0, Rules: []Rule{refuse, count}})
}

// hashName is a deterministic, bounded name: a hash of what it names and
// a readable suffix (kube-proxy's hashAndTruncate).
func hashName(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "|")))
	s := prefix + "-" + hex.EncodeToString(h[:4]) + "-" + strings.Join(parts, "-")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// Names of a service's objects.
func svcChain(k balance.Key) string { return hashName("svc", k.Protocol.String(), k.Addr.String()) }
func slotSet(k balance.Key) string  { return hashName("sl", k.Protocol.String(), k.Addr.String()) }
func refuseName(k balance.Key) string {
	return hashName("rf", k.Protocol.String(), k.Addr.String())
}

func backendName(prefix string, k balance.Key, b netip.AddrPort) string {
	return hashName(prefix, k.Protocol.String(), k.Addr.String(), b.String())
}

func (rs *Ruleset) service(s *balance.Service, cache slotCache) {
	v6 := s.Addr.Addr().Is6()
	vip := s.Addr.Addr()
	rs.Sets[famName(setVIPs, v6)].add(Elem{Prefix: netip.PrefixFrom(vip, vip.BitLen())})
	var active []balance.Backend
	for _, b := range s.Backends {
		if b.Addr.Addr().Is6() != v6 {
			continue // not reachable by DNAT from this family
		}
		be := backendName("be", s.Key, b.Addr)
		bt, bf := backendName("bt", s.Key, b.Addr), backendName("bf", s.Key, b.Addr)
		rs.Counters[be], rs.Counters[bt], rs.Counters[bf] = true, true, true
		// New flows and bytes are counted in the filter hooks, where a
		// DNATed packet shows its backend; the first packet of a flow
		// is the one in state new.
		rs.chain(&Chain{Name: bt, Rules: []Rule{{{Op: opCtStateNew}, {Op: opCounter, Name: be}}, {{Op: opCounter, Name: bt}}}})
		rs.chain(&Chain{Name: bf, Rules: []Rule{{{Op: opCounter, Name: bf}}}})
		// Keyed by the VIP's port, not its address (see tupleKey): two
		// VIPs on one port with the same backend share the first's.
		rs.Sets[famName(setBytesTo, v6)].addFirst(Elem{Addr: s.Addr, Backend: b.Addr, Goto: bt})
		rs.Sets[famName(setBytesFr, v6)].addFirst(Elem{Addr: s.Addr, Backend: b.Addr, Goto: bf})
		rs.Sets[famName(setTargets, v6)].addFirst(Elem{Addr: s.Addr, Backend: b.Addr})
		if b.Weight > 0 {
			active = append(active, b)
		}
	}
	rf := refuseName(s.Key)
	rs.Counters[rf] = true
	if len(active) == 0 {
		rs.chain(&Chain{Name: rf, Rules: []Rule{{{Op: opCounter, Name: rf}, {Op: opGoto, Name: "reject"}}}})
		rs.Sets[famName(setRefuse, v6)].add(Elem{Addr: s.Addr, Proto: s.Protocol, Goto: rf})
		return
	}
	// The slot maps are data maps (slot → backend address . port) that
	// the DNAT reads: a verdict map of 65537 elements would make every
	// commit cost seconds, as the kernel validates the chain graph
	// through each verdict element.
	sc, sl := svcChain(s.Key), slotSet(s.Key)
	set := &Set{Name: sl, Kind: KindSlot, V6: v6, Elems: map[string]Elem{}}
	rs.Sets[sl] = set
	rs.Sets[famName(setServices, v6)].add(Elem{Addr: s.Addr, Proto: s.Protocol, Goto: sc})
	if s.Mode == balance.Maglev {
		// The family match is for nft: without it, it cannot name the
		// source address field it lists.
		rs.chain(&Chain{Name: sc, Rules: []Rule{{{Op: opNFProto, V6: v6}, {Op: opJhashDNAT, V6: v6, Set: sl}}}})
		if c, ok := cache[s.Key]; ok && c.svc.Equal(s) {
			rs.Sets[sl] = c.set
			return
		}
		names := make([]string, len(active))
		weights := make([]uint8, len(active))
		for i, b := range active {
			names[i], weights[i] = b.Addr.String(), b.Weight
		}
		for slot, i := range balance.MaglevTable(names, weights) {
			set.add(Elem{Slot: uint32(slot), Backend: active[i].Addr})
		}
		if cache != nil {
			cache[s.Key] = cachedSlots{svc: *s, set: set}
		}
		return
	}
	// Weighted random: a backend of weight w owns w consecutive slots.
	slot := uint32(0)
	for _, b := range active {
		for range b.Weight {
			set.add(Elem{Slot: slot, Backend: b.Addr})
			slot++
		}
	}
	rs.chain(&Chain{Name: sc, Rules: []Rule{{{Op: opNumgenDNAT, V6: v6, Set: sl, Mod: slot}}}})
}

// String is the canonical text of the ruleset: objects sorted by kind
// and name, elements sorted, rules in order. Golden files hold it.
func (rs *Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\n", TableName)
	for _, n := range sortedKeys(rs.Counters) {
		fmt.Fprintf(&b, "counter %s\n", n)
	}
	for _, n := range sortedKeys(rs.Sets) {
		s := rs.Sets[n]
		fmt.Fprintf(&b, "set %s { %s }\n", n, s.typeText())
		keys := sortedKeys(s.Elems)
		if s.Kind == KindSlot {
			slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(s.Elems[a].Slot, s.Elems[b].Slot) })
			if len(keys) > maxSlotLines {
				summarizeSlots(&b, s, keys)
				continue
			}
		}
		for _, k := range keys {
			if e := s.Elems[k]; s.Kind == KindSlot {
				fmt.Fprintf(&b, "\telem %s : %s . %d\n", k, e.Backend.Addr(), e.Backend.Port())
			} else if e.Goto != "" {
				fmt.Fprintf(&b, "\telem %s : goto %s\n", k, e.Goto)
			} else {
				fmt.Fprintf(&b, "\telem %s\n", k)
			}
		}
	}
	for _, n := range sortedKeys(rs.Chains) {
		c := rs.Chains[n]
		if c.Hook != "" {
			fmt.Fprintf(&b, "chain %s { type %s hook %s priority %d; }\n", n, c.Type, c.Hook, c.Priority)
		} else {
			fmt.Fprintf(&b, "chain %s\n", n)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t%s\n", r)
		}
	}
	return b.String()
}

// maxSlotLines: a larger slot map (Maglev's 65537 slots) is printed as
// its slots per chain and a digest of the whole map.
const maxSlotLines = 64

func summarizeSlots(b *strings.Builder, s *Set, keys []string) {
	h := sha256.New()
	per := map[string]int{}
	for _, k := range keys {
		e := s.Elems[k]
		to := fmt.Sprintf("%s . %d", e.Backend.Addr(), e.Backend.Port())
		fmt.Fprintf(h, "%d:%s\n", e.Slot, to)
		per[to]++
	}
	fmt.Fprintf(b, "\t%d slots, digest %x\n", len(keys), h.Sum(nil)[:8])
	for _, c := range sortedKeys(per) {
		fmt.Fprintf(b, "\t%d slots : %s\n", per[c], c)
	}
}

func (s *Set) typeText() string {
	a := "ipv4_addr"
	if s.V6 {
		a = "ipv6_addr"
	}
	switch s.Kind {
	case KindAddr:
		if s.Interval {
			return "type " + a + "; flags interval;"
		}
		return "type " + a + ";"
	case KindService:
		return "type " + a + " . inet_proto . inet_service : verdict;"
	case KindSlot:
		return "type integer : " + a + " . inet_service;"
	case KindTuple:
		if s.Name == famName(setTargets, s.V6) {
			return "type inet_service . " + a + " . inet_service;"
		}
		return "type inet_service . " + a + " . inet_service : verdict;"
	}
	return "?"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (r Rule) String() string {
	parts := make([]string, len(r))
	for i, s := range r {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

func (s Stmt) String() string {
	ip := "ip"
	if s.V6 {
		ip = "ip6"
	}
	switch s.Op {
	case opNFProto:
		if s.V6 {
			return "meta nfproto ipv6"
		}
		return "meta nfproto ipv4"
	case opDaddrIn:
		return ip + " daddr @" + s.Set
	case opSaddrIn:
		return ip + " saddr @" + s.Set
	case opCtStateNew:
		return "ct state new"
	case opCtDNAT:
		return "ct status dnat"
	case opCtDir:
		if s.Reply {
			return "ct direction reply"
		}
		return "ct direction original"
	case opTupleIn:
		return "ct original proto-dst . " + ip + " daddr . th dport @" + s.Set
	case opOifLo:
		return `oifname "lo"`
	case opIifNotLo:
		return `iifname != "lo"`
	case opFibSaddrLocal:
		return "fib saddr type local"
	case opL4:
		return "meta l4proto " + s.Proto.String()
	case opServiceVmap:
		return ip + " daddr . meta l4proto . th dport vmap @" + s.Set
	case opNumgenDNAT:
		return fmt.Sprintf("dnat %s to numgen random mod %d map @%s", ip, s.Mod, s.Set)
	case opJhashDNAT:
		return fmt.Sprintf("dnat %s to jhash %s saddr mod %d seed %#x map @%s", ip, ip, balance.MaglevSize, balance.MaglevSeed, s.Set)
	case opTupleVmap:
		if s.Reply {
			return fmt.Sprintf("ct original proto-dst . %s saddr . th sport vmap @%s", ip, s.Set)
		}
		return fmt.Sprintf("ct original proto-dst . %s daddr . th dport vmap @%s", ip, s.Set)
	case opCounter:
		return `counter name "` + s.Name + `"`
	case opDNAT:
		return "dnat " + ip + " to " + s.To.String()
	case opMasq:
		return "masquerade"
	case opRejectTCP:
		return "reject with tcp reset"
	case opRejectICMPX:
		return "reject with icmpx port-unreachable"
	case opJump:
		return "jump " + s.Name
	case opGoto:
		return "goto " + s.Name
	case opReturn:
		return "return"
	}
	return fmt.Sprintf("op-%d", s.Op)
}
