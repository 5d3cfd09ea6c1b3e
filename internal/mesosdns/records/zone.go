// zone.go inserts records into the zone maps with the set semantics of
// Mesos-DNS (§5.1): a (name, value) pair once, values in insertion order,
// and each task owning in /v1/enumerate the records it was first to insert
// (§7.5). A task's records are grouped by name first, so that the maps are
// touched once per name rather than once per record: map insertions with
// their duplicate checks are most of a build from scratch
// (docs/benchmarks/records.md).

package records

import "slices"

// frag is a task's records in generation order, with the same records
// grouped by (kind, name) so that the zone is touched once per name rather
// than once per record.
type frag struct {
	recs   []EnumRecord
	groups []group
	order  []int32 // record indices, group by group, each group in generation order
}

// group is one (kind, name) of a frag: its records are order[start:end].
type group struct {
	kind, name string
	start, end int32
}

type bigKey struct {
	kind string
	name string
}

// bigSet is the value count from which a name's duplicates are found with
// a set rather than by scanning its values.
const bigSet = 64

// add inserts one (name, value) pair unless it is already there, and
// reports whether it was added. Empty values are never added (Mesos-DNS
// ignored them too). It is insertGroup for one record, for the few
// records made before the tasks'.
func (r *run) add(kind, name, value string) bool {
	if value == "" {
		return false
	}
	m := r.zone(kind)
	vals := m[name]
	if len(vals) >= bigSet {
		set := r.bigSet(kind, name, vals)
		if _, dup := set[value]; dup {
			return false
		}
		set[value] = struct{}{}
	} else if contains(vals, value) {
		return false
	}
	if vals == nil {
		vals = r.carve(1)
	}
	m[name] = append(vals, value)
	return true
}

// group sorts a task's records by (kind, name), keeping generation order
// within each name. With scratch set, the result uses the run's buffers and
// is only valid until the next call.
func (r *run) group(recs []EnumRecord, scratch bool) frag {
	gid := r.gidBuf[:0]
	groups := r.groupBuf[:0]
	for i := range recs {
		rec := &recs[i]
		g := -1
		// Records of one name are usually adjacent: search from the end.
		for j := len(groups) - 1; j >= 0; j-- {
			if groups[j].name == rec.Name && groups[j].kind == rec.RType {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(groups)
			groups = append(groups, group{kind: rec.RType, name: rec.Name})
		}
		groups[g].end++ // a count for now
		gid = append(gid, int32(g))
	}
	var off int32
	for j := range groups {
		n := groups[j].end
		groups[j].start, groups[j].end = off, off
		off += n
	}
	var order []int32
	if scratch {
		order = slices.Grow(r.orderBuf[:0], len(recs))[:len(recs)]
		r.orderBuf, r.groupBuf = order, groups
	} else {
		// Kept: carved from slabs shared by the build, exact capacity.
		r.groupBuf = groups
		kept := take(&r.gslab, &r.grow.groups, len(groups), 2048)
		copy(kept, groups)
		groups = kept
		order = take(&r.oslab, &r.grow.order, len(recs), 8192)
	}
	for i, g := range gid {
		order[groups[g].end] = int32(i)
		groups[g].end++
	}
	r.gidBuf = gid
	return frag{recs: recs, groups: groups, order: order}
}

// replay inserts a task's records into the zone and returns those it was
// first to insert, in generation order. When it was first for all of them
// (the usual case) the records slice itself is returned, so nothing is
// copied.
//
// e, when not nil, is the remembered task the frag belongs to: a partial
// list equal to the one it got last time is returned as that same slice.
func (r *run) replay(f *frag, e *entry) []EnumRecord {
	recs := f.recs
	if len(recs) == 0 {
		return nil
	}
	ins := slices.Grow(r.insBuf[:0], len(recs))[:len(recs)]
	r.insBuf = ins
	for gi := range f.groups {
		r.insertGroup(f, &f.groups[gi], ins)
	}
	return r.enumList(e, recs, ins)
}

// insertGroup inserts the records of one (kind, name) group of a task and
// sets ins[i] for each record i it inserted (not a duplicate, not empty).
func (r *run) insertGroup(f *frag, g *group, ins []bool) {
	recs := f.recs
	m := r.zone(g.kind)
	vals := m[g.name]
	n0 := len(vals)
	var set map[string]struct{}
	for _, i := range f.order[g.start:g.end] {
		ins[i] = false
		v := recs[i].Host
		if v == "" {
			continue // Mesos-DNS never stored empty values
		}
		if set == nil && len(vals) >= bigSet {
			set = r.bigSet(g.kind, g.name, vals)
		}
		if set != nil {
			if _, dup := set[v]; dup {
				continue
			}
			set[v] = struct{}{}
		} else if contains(vals, v) {
			continue
		}
		if vals == nil {
			vals = r.carve(int(g.end - g.start))
		}
		vals = append(vals, v)
		ins[i] = true
	}
	if len(vals) != n0 {
		m[g.name] = vals
	}
}

// enumList returns the records of a task that ins marks as first
// inserted, in generation order. When that is all of them (the usual case)
// the records slice itself is returned, so nothing is copied. With e, the
// outcome is remembered in it, and a partial list equal to the last one is
// handed out as the same slice (Changed tells unchanged tasks by it).
func (r *run) enumList(e *entry, recs []EnumRecord, ins []bool) []EnumRecord {
	if !slices.Contains(ins, false) {
		if e != nil {
			e.lastIns, e.lastOut = nil, recs
		}
		return recs
	}
	if e != nil && e.lastIns != nil && slices.Equal(e.lastIns, ins) {
		return e.lastOut
	}
	var out []EnumRecord
	for i := range recs {
		if ins[i] {
			out = append(out, recs[i])
		}
	}
	if e != nil {
		e.lastIns, e.lastOut = slices.Clone(ins), out
	}
	return out
}

// contains is slices.Contains for a name's values, checking the length and
// the last byte before comparing whole strings: values of one name are
// mostly of equal length and differ at the end (ports, IPs), so most
// comparisons stop there.
func contains(vals []string, v string) bool {
	n := len(v)
	last := v[n-1] // v is never empty here
	for _, x := range vals {
		if len(x) == n && x[n-1] == last && x == v {
			return true
		}
	}
	return false
}

func (r *run) zone(kind string) map[string][]string {
	switch kind {
	case KindA:
		return r.rs.A
	case KindAAAA:
		return r.rs.AAAA
	}
	return r.rs.SRV
}

// bigSet returns the value set of a name with many values, made from vals
// on first use.
func (r *run) bigSet(kind, name string, vals []string) map[string]struct{} {
	k := bigKey{kind, name}
	set := r.big[k]
	if set == nil {
		set = make(map[string]struct{}, 2*len(vals))
		for _, v := range vals {
			set[v] = struct{}{}
		}
		r.big[k] = set
	}
	return set
}
