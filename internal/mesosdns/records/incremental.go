// incremental.go is the Generator's memory: each task's records kept under
// everything they depend on (taskInput), so that a reload computes only
// the tasks that changed and, when few changed, patches the previous zone
// instead of inserting every record (run.patch). A reload of 100,000
// tasks with one replaced then takes about 0.12 s instead of 0.5 s
// (docs/benchmarks/records.md). Changed (changed.go) relies on what it
// keeps stable: an unchanged task's enumerate list is the same slice.

package records

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sextantdc/sextant/internal/model"
)

// Generator builds record sets like Generate, and remembers each task's
// records keyed by everything that determines them, so that the next build
// only computes the tasks that changed. When few tasks changed, it also
// takes the previous zone over and rebuilds only the names those tasks
// have (see run.patch), and records.Changed can tell a consumer which
// names those are. Its results are always identical to Generate's. It is
// safe for concurrent use (builds are serialised).
//
// Record sets it returns share their strings, value slices and enumerate
// lists with its memory and with earlier record sets; like every RecordSet
// they must not be modified. It keeps copies of
// the snapshot data it compares, so callers need not keep old snapshots.
type Generator struct {
	mu    sync.Mutex
	key   string // the Config fields task records depend on
	cache map[string]slot
	stats BuildStats
	// sizes are the A, AAAA and SRV name counts of the last build: the
	// next build's maps start at that size instead of growing to it.
	sizes [3]int
	// The last build, for patching the next one (see run.patch): its
	// record set, its eligible tasks' entries in order (repeats left out),
	// the names of its fixed records, and its number.
	prev  *RecordSet
	seq   []*entry
	fixed []string
	build uint64
	// pipeFrom overrides the pipelining threshold (tests).
	pipeFrom int
}

// BuildStats counts, for the last build, the eligible tasks whose records
// were reused from memory and those computed afresh.
type BuildStats struct {
	Reused, Built int
	// Patched is set when the build took the previous zone over and redid
	// only the names that changed, instead of inserting every record.
	Patched bool
}

// LastBuild returns the counts of the last Generate call.
func (g *Generator) LastBuild() BuildStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// NewGenerator returns a Generator with an empty memory.
func NewGenerator() *Generator { return &Generator{} }

// Generate builds the record set of snap, reusing the records of tasks
// that did not change since the previous call.
func (g *Generator) Generate(snap *model.Snapshot, cfg Config) (*RecordSet, []model.Problem) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.generate(snap, cfg, true)
}

// buildMemory is what a build with memory gathers besides the zone.
type buildMemory struct {
	// old and next are the entries of the previous build and this one,
	// by task id.
	old, next map[string]slot
	// seq holds the eligible tasks' entries in build order, with nil for
	// a task identical to an earlier one (same id and inputs: Mesos allows
	// it). Such a repeat finds all its records inserted already, so it
	// has no records of its own in the zone and none in /v1/enumerate.
	seq []*entry
}

// begin starts a build with memory. A change of the Config fields task
// records depend on forgets everything.
func (g *Generator) begin(cfg Config, tasks int) buildMemory {
	if key := configKey(cfg); key != g.key {
		g.key, g.cache, g.prev, g.seq = key, nil, nil, nil
	}
	g.stats = BuildStats{}
	g.build++
	return buildMemory{old: g.cache, next: make(map[string]slot, tasks), seq: make([]*entry, 0, len(g.seq)+16)}
}

// configKey renders the Config fields that task records depend on.
func configKey(cfg Config) string {
	return cfg.Domain + "\x00" + strconv.FormatBool(cfg.EnforceRFC952) + "\x00" + strings.Join(cfg.IPSources, "\x00")
}

