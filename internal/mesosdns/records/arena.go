// arena.go is where a build's strings and small slices come from. A
// 100,000-task build makes millions of names, values and value slices;
// carving them from a few shared chunks instead of allocating each one is
// most of why such a build allocates about 380k times rather than
// millions (docs/benchmarks/records.md, "Fewer allocations per task").
// Chunks start small and double within a build, so a patched reload of a
// few tasks does not pin chunks sized for a full build.

package records

import (
	"net/netip"
	"strconv"
	"strings"
)

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

// take carves n elements from *slab, first replacing it with a new slab
// of the next chunk size (see nextChunk; its state in *step) when it has
// no room. The result has exact capacity, so an append to it reallocates
// instead of overwriting a neighbour.
func take[T any](slab *[]T, step *int, n, limit int) []T {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, nextChunk(step, n, limit))
	}
	i := len(*slab)
	*slab = (*slab)[:i+n]
	return (*slab)[i : i+n : i+n]
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

// recSlabChunk is the number of records in one slab of task records.
const recSlabChunk = 4096

// recSlab returns an empty slice with room for n records, carved from a
// slab shared by the tasks of a build; keepRecs then takes what the task
// used and caps it, so a later append can never overwrite a neighbour.
// (n is an upper bound, so unlike take it reserves before it knows.)
func (r *run) recSlab(n int) []EnumRecord {
	if cap(r.recs)-len(r.recs) < n {
		r.recs = make([]EnumRecord, 0, nextChunk(&r.grow.recs, n, recSlabChunk))
	}
	i := len(r.recs)
	return r.recs[i:i:cap(r.recs)]
}

// keepRecs takes what a task used of its recSlab, and caps it.
func (r *run) keepRecs(recs []EnumRecord) []EnumRecord {
	if end := len(r.recs) + len(recs); len(recs) > 0 && end <= cap(r.recs) && &r.recs[:end][len(r.recs)] == &recs[0] {
		r.recs = r.recs[:end] // carved from the slab (n was enough)
	}
	return recs[:len(recs):len(recs)]
}

// carve returns an empty slice with room for n values for a new name. Most
// names hold one or two values, so their slices come from a shared slab;
// the capacity is exact, so a later append reallocates instead of
// overwriting a neighbour.
func (r *run) carve(n int) []string {
	if n > 256 {
		return make([]string, 0, n)
	}
	return take(&r.slab, &r.grow.vals, n, 4096)[:0]
}
