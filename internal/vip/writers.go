package vip

import (
	"net/netip"
	"slices"
	"strings"
)

// WriterItemPrefix starts the names of the per-writer backend sets (§0.6):
// each agent gossips the backends of its own tasks as the item
// WriterItem(its node IP), a Table in the TableItem encoding.
const WriterItemPrefix = "_vip_backends/"

// WriterItem is the item name of the backend set written by the agent at
// nodeIP.
func WriterItem(nodeIP netip.Addr) string { return WriterItemPrefix + nodeIP.Unmap().String() }

// ParseWriterItem returns the writer of a per-writer item name; false for
// any other item.
func ParseWriterItem(name string) (netip.Addr, bool) {
	rest, ok := strings.CutPrefix(name, WriterItemPrefix)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(rest)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// MergeWriters returns the table whose backends are, for every writer in
// sets, the backends that writer published, and for every other agent the
// backends base lists (an agent that publishes nothing: the master's view
// of it). A writer speaks only for itself: its backends on another agent
// are ignored. VIP names and addresses come from base (the leading
// master's allocation is the only one every node agrees on); a writer's IP
// VIP that base lacks is added, since its key is its address, while a
// writer's named VIP that base lacks waits for base to allocate it.
// Neither base nor sets are modified; base nil is the empty table.
func MergeWriters(base *Table, sets map[netip.Addr]*Table) *Table {
	if base == nil {
		base = &Table{}
	}
	if len(sets) == 0 {
		return base
	}
	out := &Table{Version: base.Version, Names: base.Names, VIPs: make([]VIP, 0, len(base.VIPs))}
	idx := make(map[Key]int, len(base.VIPs))
	for _, v := range base.VIPs {
		v.Backends = slices.DeleteFunc(slices.Clone(v.Backends), func(b Backend) bool { return sets[b.AgentIP.Unmap()] != nil })
		idx[v.Key] = len(out.VIPs)
		out.VIPs = append(out.VIPs, v)
	}
	writers := make([]netip.Addr, 0, len(sets))
	for w := range sets {
		writers = append(writers, w)
	}
	slices.SortFunc(writers, netip.Addr.Compare)
	touched := map[int]bool{}
	for _, w := range writers {
		for _, wv := range sets[w].VIPs {
			i, ok := idx[wv.Key]
			if !ok {
				if wv.Name != "" || !wv.IP.IsValid() {
					continue
				}
				i = len(out.VIPs)
				idx[wv.Key] = i
				out.VIPs = append(out.VIPs, VIP{Key: wv.Key, Addrs: []netip.Addr{wv.IP}})
			}
			v := &out.VIPs[i]
			for _, b := range wv.Backends {
				if b.AgentIP.Unmap() != w || (v.IP.IsValid() && b.IP.Is4() != v.IP.Is4()) {
					continue
				}
				v.Backends = append(v.Backends, b)
			}
			v.Labels = mergeSorted(v.Labels, wv.Labels)
			v.Balance = mergeSorted(v.Balance, wv.Balance)
			touched[i] = true
		}
	}
	for i := range touched {
		v := &out.VIPs[i]
		slices.SortFunc(v.Backends, compareBackends)
		v.Backends = slices.CompactFunc(v.Backends, func(a, b Backend) bool { return compareBackends(a, b) == 0 && a.Local == b.Local })
	}
	slices.SortFunc(out.VIPs, func(a, b VIP) int { return compareKeys(a.Key, b.Key) })
	return out
}

// mergeSorted is the sorted union of two sorted string lists, in a new
// slice (the inputs may be shared with other tables).
func mergeSorted(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
