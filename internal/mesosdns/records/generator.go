package records

import (
	"crypto/sha1" // #nosec G505: the task-id hash is a naming scheme fixed by Mesos-DNS, not security
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/model"
)

// Config holds the settings that shape the record set. It mirrors the
// Mesos-DNS configuration fields of the same names.
type Config struct {
	// Domain is the zone, without trailing dot (e.g. "mesos").
	Domain string
	// EnforceRFC952 selects 24-character labels without leading digits.
	EnforceRFC952 bool
	// IPSources orders the task IP sources: "netinfo", "docker", "mesos",
	// "host". Unknown names are ignored, as Mesos-DNS did.
	IPSources []string
	// SOAMname is the name-server name (with trailing dot) that gets the
	// listener's addresses.
	SOAMname string
	// Listener is the DNS listen address: "0.0.0.0" (all interfaces, see
	// ListenerAddrs), "127.0.0.1", or another IP literal.
	Listener string
	// ListenerAddrs are the host's non-loopback interface addresses, used
	// when Listener is 0.0.0.0. The caller gathers them so that generation
	// does no I/O.
	ListenerAddrs []netip.Addr
	// Masters is the current masters list; Masters[0] is the presumed
	// leader and may be "" (ZooKeeper has not reported one yet).
	Masters []string
	// HealthAware leaves out tasks that should not get traffic (model
	// Task.Serving: unhealthy, or health-checked with no result yet).
	// Mesos-DNS ignored health; this is off unless the config asks.
	HealthAware bool
}

// Record kinds, as /v1/enumerate names them.
const (
	KindA    = "A"
	KindAAAA = "AAAA"
	KindSRV  = "SRV"
)

// Generate builds the record set of a snapshot from scratch, exactly as
// Mesos-DNS (master e888ef4) generated it, in its order: frameworks, agents,
// the name server, leader and masters, then tasks.
//
// Where Mesos-DNS panicked or failed the whole reload (a host name as
// leader, master or listener, an agent without a usable pid, a pid host that
// did not resolve), the item is skipped, a Problem names it, and the rest is
// built. Problems the model already reported (bad port strings, bad pids)
// stay in snap.Problems and are not repeated, unless generation adds
// something to say about them.
//
// Generate does no I/O; host names are looked up in snap.HostIPs.
func Generate(snap *model.Snapshot, cfg Config) (*RecordSet, []model.Problem) {
	var g Generator
	return g.generate(snap, cfg, false)
}

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

