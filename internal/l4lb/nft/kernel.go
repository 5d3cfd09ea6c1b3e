package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// kernel applies rulesets to the plane's table: the whole table in one
// transaction (full), or only what differs from the last applied
// ruleset (partial). Every apply is one netlink transaction.
type kernel struct {
	conn  *nftables.Conn
	table *nftables.Table
	// applied is the ruleset of the last successful apply; nil forces
	// a full apply.
	applied *Ruleset
	sets    map[string]*nftables.Set
	// base holds counter values carried over a full apply, which
	// re-creates the counters.
	base map[string]nftables.CounterObj
	// started: the table is this kernel's own (a table found before
	// the first apply is a predecessor's, whose counts are not ours).
	started bool
	// setID numbers the sets this kernel adds. google/nftables gives a
	// set without an ID one from a package-level counter it does not
	// lock, which races with any other nftables connection in the
	// process (the overlay's isolation tables); an ID only has to be
	// unique within its batch, and a counter of our own is.
	setID uint32
}

func newKernel(conn *nftables.Conn) *kernel {
	return &kernel{
		conn:  conn,
		table: &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet},
		sets:  map[string]*nftables.Set{},
		base:  map[string]nftables.CounterObj{},
	}
}

func (k *kernel) exists() (bool, error) {
	_, err := k.conn.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, err
}

// full replaces the table with want atomically: counters read first are
// kept as a base, so the plane's stats stay cumulative.
func (k *kernel) full(want *Ruleset) error {
	k.applied = nil
	ok, err := k.exists()
	if err != nil {
		return fmt.Errorf("list table: %w", err)
	}
	if ok && k.started {
		if objs, err := k.conn.GetObjects(k.table); err == nil {
			for _, o := range objs {
				if c, ok := o.(*nftables.CounterObj); ok {
					b := k.base[c.Name]
					b.Packets += c.Packets
					b.Bytes += c.Bytes
					k.base[c.Name] = b
				}
			}
		}
	}
	if ok {
		k.conn.DelTable(k.table)
	}
	k.conn.AddTable(k.table)
	k.sets = map[string]*nftables.Set{}
	for _, n := range sortedKeys(want.Counters) {
		k.conn.AddObj(&nftables.CounterObj{Table: k.table, Name: n})
	}
	for _, n := range sortedKeys(want.Chains) {
		k.addChain(want.Chains[n])
	}
	for _, n := range sortedKeys(want.Sets) {
		if err := k.addSet(want.Sets[n]); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(want.Chains) {
		if err := k.addRules(want.Chains[n]); err != nil {
			return err
		}
	}
	for n := range k.base {
		if !want.Counters[n] {
			delete(k.base, n)
		}
	}
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("full sync: %w", err)
	}
	k.applied = want
	k.started = true
	return nil
}

