// changed.go lets a consumer of a Generator's record sets (the DNS
// server's prepared answers) redo only the names that changed between two
// builds, found by comparing the tasks' enumerate lists by identity.

package records

import (
	"strconv"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
)

// Changed returns the names whose values may differ between prev and cur,
// two record sets built one after the other by the same Generator. Every
// name outside the result has exactly the same values, in the same order,
// in both sets. It costs a pointer comparison per task, not a map lookup
// per name, so a consumer that prepares something per name (the DNS
// server's answers) can redo only what changed.
//
// ok is false when the sets cannot be compared (no previous set, another
// domain) or when more than a quarter of the tasks changed, where listing
// names costs more than it saves: treat every name as changed then. The result may hold names that did
// not change (it is a superset), and names present in only one of the sets.
//
// The name-server name (Config.SOAMname) is not recorded in a RecordSet:
// a caller that serves it must add it itself.
//
// Why it works: a name's values are the records inserted first, in build
// order: those of frameworks, agents, the name server and masters (the
// fixed names below, always listed), then those listed per task in
// Frameworks[].Tasks[].Records. A Generator hands out the same Records
// slice for a task whose records and first insertions did not change, so
// the tasks of prev and cur are matched by slice identity, in order; the
// names of every task that is new, gone, changed or moved are listed. The
// remaining tasks contribute the same records in the same relative order,
// so names only they contribute are unchanged. Record sets from the
// package-level Generate share nothing: every task then counts as changed.
func Changed(prev, cur *RecordSet) (names map[string]struct{}, ok bool) {
	if prev == nil || cur == nil || prev.Domain != cur.Domain {
		return nil, false
	}
	names = map[string]struct{}{}
	add := func(recs []EnumRecord) {
		for i := range recs {
			names[recs[i].Name] = struct{}{}
		}
	}
	ps, cs := taskLists(prev), taskLists(cur)
	pos := make(map[*EnumRecord]int, len(ps))
	for i, recs := range ps {
		if _, dup := pos[&recs[0]]; !dup {
			pos[&recs[0]] = i
		}
	}
	i := 0 // the next unmatched task of prev
	marked, limit := 0, len(cs)/4+64
	for _, recs := range cs {
		if marked > limit {
			return nil, false
		}
		k, found := pos[&recs[0]]
		if !found || k < i || len(ps[k]) != len(recs) {
			add(recs) // new, changed, moved back or repeated
			marked++
			continue
		}
		for ; i < k; i++ {
			add(ps[i]) // gone, changed or moved
			marked++
		}
		i = k + 1
	}
	for ; i < len(ps); i++ {
		add(ps[i])
	}
	for _, n := range fixedNames(prev, cur) {
		names[n] = struct{}{}
	}
	return names, true
}

// taskLists returns the non-empty Records lists of rs in build order.
func taskLists(rs *RecordSet) [][]EnumRecord {
	n := 0
	for _, f := range rs.Frameworks {
		n += len(f.Tasks)
	}
	out := make([][]EnumRecord, 0, n)
	for _, f := range rs.Frameworks {
		for _, t := range f.Tasks {
			if len(t.Records) > 0 {
				out = append(out, t.Records)
			}
		}
	}
	return out
}

// fixedNames lists every name that records other than task records can
// have in either set (see frameworks, agentRecords and masters): whether
// they changed is not worth tracking, there are few of them. Framework
// names are listed under both label rules, since the set does not say
// which one built it.
func fixedNames(sets ...*RecordSet) []string {
	tail := "." + sets[0].Domain + "."
	out := []string{"slave" + tail, "_slave._tcp" + tail, "leader" + tail, "master" + tail,
		"_leader._tcp" + tail, "_leader._udp" + tail}
	for n := 0; ; n++ {
		name := "master" + strconv.Itoa(n) + tail
		found := false
		for _, rs := range sets {
			found = found || rs.Has(name)
		}
		if !found {
			break
		}
		out = append(out, name)
	}
	for _, rs := range sets {
		for _, f := range rs.Frameworks {
			for _, rfc952 := range []bool{false, true} {
				a := labels.DomainFrag(f.Name, rfc952) + tail
				out = append(out, a, "_framework._tcp."+a)
			}
		}
	}
	return out
}
