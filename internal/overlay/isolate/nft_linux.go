//go:build linux

package isolate

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Offsets of the IPv4 addresses in the network header.
const (
	saddrOff = 12
	daddrOff = 16
)

// Apply replaces the policy's tables with p in one atomic batch.
func Apply(c *nftables.Conn, p Policy) error {
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge} {
		// Add-then-delete makes the delete valid whether or not the table
		// exists; the batch is atomic, so no packet sees no policy.
		t := &nftables.Table{Name: TableName, Family: fam}
		c.AddTable(t)
		c.DelTable(t)
		if err := build(c, fam, p); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// Remove deletes the policy's tables.
func Remove(c *nftables.Conn) error {
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge} {
		t := &nftables.Table{Name: TableName, Family: fam}
		c.AddTable(t)
		c.DelTable(t)
	}
	return c.Flush()
}

// setIDs numbers the sets of one batch. A set's ID only has to be unique
// within its batch, and google/nftables allocates a missing one from a
// package-level counter without a lock, which races with the load
// balancer's own nftables connection in the same process.
type setIDs uint32

func (n *setIDs) next() uint32 { *n++; return uint32(*n) }

func addrSet(c *nftables.Conn, t *nftables.Table, ids *setIDs, name string, as []netip.Addr) (*nftables.Set, error) {
	s := &nftables.Set{Table: t, Name: name, ID: ids.next(), KeyType: nftables.TypeIPAddr}
	var els []nftables.SetElement
	for _, a := range as {
		b := a.As4()
		els = append(els, nftables.SetElement{Key: b[:]})
	}
	if err := c.AddSet(s, els); err != nil {
		return nil, fmt.Errorf("set %s: %w", name, err)
	}
	return s, nil
}

func build(c *nftables.Conn, fam nftables.TableFamily, p Policy) error {
	t := c.AddTable(&nftables.Table{Name: TableName, Family: fam})
	var ids setIDs
	grouped, err := addrSet(c, t, &ids, "grouped", p.Grouped)
	if err != nil {
		return err
	}
	names := p.groupNames()
	sets := map[string]*nftables.Set{}
	for i, g := range names {
		if sets[g], err = addrSet(c, t, &ids, fmt.Sprintf("g%d", i), p.Members[g]); err != nil {
			return err
		}
	}
	var chains []*nftables.Chain
	for i, cb := range p.Combos {
		ch := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("c%d", i), Table: t})
		chains = append(chains, ch)
		for _, g := range cb.Groups {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: saddrOff, Len: 4},
				&expr.Lookup{SourceRegister: 1, SetName: sets[g].Name, SetID: sets[g].ID},
				&expr.Verdict{Kind: expr.VerdictAccept},
			}})
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: saddrOff, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: grouped.Name, SetID: grouped.ID},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	dst := &nftables.Set{Table: t, Name: "dst", ID: ids.next(), IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeVerdict}
	var els []nftables.SetElement
	for i, cb := range p.Combos {
		for _, d := range cb.Dsts {
			a := d.As4()
			els = append(els, nftables.SetElement{Key: a[:], VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chains[i].Name}})
		}
	}
	if err := c.AddSet(dst, els); err != nil {
		return fmt.Errorf("map dst: %w", err)
	}
	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	var isIPv4 []expr.Any
	if fam == nftables.TableFamilyBridge {
		isIPv4 = []expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)}}
	} else {
		isIPv4 = []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}}}
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(slices.Clone(isIPv4),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: daddrOff, Len: 4},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: dst.Name, SetID: dst.ID},
	)})
	return nil
}