// partial applies the difference between the last applied ruleset and
// want. It reports whether anything was sent.
func (k *kernel) partial(want *Ruleset) (bool, error) {
	have := k.applied
	if have == nil {
		return true, k.full(want)
	}
	k.applied = nil // until the transaction succeeds
	sent := false
	for _, n := range sortedKeys(want.Counters) {
		if !have.Counters[n] {
			k.conn.AddObj(&nftables.CounterObj{Table: k.table, Name: n})
			delete(k.base, n)
			sent = true
		}
	}
	var changed []*Chain
	for _, n := range sortedKeys(want.Chains) {
		c := want.Chains[n]
		old, ok := have.Chains[n]
		if !ok {
			k.addChain(c)
			changed = append(changed, c)
			sent = true
		} else if !sameRules(old.Rules, c.Rules) {
			k.conn.FlushChain(k.nchain(c))
			changed = append(changed, c)
			sent = true
		}
	}
	for _, n := range sortedKeys(want.Sets) {
		s := want.Sets[n]
		old, ok := have.Sets[n]
		if !ok {
			if err := k.addSet(s); err != nil {
				return sent, err
			}
			sent = true
			continue
		}
		if old == s {
			continue // a cached slot map: unchanged
		}
		ks := k.sets[n]
		var del, add []nftables.SetElement
		for key, e := range old.Elems {
			if ne, ok := s.Elems[key]; !ok || ne != e {
				del = append(del, k.elements(s, e)...)
			}
		}
		for key, e := range s.Elems {
			if oe, ok := old.Elems[key]; !ok || oe != e {
				add = append(add, k.elements(s, e)...)
			}
		}
		if len(del) > 0 {
			if err := k.deleteElements(ks, del); err != nil {
				return sent, err
			}
			sent = true
		}
		if len(add) > 0 {
			if err := k.addElements(ks, add); err != nil {
				return sent, err
			}
			sent = true
		}
	}
	for _, c := range changed {
		if err := k.addRules(c); err != nil {
			return sent, err
		}
	}
	// Removed objects last, in the order references allow: the rules of
	// removed chains (which use removed sets and counters), the sets
	// (whose elements jump to removed chains), the chains, the counters.
	var gone []string
	for _, n := range sortedKeys(have.Chains) {
		if _, ok := want.Chains[n]; !ok {
			k.conn.FlushChain(k.nchain(have.Chains[n]))
			gone = append(gone, n)
			sent = true
		}
	}
	for _, n := range sortedKeys(have.Sets) {
		if _, ok := want.Sets[n]; !ok {
			k.conn.DelSet(k.sets[n])
			delete(k.sets, n)
			sent = true
		}
	}
	for _, n := range gone {
		k.conn.DelChain(k.nchain(have.Chains[n]))
	}
	for _, n := range sortedKeys(have.Counters) {
		if !want.Counters[n] {
			k.conn.DeleteObject(&nftables.CounterObj{Table: k.table, Name: n})
			delete(k.base, n)
			sent = true
		}
	}
	if !sent {
		k.applied = want
		return false, nil
	}
	if err := k.conn.Flush(); err != nil {
		return true, fmt.Errorf("partial sync: %w", err)
	}
	k.applied = want
	return true, nil
}

func sameRules(a, b []Rule) bool {
	return slices.EqualFunc(a, b, func(x, y Rule) bool { return slices.Equal(x, y) })
}

// remove deletes the table.
func (k *kernel) remove() error {
	k.applied = nil
	ok, err := k.exists()
	if err != nil || !ok {
		return err
	}
	k.conn.DelTable(k.table)
	return k.conn.Flush()
}

// counters returns the counters of the table, plus their carried-over
// base.
func (k *kernel) counters() (map[string]nftables.CounterObj, error) {
	objs, err := k.conn.GetObjects(k.table)
	if err != nil {
		return nil, err
	}
	out := make(map[string]nftables.CounterObj, len(objs))
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			b := k.base[c.Name]
			out[c.Name] = nftables.CounterObj{Name: c.Name, Packets: c.Packets + b.Packets, Bytes: c.Bytes + b.Bytes}
		}
	}
	return out, nil
}

// drifted reports whether the kernel's table differs from the last
// applied ruleset in a way that something else changed it: the table or
// one of its chains or sets gone, a chain's rules flushed, a set's
// elements flushed. It reads chains, rules of the base chains and the
// size of the small sets, not every element.
func (k *kernel) drifted() (bool, error) {
	if k.applied == nil {
		return true, nil
	}
	chains, err := k.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return true, err
	}
	have := map[string]*nftables.Chain{}
	for _, c := range chains {
		if c.Table.Name == TableName {
			have[c.Name] = c
		}
	}
	if len(have) != len(k.applied.Chains) {
		return true, nil
	}
	for n, c := range k.applied.Chains {
		kc, ok := have[n]
		if !ok {
			return true, nil
		}
		if c.Hook == "" && n != "services" && n != "refuse" && n != "masq" || readsCtDirection(c) {
			// google/nftables cannot decode a ct expression with a
			// direction (it reads the kernel's u8 as a u32): those
			// chains are left to the periodic full sync.
			continue
		}
		rules, err := k.conn.GetRules(k.table, kc)
		if err != nil {
			return true, err
		}
		if len(rules) != len(c.Rules) {
			return true, nil
		}
	}
	sets, err := k.conn.GetSets(k.table)
	if err != nil {
		return true, err
	}
	if len(sets) != len(k.applied.Sets) {
		return true, nil
	}
	for _, s := range sets {
		want, ok := k.applied.Sets[s.Name]
		if !ok {
			return true, nil
		}
		if want.Kind == KindSlot {
			continue // large; their services' chains are checked
		}
		elems, err := k.conn.GetSetElements(s)
		if err != nil {
			return true, err
		}
		n := len(want.Elems)
		if want.Interval {
			n = len(elems) // interval ends make the count fuzzy; presence is enough
			if len(want.Elems) > 0 && len(elems) == 0 {
				return true, nil
			}
		}
		if len(elems) != n {
			return true, nil
		}
	}
	return false, nil
}

