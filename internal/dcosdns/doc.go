// Package dcosdns is the DNS role every node of a cluster runs (dcos-dns,
// ex-Spartan; spec/dcos-net.md §A): it answers the thisdcos.directory
// zones from memory, forwards `.mesos` to the masters' Mesos-DNS, names
// under a configured forward zone to that zone's resolvers, and
// everything else to the upstream resolvers.
//
// # Data flow
//
//	hub ─► zonepub (a separate consumer, leading master only) ─► Publisher ─► gossip.Publish(zone, payload)
//	                                                             (versions from the leader, only increase)
//	                                    │
//	every node: gossip OnUpdate ─► receive ─► install ─► directory.Index + prepared fast replies
//	                                                     │ (atomic swap)
//	DNS query ─► dnsserver ─► Handler.AnswerFast (prepared local answers, no allocation)
//	                        └► Handler.ServeDNS ─► Router.Route ─┬► local: Index.Reply + size rules
//	                                                             ├► .mesos: forward.Racing (never cached)
//	                                                             └► forward zone / upstream: forward.Cache ─► forward.Racing
//
// The role builds nothing from snapshots: internal/zonepub does, and
// publishes through Ready.Publisher. Without gossip (a single node,
// `sextant up`) the Publisher installs the items straight into the index.
//
// # Pieces
//
//   - Router: the routing table of §A.2 (first match wins).
//   - Handler: answers a query; implements dnsserver.Handler.
//   - Config / ParseConfig: dcos-dns.json (§A.1).
//   - BindIPs, SetupSpartan: listen addresses; the spartan interface, or
//     its addresses on lo where the kernel has no dummy driver (through
//     the kernel/link seam, so tests use link.Fake).
//   - Run: the role (listeners, gossip, receiving and installing zones,
//     HTTP API of §D); Publisher: the zone builder's way in.
//
// # Metrics
//
// On Options.Registry, prefixed dcos_dns_: the §A.10 forwarder and worker
// metrics, zone_records, queries_total{route},
// mixed_route_queries_total and the cache's hits, misses, evictions,
// entries and hit ratio; gossip adds its own.
//
// # Readiness
//
// /health is 503 until a dcos.thisdcos.directory zone is installed, and
// (with gossip) while no master is alive.
//
// Imports of Sextant's own packages: internal/directory, internal/dnsserver, internal/forward,
// internal/gossip, internal/kernel/link, internal/model, internal/obs; nothing else of Sextant.
package dcosdns
