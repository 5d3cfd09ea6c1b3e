// pipeline.go runs a large build from scratch on two goroutines: the
// building one computes each task's records (sanitising, hashing, names)
// and a second inserts them into the zone, in the same order. That takes
// a 100,000-task build from about 0.65 s to 0.49 s of wall time on two
// cores, for about 10% more CPU time (docs/benchmarks/records.md), so
// smaller builds and patched reloads stay on one goroutine.

package records

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
// taskRecords and group with their buffers (ipbuf, ipStrs, ar, recs,
// gslab, oslab, apps, gidBuf, groupBuf, and grow's recs, bytes, groups and
// order) and, with memory, recall's bookkeeping; the inserting side the
// zone maps and replay's buffers (big, slab, insBuf, grow.vals) and the
// entries' last* fields. Every enumerate entry is appended before its job is sent, into
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