func readsCtDirection(c *Chain) bool {
	for _, r := range c.Rules {
		for _, s := range r {
			if s.Op == opTupleIn || s.Op == opTupleVmap {
				return true
			}
		}
	}
	return false
}

func (k *kernel) nchain(c *Chain) *nftables.Chain {
	nc := &nftables.Chain{Name: c.Name, Table: k.table}
	if c.Hook != "" {
		nc.Hooknum = hooks[c.Hook]
		p := nftables.ChainPriority(c.Priority)
		nc.Priority = &p
		nc.Type = nftables.ChainTypeFilter
		if c.Type == "nat" {
			nc.Type = nftables.ChainTypeNAT
		}
		accept := nftables.ChainPolicyAccept
		nc.Policy = &accept
	}
	return nc
}

var hooks = map[string]*nftables.ChainHook{
	"prerouting": nftables.ChainHookPrerouting, "input": nftables.ChainHookInput, "forward": nftables.ChainHookForward,
	"output": nftables.ChainHookOutput, "postrouting": nftables.ChainHookPostrouting,
}

func (k *kernel) addChain(c *Chain) { k.conn.AddChain(k.nchain(c)) }

func (k *kernel) addRules(c *Chain) error {
	nc := k.nchain(c)
	for i, r := range c.Rules {
		ex, err := k.exprs(r)
		if err != nil {
			return fmt.Errorf("chain %s rule %d: %w", c.Name, i, err)
		}
		k.conn.AddRule(&nftables.Rule{Table: k.table, Chain: nc, Exprs: ex})
	}
	return nil
}

func (k *kernel) addSet(s *Set) error {
	k.setID++
	ns := &nftables.Set{Table: k.table, Name: s.Name, ID: k.setID, Interval: s.Interval}
	addr := nftables.TypeIPAddr
	if s.V6 {
		addr = nftables.TypeIP6Addr
	}
	var err error
	switch s.Kind {
	case KindAddr:
		ns.KeyType = addr
	case KindService:
		ns.KeyType, err = nftables.ConcatSetType(addr, nftables.TypeInetProto, nftables.TypeInetService)
		ns.Concatenation = true
	case KindSlot:
		ns.KeyType = nftables.TypeInteger
		ns.KeyByteOrder = binaryutil.NativeEndian
	case KindTuple:
		ns.KeyType, err = nftables.ConcatSetType(nftables.TypeInetService, addr, nftables.TypeInetService)
		ns.Concatenation = true
	}
	if err != nil {
		return err
	}
	if s.Kind != KindAddr && s.Name != famName(setTargets, s.V6) {
		ns.IsMap = true
		ns.DataType = nftables.TypeVerdict
		if s.Kind == KindSlot {
			ns.DataType, err = nftables.ConcatSetType(addr, nftables.TypeInetService)
			if err != nil {
				return err
			}
		}
	}
	var elems []nftables.SetElement
	for _, key := range sortedKeys(s.Elems) {
		elems = append(elems, k.elements(s, s.Elems[key])...)
	}
	if err := k.conn.AddSet(ns, nil); err != nil {
		return fmt.Errorf("set %s: %w", s.Name, err)
	}
	k.sets[s.Name] = ns
	return k.addElements(ns, elems)
}

// chunk bounds the elements of one message: its element list is one
// netlink attribute, whose length is 16 bits.
const chunk = 256

