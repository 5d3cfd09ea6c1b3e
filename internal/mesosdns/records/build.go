// build.go runs one build: the fixed records, then every eligible task in
// state order, its records made by the naming rules (names.go,
// tasknames.go) and inserted into the zone (zone.go) directly, through
// the pipeline (pipeline.go), or by way of the Generator's memory
// (incremental.go).

package records

import (
	"net/netip"
	"slices"

	"github.com/sextantdc/sextant/internal/model"
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

// generate is Generate, and with remember Generator.Generate (the caller
// holds g.mu).
func (g *Generator) generate(snap *model.Snapshot, cfg Config, remember bool) (*RecordSet, []model.Problem) {
	if snap == nil {
		snap = &model.Snapshot{} // no state: an empty zone, and no leader
	}
	nt := len(snap.Tasks)
	var mem buildMemory
	if remember {
		mem = g.begin(cfg, nt)
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
	r.fixedRecords(snap)
	if remember {
		r.fixed = r.fixedNames()
	}

	if len(snap.Frameworks) > 0 {
		r.rs.Frameworks = make([]EnumFramework, len(snap.Frameworks))
	}
	// A large build from scratch is a pipeline: this goroutine computes
	// the tasks' records and a second one inserts them into the zone, in
	// the same order (see pipeline). A patched reload does not need it.
	var pipe *pipeline
	if nt >= g.pipelineFrom() && (!remember || g.prev == nil) {
		pipe = r.startPipeline()
	}
	for fi := range snap.Frameworks {
		f := &snap.Frameworks[fi]
		ef := &r.rs.Frameworks[fi]
		ef.Name = f.Name
		// Exact capacity: the slice never moves, so et below stays valid
		// (the pipeline writes Records through it).
		ef.Tasks = make([]EnumTask, 0, f.End-f.First)
		for ti := f.First; ti < f.End; ti++ {
			t := &snap.Tasks[ti]
			if !eligible(t, len(r.agents), cfg.HealthAware) {
				continue
			}
			in := r.input(t, fi)
			ef.Tasks = append(ef.Tasks, EnumTask{Name: t.Name, ID: t.ID})
			et := &ef.Tasks[len(ef.Tasks)-1]
			switch {
			case remember:
				// Records are filled in by finish or the pipeline, once
				// the zone is known. A repeat (nil) has none.
				if e := g.recall(r, &mem, &in); pipe != nil && e != nil {
					pipe.add(job{task: et, fr: &e.frag, e: e})
				}
			case pipe != nil:
				// The frag is handed over: it must own its grouping.
				fr := r.group(r.taskRecords(&in), false)
				pipe.add(job{task: et, fr: &fr})
			default:
				// The grouping lives in scratch buffers: nothing is kept.
				fr := r.group(r.taskRecords(&in), true)
				et.Records = r.replay(&fr, nil)
			}
		}
	}
	if pipe != nil {
		pipe.wait()
	}
	if remember {
		g.finish(r, &mem, pipe != nil)
	}
	return r.rs, r.probs
}

// run is the rules' sink: add (zone.go) inserts into the zone, problem
// collects the build's problems.
var _ sink = (*run)(nil)

func (r *run) problem(item, field, reason string) {
	r.probs = append(r.probs, model.Problem{Item: item, Field: field, Reason: reason})
}

// fixedRecords makes the records that come before the tasks', in
// Mesos-DNS' order (§5.1): frameworks, agents, the name server, leader
// and masters.
func (r *run) fixedRecords(snap *model.Snapshot) {
	rfc952 := r.cfg.EnforceRFC952
	r.fnames = frameworkRecords(r, snap.Frameworks, r.tail, rfc952)
	r.agents = agentRecords(r, snap.Agents, r.tail, rfc952)
	nameServerRecords(r, &r.cfg)
	masterRecords(r, snap.Leader, r.cfg.Masters, r.tail)
}

// input gathers what a task's records depend on. Its taskIPs alias a
// buffer reused for the next task.
func (r *run) input(t *model.Task, fi int) taskInput {
	in := newTaskInput(t, &r.agents[t.Agent], r.fnames[fi], r.cfg.IPSources, r.ipbuf[:0])
	r.ipbuf = in.taskIPs
	return in
}

// taskRecords computes a task's records in Mesos-DNS' order (see pass),
// carving them and their strings from the build's slab and arena.
func (r *run) taskRecords(in *taskInput) []EnumRecord {
	ts, passes := passLabels(in, r.cfg.EnforceRFC952)
	recs := r.recSlab(maxRecords(in))
	a := &r.ar
	a.reserve(r.taskBytes(in, ts[:passes]), &r.grow)
	p := taskPieces{in: in, hs: canonicalSuffix(a, in), tail: r.tail, rfc952: r.cfg.EnforceRFC952}
	p.ips = r.ipStrings(in.taskIPs)
	for _, T := range ts[:passes] {
		recs = pass(recs, a, r.app(T, in.fname), &p)
	}
	return r.keepRecs(recs)
}

// taskBytes sizes the arena for a task's strings, each about T + FW +
// domain + 16 bytes: per pass two canonical names, one target per host
// port and about three strings per DI port, plus six app-wide names when
// they are not cached from the previous task. Too little costs a copy.
func (r *run) taskBytes(in *taskInput, ts []string) int {
	per := len(ts[0]) + len(in.fname) + len(r.tail) + 16
	size := 16 + 40*len(in.taskIPs)
	for _, T := range ts {
		size += (2 + len(in.ports) + 3*len(in.diPorts)) * per
		if r.cachedApp(T, in.fname) == nil {
			size += 6 * per
		}
	}
	return size
}

// ipStrings writes a task's IPs into the arena; the slice is reused for
// the next task.
func (r *run) ipStrings(ips []netip.Addr) []string {
	out := slices.Grow(r.ipStrs[:0], len(ips))[:len(ips)]
	r.ipStrs = out
	for i, ip := range ips {
		out[i] = r.ar.ip(ip)
	}
	return out
}

// app returns the shared names of (T, fw): those of one of the last two
// apps, or fresh ones. Two, because a DiscoveryInfo task alternates
// between its raw and sanitised label; state order usually keeps an
// app's instances together.
func (r *run) app(T, fw string) *appNames {
	if c := r.cachedApp(T, fw); c != nil {
		return c
	}
	r.appNext ^= 1
	c := &r.apps[r.appNext]
	*c = appNames{T: T, fw: fw}
	return c
}

func (r *run) cachedApp(T, fw string) *appNames {
	for i := range r.apps {
		if c := &r.apps[i]; c.T == T && c.fw == fw && c.aName != "" {
			return c
		}
	}
	return nil
}