// recall returns a task's entry: the remembered one if its input did not
// change, else a new one with its records computed. It records the entry
// in mem, and returns nil for a repeat.
func (g *Generator) recall(r *run, mem *buildMemory, in *taskInput) *entry {
	var e *entry
	if s, ok := mem.old[in.id]; ok {
		e = s.find(in)
	}
	if e == nil {
		// Own copies: ipbuf is reused, and the memory must not
		// depend on the caller keeping old snapshots unchanged.
		in.taskIPs = slices.Clone(in.taskIPs)
		in.ports = slices.Clone(in.ports)
		in.diPorts = slices.Clone(in.diPorts)
		e = &entry{in: *in, frag: r.group(r.taskRecords(in), false)}
		g.stats.Built++
	} else {
		g.stats.Reused++
	}
	s := mem.next[in.id]
	s.add(e)
	mem.next[in.id] = s
	if e.build == g.build {
		e = nil // a repeat
	} else {
		e.build = g.build
	}
	mem.seq = append(mem.seq, e)
	return e
}

// finish completes a build with memory once every task is recalled: it
// patches the previous zone when few tasks changed, else inserts every
// task's records (unless the pipeline did), and remembers the build.
func (g *Generator) finish(r *run, mem *buildMemory, pipelined bool) {
	seq := mem.seq
	live := make([]*entry, 0, len(seq)) // seq without repeats
	for _, e := range seq {
		if e != nil {
			live = append(live, e)
		}
	}
	g.stats.Patched = g.prev != nil && r.patch(g, live, seq)
	if !g.stats.Patched && !pipelined {
		if g.prev != nil {
			// The fixed records went into small maps: move them to maps
			// of the full size before inserting every task's records.
			r.rs.A, r.rs.AAAA, r.rs.SRV = grown(r.rs.A, g.sizes[0]), grown(r.rs.AAAA, g.sizes[1]), grown(r.rs.SRV, g.sizes[2])
		}
		i := 0
		for fi := range r.rs.Frameworks {
			for ti := range r.rs.Frameworks[fi].Tasks {
				e := seq[i]
				i++
				if e != nil {
					r.rs.Frameworks[fi].Tasks[ti].Records = r.replay(&e.frag, e)
				}
			}
		}
	}
	g.cache = mem.next
	g.sizes = [3]int{len(r.rs.A), len(r.rs.AAAA), len(r.rs.SRV)}
	g.prev, g.seq = r.rs, live
	g.fixed = r.fixed
}

// grown returns m, or a copy of it presized for n names when n is larger.
func grown(m map[string][]string, n int) map[string][]string {
	if n <= len(m) {
		return m
	}
	out := make(map[string][]string, n)
	maps.Copy(out, m)
	return out
}

// slot holds the remembered tasks with one task id. Almost always there is
// one; Mesos allows the same id twice (the Mesos-DNS fixture does it).
type slot struct {
	first *entry
	more  []*entry
}

func (s *slot) find(in *taskInput) *entry {
	if s.first != nil && s.first.in.equal(in) {
		return s.first
	}
	for _, e := range s.more {
		if e.in.equal(in) {
			return e
		}
	}
	return nil
}

func (s *slot) add(e *entry) {
	if s.first == nil {
		s.first = e
		return
	}
	if s.first == e || slices.Contains(s.more, e) {
		return
	}
	s.more = append(s.more, e)
}

// entry is one task's remembered records, in generation order, before
// duplicates across tasks are removed. It is immutable.
type entry struct {
	in   taskInput
	frag frag
	// lastIns and lastOut are the outcome of the last build the entry was
	// in: which of its records it was first to insert (nil: all of them)
	// and the enumerate list handed out. build is that build's number.
	// They are only touched under the Generator's lock; the lists handed
	// out are never modified.
	lastIns []bool
	lastOut []EnumRecord
	build   uint64
}

func (a *taskInput) equal(b *taskInput) bool {
	return a.id == b.id && a.name == b.name && a.agentID == b.agentID && a.fname == b.fname &&
		a.diName == b.diName && slices.Equal(a.ports, b.ports) && slices.Equal(a.taskIPs, b.taskIPs) &&
		slices.Equal(a.agentIPs, b.agentIPs) && diPortsEqual(a.diPorts, b.diPorts)
}

func diPortsEqual(a, b []model.DiscoveryPort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Number != b[i].Number || a[i].Name != b[i].Name || a[i].Protocol != b[i].Protocol {
			return false
		}
	}
	return true
}

