// Package records turns a cluster snapshot into the Mesos-DNS record set,
// exactly as Mesos-DNS (master e888ef4) generated it: the names, values,
// value order and /v1/enumerate ownership of spec/mesos-dns.md §5.
//
// Inputs are a *model.Snapshot (frameworks, agents, leader and tasks,
// with host names already resolved: a build does no I/O) and a Config
// (domain, label rule, IP sources, name server, masters). Outputs are an
// immutable *RecordSet (the A, AAAA and SRV maps and the /v1/enumerate
// view) and a list of model.Problem: where Mesos-DNS panicked or failed the
// whole reload, the item is skipped, named in a Problem, and the rest is
// built. Generate builds from scratch; a Generator remembers the previous
// build, computes only the tasks that changed and gives the same result;
// Changed lists the names two of its builds may differ in.
//
// Imports: only internal/model, internal/mesosdns/labels (the
// label sanitiser of §5.2) and the standard library. The DNS server and
// the HTTP API read its record sets; it knows neither.
//
// Files:
//
//	types.go        Config; RecordSet and the /v1/enumerate types
//	names.go        rules for frameworks, agents, the name server, leader and masters (§5.3–§5.5)
//	tasknames.go    rules for tasks: eligibility, name pieces, IP sources, records of a pass (§5.6)
//	build.go        one build: Generate, the order of records, feeding the rules' output to the zone
//	zone.go         inserting into the maps: sets in insertion order, enumerate ownership (§5.1, §7.5)
//	incremental.go  Generator: remembered task records, reuse, patching the previous zone, BuildStats
//	changed.go      Changed: the names two consecutive builds of a Generator may differ in
//	pipeline.go     large builds from scratch on two goroutines (compute, insert)
//	arena.go        the string arena and the slabs a build carves its slices from
//
// The rules files know nothing of memory, reuse or pipelines: the fixed
// records go to a sink, a task's records are appended to a slice with
// their strings made by the arena. reference_test.go is an independent,
// plain transcription of the rules that every optimisation is checked
// against; incremental_test.go and pipeline_test.go check that a Generator
// and a pipelined build match Generate. Figures: docs/benchmarks/records.md.
package records
