package nft

import (
	"net/netip"
	"slices"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// Packet is the first packet of a flow (or of an established one) as the
// tracer sees it.
type Packet struct {
	Src, Dst netip.AddrPort
	Proto    balance.Protocol
	// Local: sent by a process of this node (output hook); otherwise it
	// arrives from another host or a container (prerouting).
	Local bool
	// Established: conntrack already knows the flow; nat chains do not
	// see it and its NAT, if any, stays as it was.
	Established bool
	// LocalAddrs are this node's own addresses (besides loopback and the
	// VIP routes the plane adds).
	LocalAddrs []netip.Addr
}

// Outcome is where the tracer says a packet goes.
type Outcome struct {
	// Kind: "accept" (not the plane's: passes untouched), "dnat" (to
	// one of Backends), "reject" (reset or ICMP), "conntrack" (an
	// established flow: keeps what conntrack holds).
	Kind string
	// Backends the flow may be DNATed to: one for Maglev, every backend
	// with a slot for weighted random.
	Backends []netip.AddrPort
	// Masquerade: the source is rewritten to the outgoing address.
	Masquerade bool
	// Counters the first packet increments.
	Counters []string
}

// Trace says where the ruleset sends p: the nat hook of its origin, then
// the filter hook its destination leads to (after any DNAT), then the
// postrouting nat hook when it leaves through the node. It walks the
// same Ruleset the kernel is given, statement by statement.
func Trace(rs *Ruleset, p Packet) Outcome {
	if p.Established {
		return Outcome{Kind: "conntrack"}
	}
	t := &tracer{rs: rs, p: p, orig: p.Dst}
	natHook := "nat-prerouting"
	if p.Local {
		natHook = "nat-output"
	}
	v := t.chain(natHook)
	outcome := Outcome{Kind: "accept"}
	if t.dnat != nil {
		outcome = Outcome{Kind: "dnat", Backends: slices.Clone(t.dnat)}
		slices.SortFunc(outcome.Backends, func(a, b netip.AddrPort) int { return a.Compare(b) })
	}
	if v == vReject {
		return Outcome{Kind: "reject", Counters: t.counters}
	}
	// Candidates behave alike past the nat hook (all are addresses of
	// the same family); trace the first.
	if t.dnat != nil {
		t.p.Dst = t.dnat[0]
	}
	filter := "filter-forward"
	local := t.isLocal(t.p.Dst.Addr())
	switch {
	case p.Local:
		filter = "filter-output"
	case local:
		filter = "filter-input"
	}
	if t.chain(filter) == vReject {
		return Outcome{Kind: "reject", Counters: t.counters}
	}
	if !p.Local && local {
		outcome.Counters = t.counters
		return outcome // delivered here: no postrouting
	}
	t.oifLo = local
	t.chain("nat-postrouting")
	outcome.Masquerade = t.masq
	outcome.Counters = t.counters
	return outcome
}

type verdict uint8

const (
	vNone   verdict = iota // fell off the chain or returned
	vAccept                // terminal: the hook accepts
	vReject
	vGoto // internal: a goto's chain ended
)

type tracer struct {
	rs       *Ruleset
	p        Packet
	orig     netip.AddrPort
	dnat     []netip.AddrPort
	masq     bool
	oifLo    bool
	counters []string
	depth    int
}

func (t *tracer) isLocal(a netip.Addr) bool {
	if a.IsLoopback() || slices.Contains(t.p.LocalAddrs, a) {
		return true
	}
	v6 := a.Is6()
	return t.inSet(famName(setRanges, v6), a) || t.inSet(famName(setVIPs, v6), a)
}

func (t *tracer) inSet(name string, a netip.Addr) bool {
	s := t.rs.Sets[name]
	if s == nil || s.Kind != KindAddr || s.V6 != a.Is6() {
		return false
	}
	for _, e := range s.Elems {
		if e.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

// chain runs a chain; vNone means it ended without a terminal verdict.
func (t *tracer) chain(name string) verdict {
	c := t.rs.Chains[name]
	if c == nil || t.depth > 16 {
		return vNone
	}
	t.depth++
	defer func() { t.depth-- }()
	for _, r := range c.Rules {
		v, stop := t.rule(r)
		if stop {
			if v == vGoto {
				return vNone
			}
			return v
		}
	}
	return vNone
}

// rule evaluates a rule: stop is true when the chain ends here (a
// terminal verdict, a return, a goto).
func (t *tracer) rule(r Rule) (verdict, bool) {
	v6 := t.p.Dst.Addr().Is6()
	for _, s := range r {
		switch s.Op {
		case opNFProto:
			if s.V6 != v6 {
				return vNone, false
			}
		case opDaddrIn:
			if !t.inSet(s.Set, t.p.Dst.Addr()) {
				return vNone, false
			}
		case opSaddrIn:
			if !t.inSet(s.Set, t.p.Src.Addr()) {
				return vNone, false
			}
		case opCtStateNew:
			// Traced packets are new (Trace answers established ones).
		case opCtDNAT:
			if t.dnat == nil {
				return vNone, false
			}
		case opCtDir:
			if s.Reply {
				return vNone, false
			}
		case opTupleIn:
			if _, ok := t.rs.Sets[s.Set].Elems[Elem{Addr: t.orig, Backend: t.p.Dst}.Key(KindTuple)]; !ok {
				return vNone, false
			}
		case opOifLo:
			if !t.oifLo {
				return vNone, false
			}
		case opIifNotLo:
			if t.p.Local {
				return vNone, false
			}
		case opFibSaddrLocal:
			if !t.isLocal(t.p.Src.Addr()) {
				return vNone, false
			}
		case opL4:
			if t.p.Proto != s.Proto {
				return vNone, false
			}
		case opServiceVmap:
			e, ok := t.rs.Sets[s.Set].Elems[Elem{Addr: t.p.Dst, Proto: t.p.Proto}.Key(KindService)]
			if !ok {
				return vNone, false
			}
			return t.gotoChain(e.Goto)
		case opNumgenDNAT:
			set := t.rs.Sets[s.Set]
			if set == nil || len(set.Elems) == 0 {
				return vNone, false // the kernel's lookup misses: the rule does nothing
			}
			for _, e := range set.Elems {
				if !slices.Contains(t.dnat, e.Backend) {
					t.dnat = append(t.dnat, e.Backend)
				}
			}
			return vAccept, true
		case opJhashDNAT:
			e, ok := t.rs.Sets[s.Set].Elems[Elem{Slot: balance.MaglevSlot(t.p.Src.Addr())}.Key(KindSlot)]
			if !ok {
				return vNone, false
			}
			t.dnat = append(t.dnat, e.Backend)
			return vAccept, true
		case opTupleVmap:
			e, ok := t.rs.Sets[s.Set].Elems[Elem{Addr: t.orig, Backend: t.p.Dst}.Key(KindTuple)]
			if !ok {
				return vNone, false
			}
			return t.gotoChain(e.Goto)
		case opCounter:
			t.counters = append(t.counters, s.Name)
		case opDNAT:
			t.dnat = append(t.dnat, s.To)
			return vAccept, true
		case opMasq:
			t.masq = true
			return vAccept, true
		case opRejectTCP, opRejectICMPX:
			return vReject, true
		case opJump:
			if v := t.chain(s.Name); v != vNone {
				return v, true
			}
		case opGoto:
			return t.gotoChain(s.Name)
		case opReturn:
			return vNone, true
		}
	}
	return vNone, false
}

func (t *tracer) gotoChain(name string) (verdict, bool) {
	if v := t.chain(name); v != vNone {
		return v, true
	}
	return vGoto, true
}