// patch builds the zone from the previous one when few tasks changed, and
// reports whether it did. It is exact: the result equals a build from
// scratch (TestGeneratorMatchesGenerate checks it).
//
// The fixed records (frameworks, agents, name server, masters) are already
// in r.rs. The previous build's tasks (g.seq) and this build's (seq) are
// matched in order by entry; the names of every entry that is new, gone
// or moved, and every fixed name of either build, are "affected". Every
// other name gets exactly the same records, in the same order, from the
// same entries as last time, so its values are taken over as they are
// (they are immutable), and so is each entry's part in it: which of its
// records it was first to insert. Affected names are rebuilt from
// scratch: the fixed records first, then every task's records of that
// name in order, as a full build does.
//
// live is seq without the repeats (nil); both are in build order.
func (r *run) patch(g *Generator, live, seq []*entry) bool {
	prevSeq := g.seq
	pos := make(map[*entry]int, len(prevSeq))
	for i, e := range prevSeq {
		pos[e] = i
	}
	var moved []*entry // entries new, gone or moved: all their names are affected
	limit := len(live)/8 + 8
	i := 0
	for _, e := range live {
		k, found := pos[e]
		if !found || k < i {
			moved = append(moved, e)
		} else {
			moved = append(moved, prevSeq[i:k]...)
			i = k + 1
		}
		if len(moved) > limit {
			return false // a large change: a full build is cheaper
		}
	}
	moved = append(moved, prevSeq[i:]...)
	if len(moved) > limit {
		return false
	}
	affected := make(map[string]struct{}, 16*len(moved)+len(r.fixed)+len(g.fixed))
	for _, e := range moved {
		for _, gr := range e.frag.groups {
			affected[gr.name] = struct{}{}
		}
	}
	for _, n := range r.fixed {
		affected[n] = struct{}{}
	}
	for _, n := range g.fixed {
		affected[n] = struct{}{}
	}
	fixed := [3]map[string][]string{r.rs.A, r.rs.AAAA, r.rs.SRV}
	zones := [3]map[string][]string{maps.Clone(g.prev.A), maps.Clone(g.prev.AAAA), maps.Clone(g.prev.SRV)}
	for k, z := range zones {
		if z == nil {
			z = map[string][]string{}
			zones[k] = z
		}
		for n := range affected {
			delete(z, n)
		}
		maps.Copy(z, fixed[k])
	}
	r.rs.A, r.rs.AAAA, r.rs.SRV = zones[0], zones[1], zones[2]

	j := 0
	for fi := range r.rs.Frameworks {
		tasks := r.rs.Frameworks[fi].Tasks
		for ti := range tasks {
			e := seq[j]
			j++
			if e != nil {
				tasks[ti].Records = r.replayAffected(e, affected)
			}
		}
	}
	return true
}

// fixedNames lists the names the fixed records of this build have.
func (r *run) fixedNames() []string {
	out := make([]string, 0, len(r.rs.A)+len(r.rs.AAAA)+len(r.rs.SRV))
	for _, m := range []map[string][]string{r.rs.A, r.rs.AAAA, r.rs.SRV} {
		for n := range m {
			out = append(out, n)
		}
	}
	return out
}

// replayAffected is replay for a patched zone: the records of affected
// names are inserted, the others were inserted by the previous build,
// with the outcome recorded in e.
func (r *run) replayAffected(e *entry, affected map[string]struct{}) []EnumRecord {
	f := &e.frag
	recs := f.recs
	if len(recs) == 0 {
		return nil
	}
	ins := slices.Grow(r.insBuf[:0], len(recs))[:len(recs)]
	r.insBuf = ins
	if e.lastIns == nil {
		for i := range ins {
			ins[i] = true
		}
	} else {
		copy(ins, e.lastIns)
	}
	for gi := range f.groups {
		gr := &f.groups[gi]
		if _, ok := affected[gr.name]; !ok {
			continue
		}
		r.insertGroup(f, gr, ins)
	}
	return r.enumList(e, recs, ins)
}