// taskInput is everything a task's records depend on, besides the Config.
type taskInput struct {
	id, name, agentID string
	fname             string // sanitised framework name
	ports             []uint64
	diName            string
	diPorts           []model.DiscoveryPort
	taskIPs           []netip.Addr
	agentIPs          []string // the agent's IP strings, or its leaked host string
	agentKinds        []string // derived from agentIPs
	agentTail         string   // derived from agentID
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

// agentInfo is an agent's contribution to its tasks' records.
type agentInfo struct {
	addrs []netip.Addr // for the "host" IP source
	strs  []string     // for the .slave records: IP strings, or the leaked host
	kinds []string     // the record kind of each of strs
	tail  string       // the last field of the agent id, lower-cased
}

// run is the state of one build.
type run struct {
	cfg    Config
	tail   string // "." + domain + "."
	rs     *RecordSet
	big    map[bigKey]map[string]struct{}
	probs  []model.Problem
	agents []agentInfo
	fnames []string
	ipbuf  []netip.Addr
	ipStrs []string // a task's IP strings (they live in the arena)
	// ar and recs are shared by all tasks of a build: each task's strings
	// and records are carved from them, so a task costs no allocation of
	// its own (see arena and recSlab).
	ar   arena
	recs []EnumRecord
	grow growth
	// gslab and oslab hold the groupings of the frags that are kept.
	gslab []group
	oslab []int32
	// fixed are the names of the records made before the tasks'.
	fixed []string
	slab  []string
	// apps caches the names shared by an app's tasks (see appNames).
	apps    [2]appNames
	appNext int
	// Scratch buffers reused from task to task.
	gidBuf   []int32
	groupBuf []group
	orderBuf []int32
	insBuf   []bool
}

type bigKey struct {
	kind string
	name string
}

// bigSet is the value count from which a name's duplicates are found with
// a set rather than by scanning its values.
const bigSet = 64

func (g *Generator) generate(snap *model.Snapshot, cfg Config, remember bool) (*RecordSet, []model.Problem) {
	if snap == nil {
		snap = &model.Snapshot{} // no state: an empty zone, and no leader
	}
	nt := len(snap.Tasks)
	var old, next map[string]slot
	if remember {
		if key := configKey(cfg); key != g.key {
			g.key, g.cache, g.prev, g.seq = key, nil, nil, nil
		}
		old = g.cache
		next = make(map[string]slot, nt)
		g.stats = BuildStats{}
		g.build++
	}
	// With a previous build in memory, the fixed records go into small maps
	// first: most reloads then take the previous zone over (see patch).
	sizes := [3]int{max(g.sizes[0], nt*5/2+16), g.sizes[1], max(g.sizes[2], nt/5+16)}
	if remember && g.prev != nil {
		sizes = [3]int{}
	}
	r := &run{
		cfg:  cfg,
		tail: "." + cfg.Domain + ".",
		rs: &RecordSet{
			Domain:  cfg.Domain,
			Version: snap.Version,
			A:       make(map[string][]string, sizes[0]),
			AAAA:    make(map[string][]string, sizes[1]),
			SRV:     make(map[string][]string, sizes[2]),
		},
		big: map[bigKey]map[string]struct{}{},
	}
	r.frameworks(snap)
	r.agentRecords(snap)
	r.listener()
	r.masters(snap)
	if remember {
		r.fixed = r.fixedNames()
	}

	if len(snap.Frameworks) > 0 {
		r.rs.Frameworks = make([]EnumFramework, len(snap.Frameworks))
	}
	// seq holds the eligible tasks' entries in build order, with nil for
	// a task identical to an earlier one (same id and inputs: Mesos allows
	// it). Such a repeat finds all its records inserted already, so it
	// has no records of its own in the zone and none in /v1/enumerate.
	var seq []*entry
	if remember {
		seq = make([]*entry, 0, len(g.seq)+16)
	}
	// A large build from scratch is a pipeline: this goroutine computes
	// the tasks' records and a second one inserts them into the zone, in
	// the same order (see insertAll). A patched reload does not need it.
	var pipe *pipeline
	if nt >= g.pipelineFrom() && (!remember || g.prev == nil) {
		pipe = r.startPipeline()
	}
	for fi := range snap.Frameworks {
		f := &snap.Frameworks[fi]
		ef := &r.rs.Frameworks[fi]
		ef.Name = f.Name
		ef.Tasks = make([]EnumTask, 0, f.End-f.First)
		for ti := f.First; ti < f.End; ti++ {
			t := &snap.Tasks[ti]
			if !t.Running() || t.Agent < 0 || t.Agent >= len(r.agents) || (r.cfg.HealthAware && !t.Serving()) {
				continue
			}
			in := r.input(t, fi)
			if !remember {
				if pipe != nil {
					// The frag is handed over: it must own its grouping.
					fr := r.group(r.taskRecords(&in), false)
					ef.Tasks = append(ef.Tasks, EnumTask{Name: t.Name, ID: t.ID})
					pipe.add(job{task: &ef.Tasks[len(ef.Tasks)-1], fr: &fr})
					continue
				}
				// The grouping lives in scratch buffers: nothing is kept.
				fr := r.group(r.taskRecords(&in), true)
				ef.Tasks = append(ef.Tasks, EnumTask{Name: t.Name, ID: t.ID, Records: r.replay(&fr, nil)})
				continue
			}
			var e *entry
			if s, ok := old[t.ID]; ok {
				e = s.find(&in)
			}
			if e == nil {
				// Own copies: ipbuf is reused, and the memory must not
				// depend on the caller keeping old snapshots unchanged.
				in.taskIPs = slices.Clone(in.taskIPs)
				in.ports = slices.Clone(in.ports)
				in.diPorts = slices.Clone(in.diPorts)
				e = &entry{in: in, frag: r.group(r.taskRecords(&in), false)}
				g.stats.Built++
			} else {
				g.stats.Reused++
			}
			s := next[t.ID]
			s.add(e)
			next[t.ID] = s
			if e.build == g.build {
				e = nil // a repeat
			} else {
				e.build = g.build
			}
			seq = append(seq, e)
			// Records are filled in below, once the zone is known.
			ef.Tasks = append(ef.Tasks, EnumTask{Name: t.Name, ID: t.ID})
			if pipe != nil && e != nil {
				pipe.add(job{task: &ef.Tasks[len(ef.Tasks)-1], fr: &e.frag, e: e})
			}
		}
	}
	if pipe != nil {
		pipe.wait()
	}
	if !remember {
		return r.rs, r.probs
	}
	live := make([]*entry, 0, len(seq)) // seq without repeats
	for _, e := range seq {
		if e != nil {
			live = append(live, e)
		}
	}
	g.stats.Patched = g.prev != nil && r.patch(g, live, seq)
	if !g.stats.Patched && pipe == nil {
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
	g.cache = next
	g.sizes = [3]int{len(r.rs.A), len(r.rs.AAAA), len(r.rs.SRV)}
	g.prev, g.seq = r.rs, live
	g.fixed = r.fixed
	return r.rs, r.probs
}

// pipelineFrom is the task count from which a build from scratch is
// pipelined over two goroutines (0: the default).
func (g *Generator) pipelineFrom() int {
	if g.pipeFrom > 0 {
		return g.pipeFrom
	}
	return 4096
}

// job is one task's records handed from the goroutine that computes them
// to the one that inserts them; task is its /v1/enumerate entry, e its
// remembered entry (nil for a build without memory).
type job struct {
	task *EnumTask
	fr   *frag
	e    *entry
}

// pipeline passes jobs in batches to the inserting goroutine. The two
// goroutines use disjoint parts of the run: the computing side input,
// taskRecords and group with their buffers (ipbuf, ipStrs, ar, recs, apps,
// gidBuf, grow.recs, grow.bytes), the inserting side the zone maps and
// replay's buffers (big, slab, insBuf, grow.vals) and the entries' last*
// fields. Every enumerate entry is appended before its job is sent, into
// a slice that never grows past its capacity, so the inserting side only
// writes Records through the pointer it is given.
type pipeline struct {
	batch []job
	jobs  chan []job
	done  chan struct{}
}

const pipeBatch = 256

func (r *run) startPipeline() *pipeline {
	p := &pipeline{jobs: make(chan []job, 16), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for b := range p.jobs {
			for _, j := range b {
				j.task.Records = r.replay(j.fr, j.e)
			}
		}
	}()
	return p
}

func (p *pipeline) add(j job) {
	if p.batch == nil {
		p.batch = make([]job, 0, pipeBatch)
	}
	p.batch = append(p.batch, j)
	if len(p.batch) == pipeBatch {
		p.jobs <- p.batch
		p.batch = nil
	}
}

// wait hands over the last batch and waits until every job is inserted.
func (p *pipeline) wait() {
	if len(p.batch) > 0 {
		p.jobs <- p.batch
	}
	close(p.jobs)
	<-p.done
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

// configKey renders the Config fields that task records depend on.
func configKey(cfg Config) string {
	return cfg.Domain + "\x00" + strconv.FormatBool(cfg.EnforceRFC952) + "\x00" + strings.Join(cfg.IPSources, "\x00")
}

func (r *run) problem(item, field, reason string) {
	r.probs = append(r.probs, model.Problem{Item: item, Field: field, Reason: reason})
}

// add inserts one (name, value) pair unless it is already there, and
// reports whether it was added. Empty values are never added (Mesos-DNS
// ignored them too).
func (r *run) add(kind, name, value string) bool {
	if value == "" {
		return false
	}
	var m map[string][]string
	switch kind {
	case KindA:
		m = r.rs.A
	case KindAAAA:
		m = r.rs.AAAA
	default:
		m = r.rs.SRV
	}
	vals := m[name]
	if len(vals) >= bigSet {
		k := bigKey{kind, name}
		set := r.big[k]
		if set == nil {
			set = make(map[string]struct{}, 2*len(vals))
			for _, v := range vals {
				set[v] = struct{}{}
			}
			r.big[k] = set
		}
		if _, dup := set[value]; dup {
			return false
		}
		set[value] = struct{}{}
	} else {
		for _, v := range vals {
			if v == value {
				return false
			}
		}
	}
	if vals == nil {
		// Most names hold one value: carve their slices out of one slab
		// (capacity 1, so a second value reallocates and never overwrites
		// a neighbour).
		if len(r.slab) == cap(r.slab) {
			r.slab = make([]string, 0, nextChunk(&r.grow.vals, 1, 4096))
		}
		i := len(r.slab)
		r.slab = append(r.slab, value)
		m[name] = r.slab[i : i+1 : i+1]
		return true
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
		if cap(r.gslab)-len(r.gslab) < len(groups) {
			r.gslab = make([]group, 0, nextChunk(&r.grow.groups, len(groups), 2048))
		}
		i := len(r.gslab)
		r.gslab = append(r.gslab, groups...)
		groups = r.gslab[i:len(r.gslab):len(r.gslab)]
		if cap(r.oslab)-len(r.oslab) < len(recs) {
			r.oslab = make([]int32, 0, nextChunk(&r.grow.order, len(recs), 8192))
		}
		j := len(r.oslab)
		r.oslab = r.oslab[:j+len(recs)]
		order = r.oslab[j : j+len(recs) : j+len(recs)]
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

// carve returns an empty slice with room for n values for a new name. Most
// names hold one or two values, so their slices come from a shared slab;
// the capacity is exact, so a later append reallocates instead of
// overwriting a neighbour.
func (r *run) carve(n int) []string {
	if n > 256 {
		return make([]string, 0, n)
	}
	if cap(r.slab)-len(r.slab) < n {
		r.slab = make([]string, 0, nextChunk(&r.grow.vals, n, 4096))
	}
	i := len(r.slab)
	r.slab = r.slab[:i+n]
	return r.slab[i : i : i+n]
}

// growth sizes the slabs and arena chunks of a run. They start small and
// double up to their maximum, so that a build of a few tasks (a patched
// reload) allocates about what it needs: its strings and slices can stay
// in memory for as long as those tasks and names live, and must not pin
// whole chunks made for a full build.
type growth struct{ vals, recs, bytes, groups, order int }

// nextChunk returns the size of the next chunk of a kind (its state in *cur):
// at least need, otherwise the current step, which doubles up to limit.
func nextChunk(cur *int, need, limit int) int {
	step := *cur
	if step == 0 {
		step = 64
	}
	*cur = min(2*step, limit)
	return max(need, min(step, limit))
}

// parseIP parses an IP literal the way Go's net.ParseIP accepts it (no
// zone), with IPv4-mapped IPv6 turned into IPv4.
func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func kindOf(ip netip.Addr) string {
	if ip.Is4() || ip.Is4In6() {
		return KindA
	}
	return KindAAAA
}

// frameworks makes <fname>.<domain>. and _framework._tcp.<fname>.<domain>.
func (r *run) frameworks(snap *model.Snapshot) {
	r.fnames = make([]string, len(snap.Frameworks))
	for i := range snap.Frameworks {
		f := &snap.Frameworks[i]
		fname := labels.DomainFrag(f.Name, r.cfg.EnforceRFC952)
		r.fnames[i] = fname
		if len(f.Addrs) == 0 {
			if f.HasPort && f.Host != "" {
				// Mesos-DNS resolved pid hosts while decoding the state; one
				// that did not resolve failed the whole reload.
				r.problem("framework "+strconv.Quote(f.Name), "pid",
					"host "+strconv.Quote(f.Host)+" did not resolve; the framework gets no records")
			}
			continue
		}
		a := fname + r.tail
		for _, ip := range f.Addrs {
			ip = ip.Unmap() // as net.IP printed a v4-mapped address
			r.add(kindOf(ip), a, ip.String())
		}
		if f.HasPort {
			r.add(KindSRV, "_framework._tcp."+a, a+":"+strconv.Itoa(int(f.Port)))
		}
	}
}

// agentRecords makes slave.<domain>. and _slave._tcp.<domain>., and
// remembers each agent's addresses for its tasks.
func (r *run) agentRecords(snap *model.Snapshot) {
	r.agents = make([]agentInfo, len(snap.Agents))
	a := "slave" + r.tail
	for i := range snap.Agents {
		ag := &snap.Agents[i]
		r.agents[i].tail = agentTail(ag.ID)
		item := "agent " + strconv.Quote(ag.ID)
		if ag.Host == "" {
			// Mesos-DNS panicked on an agent without pid and failed the
			// reload on a bad one. Its tasks keep their own records.
			r.problem(item, "pid", "no usable pid: no agent records, and its tasks get no .slave addresses")
			continue
		}
		info := &r.agents[i]
		if len(ag.Addrs) == 0 {
			// Mesos-DNS failed the reload on a pid host that did not resolve;
			// where it got this far, it used the sanitised host string as
			// the agent's "IP", and so do we (it shows up over HTTP only).
			r.problem(item, "pid", "host "+strconv.Quote(ag.Host)+" did not resolve; its sanitised name stands in for its address")
			leak := labels.DomainFrag(ag.Host, r.cfg.EnforceRFC952)
			if ip, ok := parseIP(leak); ok {
				// The sanitised name can itself read as an IP ("1.2.3.4_");
				// Mesos-DNS then used it as one.
				info.addrs = []netip.Addr{ip}
				info.strs, info.kinds = []string{ip.String()}, []string{kindOf(ip)}
			} else {
				info.strs, info.kinds = []string{leak}, []string{KindA}
			}
			continue
		}
		info.addrs = make([]netip.Addr, len(ag.Addrs))
		info.strs = make([]string, len(ag.Addrs))
		info.kinds = make([]string, len(ag.Addrs))
		for j, ip := range ag.Addrs {
			ip = ip.Unmap() // as net.IP printed a v4-mapped address
			info.addrs[j] = ip
			info.strs[j], info.kinds[j] = ip.String(), kindOf(ip)
			r.add(info.kinds[j], a, info.strs[j])
		}
		r.add(KindSRV, "_slave._tcp"+r.tail, a+":"+strconv.Itoa(int(ag.Port)))
	}
}

// listener makes the name-server record.
func (r *run) listener() {
	ns := r.cfg.SOAMname
	if ns == "" {
		return
	}
	switch r.cfg.Listener {
	case "0.0.0.0":
		for _, ip := range r.cfg.ListenerAddrs {
			if !ip.IsValid() || ip.IsLoopback() {
				continue
			}
			ip = ip.Unmap()
			r.add(kindOf(ip), ns, ip.String())
		}
	case "127.0.0.1":
		r.add(KindA, ns, "127.0.0.1")
	default:
		ip, ok := parseIP(r.cfg.Listener)
		if !ok {
			r.problem("listener "+strconv.Quote(r.cfg.Listener), "listener",
				"not an IP address; no record for "+strconv.Quote(ns))
			return
		}
		r.add(kindOf(ip), ns, r.cfg.Listener)
	}
}

// masters makes leader.<domain>., master.<domain>., masterN.<domain>. and
// the _leader SRVs, following the masters list as Mesos-DNS did.
func (r *run) masters(snap *model.Snapshot) {
	l := snap.Leader
	item := "leader " + strconv.Quote(l.Raw)
	if !l.OK {
		r.problem(item, "leader", "not name@host:port; no leader or master records")
		return
	}
	ip, ok := parseIP(l.Host)
	if !ok {
		r.problem(item, "leader", "host is not an IP address; no leader or master records")
		return
	}
	// The masters entries are compared with the text after '@' as it is.
	_, leaderAddr, _ := strings.Cut(strings.Trim(l.Raw, " \""), "@")
	leaderAddr = strings.Trim(leaderAddr, " \"")
	kind := kindOf(ip)
	leader := "leader" + r.tail
	all := "master" + r.tail
	r.add(kind, leader, l.Host)
	r.add(kind, all, l.Host)
	target := leader + ":" + strconv.Itoa(int(l.Port))
	r.add(KindSRV, "_leader._tcp"+r.tail, target)
	r.add(KindSRV, "_leader._udp"+r.tail, target)

	addedLeader := false
	idx := 0
	for _, m := range r.cfg.Masters {
		host, _, err := net.SplitHostPort(m)
		if err != nil {
			if m != "" {
				r.problem("master "+strconv.Quote(m), "masters", "not host:port; skipped")
			}
			continue
		}
		mip, ok := parseIP(host)
		if !ok {
			r.problem("master "+strconv.Quote(m), "masters", "host is not an IP address; skipped")
			continue
		}
		mkind := kindOf(mip)
		isLeader := m == leaderAddr
		if !isLeader && !r.add(mkind, all, host) {
			continue // duplicate master
		}
		if isLeader && addedLeader {
			continue
		}
		r.add(mkind, "master"+strconv.Itoa(idx)+r.tail, host)
		idx++
		if isLeader {
			addedLeader = true
		}
	}
	if !addedLeader {
		r.add(kind, "master"+strconv.Itoa(idx)+r.tail, l.Host)
	}
}

// input gathers what a task's records depend on. Its taskIPs alias a
// buffer reused for the next task.
func (r *run) input(t *model.Task, fi int) taskInput {
	ag := &r.agents[t.Agent]
	in := taskInput{
		id:         t.ID,
		name:       t.Name,
		agentID:    t.AgentID,
		fname:      r.fnames[fi],
		ports:      t.Ports,
		agentIPs:   ag.strs,
		agentKinds: ag.kinds,
		agentTail:  ag.tail, // the task's slave_id is the agent's id
	}
	if d := t.Discovery; d != nil && d.Name != "" {
		in.diName = d.Name
		in.diPorts = d.Ports
	}
	r.ipbuf = taskIPs(r.ipbuf[:0], t, ag.addrs, r.cfg.IPSources)
	in.taskIPs = r.ipbuf
	return in
}

// taskIPs appends the IPs of the first source that yields any; the model
// holds each source's addresses.
func taskIPs(buf []netip.Addr, t *model.Task, agent []netip.Addr, sources []string) []netip.Addr {
	for _, src := range sources {
		var ips []netip.Addr
		switch src {
		case "host":
			ips = agent
		case "netinfo":
			ips = t.NetInfoIPs
		case "docker":
			ips = t.DockerIPs
		case "mesos":
			ips = t.MesosIPs
		}
		if len(ips) > 0 {
			return append(buf, ips...)
		}
	}
	return buf
}

// zbase32 is the z-base-32 alphabet.
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// hashID is the first 5 z-base-32 characters of SHA-1(id): its first 25
// bits, most significant first.
func hashID(id string) string {
	h := hashBytes(id)
	return string(h[:])
}

func hashBytes(id string) [5]byte {
	var buf [96]byte
	var data []byte
	if len(id) <= len(buf) {
		data = append(buf[:0], id...) // task ids are short: no heap copy
	} else {
		data = []byte(id)
	}
	sum := sha1.Sum(data) // #nosec G401: naming, not security
	v := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	var out [5]byte
	for i := range out {
		out[i] = zbase32[v>>27]
		v <<= 5
	}
	return out
}

// agentTail is the last '-'-separated field of an agent id, lower-cased.
func agentTail(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '-')+1:])
}

// arena builds the name and value strings of many tasks in one buffer: a
// strings.Builder never changes bytes it has written, so the substrings it
// hands out stay valid while it grows, and after it is replaced by a new
// one. A build costs one allocation per arenaChunk bytes of strings
// instead of dozens per task.
type arena struct{ b strings.Builder }

// arenaChunk is the size of a fresh arena buffer. A chunk stays in memory
// while any string in it is in use (a remembered task, a served record
// set), so it is kept small.
const arenaChunk = 32 << 10

// reserve makes room for n more bytes without moving what was written:
// when the current buffer is too small, a new one is started.
func (a *arena) reserve(n int, g *growth) {
	if a.b.Cap()-a.b.Len() >= n {
		return
	}
	a.b = strings.Builder{}
	a.b.Grow(nextChunk(&g.bytes, n, arenaChunk))
}

// recSlabChunk is the number of records in one slab of task records.
const recSlabChunk = 4096

// recSlab returns an empty slice with room for n records, carved from a
// slab shared by the tasks of a build; taskRecords then takes what it used
// and caps it, so a later append can never overwrite a neighbour.
func (r *run) recSlab(n int) []EnumRecord {
	if cap(r.recs)-len(r.recs) < n {
		r.recs = make([]EnumRecord, 0, nextChunk(&r.grow.recs, n, recSlabChunk))
	}
	i := len(r.recs)
	return r.recs[i:i:cap(r.recs)]
}

// cat concatenates parts into the arena.
func (a *arena) cat(parts ...string) string {
	start := a.b.Len()
	for _, p := range parts {
		a.b.WriteString(p)
	}
	return a.b.String()[start:]
}

// catPort concatenates prefix and a decimal port.
func (a *arena) catPort(prefix string, port uint64) string {
	start := a.b.Len()
	a.b.WriteString(prefix)
	var buf [20]byte
	a.b.Write(strconv.AppendUint(buf[:0], port, 10))
	return a.b.String()[start:]
}

func (a *arena) ip(ip netip.Addr) string {
	start := a.b.Len()
	var buf [64]byte
	a.b.Write(ip.AppendTo(buf[:0]))
	return a.b.String()[start:]
}

// taskRecords computes a task's records in Mesos-DNS' order.
func (r *run) taskRecords(in *taskInput) []EnumRecord {
	n := 2*len(in.taskIPs) + 2*len(in.agentIPs) + 4*len(in.ports)
	spec := r.cfg.EnforceRFC952
	var names [2]string // T of each pass
	passes := 1
	if in.diName == "" {
		names[0] = labels.Label(in.name, spec)
	} else {
		// Mesos-DNS generates DiscoveryInfo tasks twice: under the raw
		// name (its "legacy" pass) and under the sanitised one.
		n = 2*n + 8*len(in.diPorts)
		passes = 2
		names[0], names[1] = in.diName, labels.Label(in.diName, spec)
	}
	recs := r.recSlab(n)
	// Size the arena for this task's strings, each about T + framework +
	// domain + 16 bytes: per pass two canonical names, one target per host
	// port and about three strings per DI port, plus six app-wide names
	// when they are not cached from the previous task.
	per := len(names[0]) + len(in.fname) + len(r.tail) + 16
	size := 16 + 40*len(in.taskIPs)
	for _, T := range names[:passes] {
		size += (2 + len(in.ports) + 3*len(in.diPorts)) * per
		if !r.appCached(T, in.fname) {
			size += 6 * per
		}
	}
	a := &r.ar
	a.reserve(size, &r.grow)
	// hs is "-H-S.", written straight into the arena.
	h := hashBytes(in.id)
	start := a.b.Len()
	a.b.WriteByte('-')
	a.b.Write(h[:])
	a.b.WriteByte('-')
	a.b.WriteString(in.agentTail)
	a.b.WriteByte('.')
	hs := a.b.String()[start:]
	ips := slices.Grow(r.ipStrs[:0], len(in.taskIPs))[:len(in.taskIPs)]
	r.ipStrs = ips
	for i, ip := range in.taskIPs {
		ips[i] = a.ip(ip)
	}
	for _, T := range names[:passes] {
		recs = r.pass(recs, a, in, T, hs, ips)
	}
	if end := len(r.recs) + len(recs); len(recs) > 0 && end <= cap(r.recs) && &r.recs[:end][len(r.recs)] == &recs[0] {
		r.recs = r.recs[:end] // carved from the slab (n was enough)
	}
	return recs[:len(recs):len(recs)]
}

// appNames are the names all tasks called T in framework fw share; they are
// built once and reused while consecutive tasks belong to the same app
// (state order usually keeps an app's instances together). Empty fields
// are built on first use.
type appNames struct {
	T, fw  string
	aName  string    // T.fw.D.
	aSlave string    // T.fw.slave.D.
	srv    [4]string // _T._tcp.fw.slave.D., _T._udp.fw.slave.D., _T._tcp.fw.D., _T._udp.fw.D.
}

// appCached reports whether app(T, fw) would find cached names.
func (r *run) appCached(T, fw string) bool {
	for i := range r.apps {
		if c := &r.apps[i]; c.T == T && c.fw == fw && c.aName != "" {
			return true
		}
	}
	return false
}

// app returns the shared names of (T, fw). Two slots, because a
// DiscoveryInfo task alternates between its raw and sanitised name.
func (r *run) app(T, fw string) *appNames {
	for i := range r.apps {
		if c := &r.apps[i]; c.T == T && c.fw == fw && c.aName != "" {
			return c
		}
	}
	r.appNext ^= 1
	c := &r.apps[r.appNext]
	*c = appNames{T: T, fw: fw}
	return c
}

func (c *appNames) srvName(a *arena, i int, tail string) string {
	if c.srv[i] == "" {
		proto := "._tcp."
		if i%2 == 1 {
			proto = "._udp."
		}
		if i < 2 {
			c.srv[i] = a.cat("_", c.T, proto, c.fw, ".slave", tail)
		} else {
			c.srv[i] = a.cat("_", c.T, proto, c.fw, tail)
		}
	}
	return c.srv[i]
}

// pass appends the records of one task name T.
func (r *run) pass(recs []EnumRecord, a *arena, in *taskInput, T, hs string, ips []string) []EnumRecord {
	fw := in.fname
	tail := r.tail
	app := r.app(T, fw)
	if app.aName == "" {
		app.aName = a.cat(T, ".", fw, tail)
	}
	aName := app.aName
	// The canonical names are built with the ':' of their SRV targets, so
	// that the target prefix is a substring and costs nothing.
	cTarget := a.cat(T, hs, fw, tail, ":")
	cName := cTarget[:len(cTarget)-1]
	for i, ip := range in.taskIPs {
		k := kindOf(ip)
		recs = append(recs, EnumRecord{Name: aName, Host: ips[i], RType: k}, EnumRecord{Name: cName, Host: ips[i], RType: k})
	}
	var cSlave, cSlaveTarget string
	if len(in.agentIPs) > 0 || len(in.ports) > 0 {
		cSlaveTarget = a.cat(T, hs, fw, ".slave", tail, ":")
		cSlave = cSlaveTarget[:len(cSlaveTarget)-1]
	}
	if len(in.agentIPs) > 0 {
		if app.aSlave == "" {
			app.aSlave = a.cat(T, ".", fw, ".slave", tail)
		}
		aSlave := app.aSlave
		for i, s := range in.agentIPs {
			k := in.agentKinds[i] // a leaked host string is stored as "A"
			recs = append(recs, EnumRecord{Name: aSlave, Host: s, RType: k}, EnumRecord{Name: cSlave, Host: s, RType: k})
		}
	}
	di := in.diName != ""
	if len(in.ports) > 0 {
		var names [4]string
		nn := 2
		if !di {
			nn = 4
		}
		for i := range nn {
			names[i] = app.srvName(a, i, tail)
		}
		for _, p := range in.ports {
			target := a.catPort(cSlaveTarget, p)
			for _, name := range names[:nn] {
				recs = append(recs, EnumRecord{Name: name, Host: target, RType: KindSRV})
			}
		}
	}
	if !di {
		return recs
	}
	spec := r.cfg.EnforceRFC952
	for _, dp := range in.diPorts {
		target := a.catPort(cTarget, uint64(dp.Number))
		var names [4]string
		nn := 0
		switch p := labels.Label(dp.Protocol, spec); p {
		case "":
			names[0], names[1] = app.srvName(a, 2, tail), app.srvName(a, 3, tail)
			nn = 2
		case "tcp":
			names[0], nn = app.srvName(a, 2, tail), 1
		case "udp":
			names[0], nn = app.srvName(a, 3, tail), 1
		default:
			names[0], nn = a.cat("_", T, "._", p, ".", fw, tail), 1
		}
		if pn := labels.Label(dp.Name, spec); pn != "" {
			for i := range nn {
				names[nn+i] = a.cat("_", pn, ".", names[i])
			}
			nn *= 2
		}
		for _, name := range names[:nn] {
			recs = append(recs, EnumRecord{Name: name, Host: target, RType: KindSRV})
		}
	}
	return recs
}
