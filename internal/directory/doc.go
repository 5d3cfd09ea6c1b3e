// Package directory builds and answers the thisdcos.directory zones that
// dcos-dns (ex-Spartan) serves on every node of a DC/OS cluster.
//
// # Data flow
//
//	model.Snapshot ──BuildDCOS──► dcos.thisdcos.directory ─┐ (leader, gossiped)
//	records.RecordSet ─BuildMesosMirror─► mesos.thisdcos.directory ─┤ (leader, gossiped)
//	vip.Table ──BuildL4LB──► l4lb.thisdcos.directory ──────┤ (every node)
//	Config ──BuildLocal──► spartan, localhost, zk, thisnode, custom ─┤ (every node)
//	                                                          ▼
//	                                   NewIndex / Index.With ──► Lookup, Reply,
//	                                   Records, Hosts, Services (HTTP API)
//
// A Zone is the unit of distribution: immutable, versioned by its
// publisher, in canonical order, with a compact deterministic binary
// encoding (MarshalBinary/UnmarshalBinary) that gossip carries as an opaque
// payload. An Index is the immutable answer structure over a set of zones;
// installing a newer zone builds a new Index with With (only that zone is
// re-indexed) and swaps it atomically.
//
// # Behaviour kept from dcos-net (§A of the spec)
//
// Names use the dcos-net sanitiser of package label (not Mesos-DNS's). TTL
// 5 on data records, apex SOA (TTL 5, ns.spartan, support.mesosphere.com,
// 1/60/180/86400/1) and NS (TTL 3600, ns.spartan) on every zone. Only
// TASK_RUNNING tasks get names; autoip is the agent IP iff any port maps to
// a host port. A name not in an existing zone is NXDOMAIN with the SOA; a
// name in no zone is an empty authoritative NOERROR.
//
// # Differences
//
// Empty non-terminals (e.g. marathon.autoip.dcos.thisdcos.directory) answer
// NODATA rather than NXDOMAIN, as RFC 8020 requires. HealthyOnly can leave
// unhealthy tasks out of the dcos zone (off by default, as dcos-net). The
// rule-4 alias also handles dclb under the cluster id.
//
// Imports of Sextant's own packages: internal/directory/label, internal/mesosdns/records,
// internal/model, internal/vip; nothing else of Sextant.
package directory