func (k *kernel) addElements(s *nftables.Set, elems []nftables.SetElement) error {
	for c := range slices.Chunk(elems, chunk) {
		if err := k.conn.SetAddElements(s, c); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	return nil
}

func (k *kernel) deleteElements(s *nftables.Set, elems []nftables.SetElement) error {
	for c := range slices.Chunk(elems, chunk) {
		if err := k.conn.SetDeleteElements(s, c); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	return nil
}

// elements encodes one element: registers are 4-byte aligned, so every
// field of a concatenation is padded to a multiple of 4 bytes.
func (k *kernel) elements(s *Set, e Elem) []nftables.SetElement {
	var key []byte
	switch s.Kind {
	case KindAddr:
		if s.Interval {
			start := e.Prefix.Masked().Addr()
			out := []nftables.SetElement{{Key: start.AsSlice()}}
			if end, ok := lastPlusOne(e.Prefix); ok {
				out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
			}
			return out
		}
		key = e.Prefix.Addr().AsSlice()
	case KindService:
		key = append(e.Addr.Addr().AsSlice(), byte(e.Proto), 0, 0, 0)
		key = append(key, port4(e.Addr.Port())...)
	case KindSlot:
		key = binaryutil.NativeEndian.PutUint32(e.Slot)
	case KindTuple:
		key = append(port4(e.Addr.Port()), e.Backend.Addr().AsSlice()...)
		key = append(key, port4(e.Backend.Port())...)
	}
	el := nftables.SetElement{Key: key}
	if s.Kind == KindSlot {
		el.Val = append(e.Backend.Addr().AsSlice(), port4(e.Backend.Port())...)
	}
	if e.Goto != "" {
		el.VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Goto}
	}
	return []nftables.SetElement{el}
}

func port4(p uint16) []byte { return []byte{byte(p >> 8), byte(p), 0, 0} }

// lastPlusOne is the first address after p; false when p ends the
// address space.
func lastPlusOne(p netip.Prefix) (netip.Addr, bool) {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		if i*8 >= bits {
			b[i] = 0xff
		} else if i*8+8 > bits {
			b[i] |= byte(0xff >> (bits - i*8))
		}
	}
	a, _ := netip.AddrFromSlice(b)
	n := a.Next()
	return n, n.IsValid()
}

func (k *kernel) lookup(name string, sreg uint32, vmap bool) (*expr.Lookup, error) {
	s := k.sets[name]
	if s == nil {
		return nil, fmt.Errorf("set %s not in the table", name)
	}
	l := &expr.Lookup{SourceRegister: sreg, SetName: s.Name, SetID: s.ID}
	if vmap {
		l.IsDestRegSet, l.DestRegister = true, 0
	}
	return l, nil
}

const (
	reg1   = 1 // NFT_REG_1: 16 bytes
	reg2   = 2
	reg32  = 8 // NFT_REG32_00: concatenations start here
	ctNew  = 1 << 3
	ctDNAT = 0x20 // IPS_DST_NAT
)

func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

func addrLen(v6 bool) uint32 {
	if v6 {
		return 16
	}
	return 4
}

