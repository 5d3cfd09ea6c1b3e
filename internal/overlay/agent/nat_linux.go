//go:build linux

package agent

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// NATTable is the nftables table holding the overlay's masquerade.
const NATTable = "sextant_overlay_nat"

// Masquerade replaces the overlay's NAT table: container traffic from an
// overlay space to anything outside every overlay space is masqueraded
// to the host's address (the agent module's "ipset overlay … MASQUERADE"
// of §C.3), so containers reach what the host reaches while traffic
// between overlays keeps its addresses. No spaces: the table is removed.
func Masquerade(c *nftables.Conn, spaces []netip.Prefix) error {
	t := &nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	var v4 []netip.Prefix
	for _, s := range spaces {
		if s.Addr().Is4() {
			v4 = append(v4, s)
		}
	}
	if len(v4) > 0 {
		t = c.AddTable(&nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4})
		ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		for _, src := range v4 {
			ex := match(12, src, expr.CmpOpEq)
			for _, dst := range v4 {
				ex = append(ex, match(16, dst, expr.CmpOpNeq)...)
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(ex, &expr.Masq{})})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables masquerade: %w", err)
	}
	return nil
}

// match compares the IPv4 address at off in the network header, masked
// to p's length, with p's network.
func match(off uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	a := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: a[:]},
	}
}
