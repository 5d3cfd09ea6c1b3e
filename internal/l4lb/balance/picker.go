package balance

import (
	"math/rand/v2"
	"net/netip"
)

// Picker chooses the backend of each new flow of one service. It is
// immutable and safe for concurrent use; build a new one when the
// service changes (NewPicker is cheap for Random, about a millisecond for
// Maglev).
type Picker struct {
	mode     Mode
	backends []Backend
	// active are the indexes of backends with a weight above 0; cum
	// their cumulative weights (Random).
	active []int
	cum    []uint32
	// table is the Maglev lookup table: slot → index into active.
	table []uint16
}

// NewPicker returns the picker of s. The backends are used in s's order
// (sorted by address), which the Maglev table depends on.
func NewPicker(s Service) *Picker {
	p := &Picker{mode: s.Mode, backends: s.Backends}
	var total uint32
	for i, b := range s.Backends {
		if b.Weight == 0 {
			continue
		}
		p.active = append(p.active, i)
		total += uint32(b.Weight)
		p.cum = append(p.cum, total)
	}
	if p.mode == Maglev && len(p.active) > 0 {
		names := make([]string, len(p.active))
		weights := make([]uint8, len(p.active))
		for j, i := range p.active {
			names[j] = s.Backends[i].Addr.String()
			weights[j] = s.Backends[i].Weight
		}
		p.table = MaglevTable(names, weights)
	}
	return p
}

// Len is the number of backends that take new flows.
func (p *Picker) Len() int { return len(p.active) }

// Pick returns the backend for a new flow from src; false when no backend
// takes new flows (the flow is refused).
func (p *Picker) Pick(src netip.Addr) (Backend, bool) {
	if len(p.active) == 0 {
		return Backend{}, false
	}
	if p.mode == Maglev {
		return p.backends[p.active[p.table[MaglevSlot(src)]]], true
	}
	return p.backends[p.active[p.randomIndex()]], true
}

func (p *Picker) randomIndex() int {
	if len(p.active) == 1 {
		return 0
	}
	r := rand.Uint32N(p.cum[len(p.cum)-1])
	lo, hi := 0, len(p.cum)-1
	for lo < hi { // the first cumulative weight above r
		m := (lo + hi) / 2
		if p.cum[m] > r {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// PickAvoiding is Pick for a retry: the backend for src among those avoid
// does not reject (backends a flow failed to reach). Random picks among
// them in proportion to weights; Maglev walks the table on from src's
// slot to the first slot of a backend not avoided, so a retry is as
// deterministic as the first choice.
func (p *Picker) PickAvoiding(src netip.Addr, avoid func(netip.AddrPort) bool) (Backend, bool) {
	if avoid == nil {
		return p.Pick(src)
	}
	var ok []int
	var total uint32
	for _, i := range p.active {
		if !avoid(p.backends[i].Addr) {
			ok = append(ok, i)
			total += uint32(p.backends[i].Weight)
		}
	}
	if len(ok) == 0 {
		return Backend{}, false
	}
	if p.mode == Maglev {
		for s, n := MaglevSlot(src), 0; n < MaglevSize; n++ {
			b := p.backends[p.active[p.table[s]]]
			if !avoid(b.Addr) {
				return b, true
			}
			if s++; s == MaglevSize {
				s = 0
			}
		}
		// Not reached: the table holds every active backend.
	}
	r := rand.Uint32N(total)
	for _, i := range ok {
		w := uint32(p.backends[i].Weight)
		if r < w {
			return p.backends[i], true
		}
		r -= w
	}
	return p.backends[ok[len(ok)-1]], true
}