func (k *kernel) exprs(r Rule) ([]expr.Any, error) {
	var out []expr.Any
	for _, s := range r {
		al := addrLen(s.V6)
		switch s.Op {
		case opNFProto:
			p := byte(unix.NFPROTO_IPV4)
			if s.V6 {
				p = unix.NFPROTO_IPV6
			}
			out = append(out, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1}, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}})
		case opDaddrIn, opSaddrIn:
			off := uint32(16)
			if s.Op == opSaddrIn {
				off = 12
			}
			if s.V6 {
				off = 24
				if s.Op == opSaddrIn {
					off = 8
				}
			}
			l, err := k.lookup(s.Set, reg1, false)
			if err != nil {
				return nil, err
			}
			out = append(out, &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: al}, l)
		case opCtStateNew, opCtDNAT:
			key, mask := expr.CtKeySTATE, uint32(ctNew)
			if s.Op == opCtDNAT {
				key, mask = expr.CtKeySTATUS, ctDNAT
			}
			out = append(out, &expr.Ct{Register: reg1, Key: key},
				&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)})
		case opCtDir:
			d := byte(0)
			if s.Reply {
				d = 1
			}
			out = append(out, &expr.Ct{Register: reg1, Key: expr.CtKeyDIRECTION}, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{d}})
		case opOifLo, opIifNotLo:
			key, cmpOp := expr.MetaKeyOIFNAME, expr.CmpOpEq
			if s.Op == opIifNotLo {
				key, cmpOp = expr.MetaKeyIIFNAME, expr.CmpOpNeq
			}
			out = append(out, &expr.Meta{Key: key, Register: reg1}, &expr.Cmp{Op: cmpOp, Register: reg1, Data: ifname("lo")})
		case opFibSaddrLocal:
			out = append(out, &expr.Fib{Register: reg1, FlagSADDR: true, ResultADDRTYPE: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
		case opL4:
			out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{byte(s.Proto)}})
		case opServiceVmap:
			off := uint32(16)
			if s.V6 {
				off = 24
			}
			l, err := k.lookup(s.Set, reg32, true)
			if err != nil {
				return nil, err
			}
			out = append(out,
				&expr.Payload{DestRegister: reg32, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: al},
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg32 + al/4},
				&expr.Payload{DestRegister: reg32 + al/4 + 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, l)
		case opNumgenDNAT, opJhashDNAT:
			// The slot (numgen, or jhash of the source) in reg 1, the
			// map's address . port into reg 1 onwards, the port at the
			// 32-bit register after the address.
			l, err := k.lookup(s.Set, reg1, false)
			if err != nil {
				return nil, err
			}
			l.IsDestRegSet, l.DestRegister = true, reg1
			if s.Op == opNumgenDNAT {
				out = append(out, &expr.Numgen{Register: reg1, Modulus: s.Mod, Type: unix.NFT_NG_RANDOM})
			} else {
				off := uint32(12)
				if s.V6 {
					off = 8
				}
				out = append(out, &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: al},
					&expr.Hash{SourceRegister: reg1, DestRegister: reg1, Length: al, Modulus: balance.MaglevSize, Seed: balance.MaglevSeed, Type: expr.HashTypeJenkins})
			}
			fam := uint32(unix.NFPROTO_IPV4)
			if s.V6 {
				fam = unix.NFPROTO_IPV6
			}
			out = append(out, l, &expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: reg1, RegProtoMin: reg32 + al/4, Specified: true})
		case opTupleVmap, opTupleIn:
			l, err := k.lookup(s.Set, reg32, s.Op == opTupleVmap)
			if err != nil {
				return nil, err
			}
			// The VIP's port from conntrack (the original tuple), the
			// backend from the packet: after the DNAT towards it, before
			// the reverse NAT of its answers.
			addrOff, portOff := uint32(16), uint32(2)
			if s.V6 {
				addrOff = 24
			}
			if s.Reply {
				addrOff, portOff = 12, 0
				if s.V6 {
					addrOff = 8
				}
			}
			out = append(out, &expr.Ct{Register: reg32, Key: expr.CtKeyPROTODST, Direction: 0},
				&expr.Payload{DestRegister: reg32 + 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: al},
				&expr.Payload{DestRegister: reg32 + 1 + al/4, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2}, l)
		case opCounter:
			out = append(out, &expr.Objref{Type: int(nftables.ObjTypeCounter), Name: s.Name})
		case opDNAT:
			fam := uint32(unix.NFPROTO_IPV4)
			if s.V6 {
				fam = unix.NFPROTO_IPV6
			}
			port := make([]byte, 2)
			binary.BigEndian.PutUint16(port, s.To.Port())
			out = append(out, &expr.Immediate{Register: reg1, Data: s.To.Addr().AsSlice()}, &expr.Immediate{Register: reg2, Data: port},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true})
		case opMasq:
			out = append(out, &expr.Masq{})
		case opRejectTCP:
			out = append(out, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
		case opRejectICMPX:
			out = append(out, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
		case opJump:
			out = append(out, &expr.Verdict{Kind: expr.VerdictJump, Chain: s.Name})
		case opGoto:
			out = append(out, &expr.Verdict{Kind: expr.VerdictGoto, Chain: s.Name})
		case opReturn:
			out = append(out, &expr.Verdict{Kind: expr.VerdictReturn})
		default:
			return nil, fmt.Errorf("statement %v cannot be compiled", s)
		}
	}
	return out, nil
}
