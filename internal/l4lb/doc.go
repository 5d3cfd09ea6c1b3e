// Package l4lb is the L4 load-balancer consumer (dcos-l4lb, ex-Minuteman,
// spec §B): from each snapshot it derives the services every node
// serves — per (protocol, VIP address, port) the backends with their
// weights and the balancing mode — and hands them to a Dataplane.
//
//	snapshot ─► vip.BuildTable (§B.1–B.4) ─► Table.Reachable (§B.5) ─► Desired ─► []Service ─► Dataplane.Sync
//	                                                                                 │
//	                                           Prometheus (sextant_l4lb_…) ◄── StatsReporter.Stats
//
// # Inputs
//
//   - Snapshots (a channel: hub.Subscription.Snapshots). Only snapshots
//     whose Mesos or Marathon observation changed are rebuilt.
//   - Options.Unreachable: the agent IPs the failure detector reports
//     unreachable now; their backends are dropped, unless a VIP has no
//     other (fail open). Call LB.Resync when the answer changes.
//   - Options.NodeIP: this node's agent IP, for the local port-mapping
//     substitution of §B.4 (a UCR container's host-port backend is reached
//     at its container address on its own agent).
//   - Options.FromItems (agents, which have no Mesos source): the VIP
//     table is the cluster item vip.TableItem the leading master's zone
//     builder gossips, decoded (a bad one keeps the last good table)
//     instead of built from the snapshot's tasks.
//   - Per-writer backend sets (agents, §0.6): the items vip.WriterItem(ip)
//     that each agent running its local Mesos agent source gossips, the
//     backends of its own tasks. With FromItems, the table served is
//     vip.MergeWriters(master's table, live writers' sets): for an agent
//     that publishes a set, its set wins over the master's table for its
//     backends (it reads its own Mesos agent, so it is at least as fresh,
//     and it vanishes with the agent: a writer in the Unreachable answer
//     is left out whole, not kept as unreachable), while VIP names and
//     addresses stay the master's (the only allocation every node shares;
//     a writer's named VIP the master has not allocated yet waits, an IP
//     VIP is added at once). Agents that publish nothing keep the master's
//     backends and the §B.5 filter. A bad version of a writer's item keeps
//     that writer's last good set.
//   - The balancing mode: the task label L4LB_BALANCE ("random", the
//     default, or "maglev") of the tasks behind a VIP; from a gossiped
//     table, which has no tasks, the label values it carries
//     (vip.VIP.Balance). Tasks that disagree (a deployment changing the
//     label) leave the VIP at the default until they agree, and are
//     reported as a problem.
//
// # Outputs
//
// Dataplane.Sync(ctx, services) with the whole desired set, sorted by key:
// declarative and idempotent. Sync runs at each change, after a failure
// again with a backoff (1 s doubling to 30 s), and every ResyncInterval
// (30 s, dcos-l4lb's reconcile period) as a safety net so a kernel plane
// repairs drift. Weights are 0 for tasks that are killing, unhealthy or
// health-checked without a result yet (model.Task.Serving): they keep
// their connections and get no new ones.
//
// Data planes live in subpackages (userspace; nftables and eBPF to come)
// and share package balance: the Service type and the choice of backend
// (weighted random, Maglev), so that every plane makes the same choice.
// Only internal/app chooses and constructs a plane; the plane's lifetime
// (Close) belongs to whoever constructed it.
//
// # Metrics
//
// Registered on Options.Registerer: sextant_l4lb_vips, _backends,
// _unreachable_backends, _unreachable_vips, _unreachable_nodes (gauges,
// §B.5), _sync_duration_seconds, _sync_failures_total, _problems; and per
// service and backend (labels protocol, vip, name, backend):
// _backend_weight, and when the plane reports counters
// (StatsReporter) _backend_connections_total, _backend_active_connections,
// _backend_failures_total, _backend_bytes_total{direction},
// _vip_refused_total; _plane_info{plane} names the plane in use.
//
// # API
//
// Handler serves GET /v1/vips: dcos-net's document (§D: named VIPs by
// FQDN:port, IP VIPs by address:port, backends as gossiped) whose
// elements carry extra fields only — addrs, listen (where a client on
// this node connects: the VIP, or a plane's mapping of it, Listener),
// plane, mode, refused, and per backend weight, agent_ip, task_id, state
// (up, draining, unreachable), target (the local substitution) and the
// plane's counters — with an ETag (obs.ServeETag); and GET /v1/l4lb, the
// plane in use, why, and the last sync (Status). ParseVIPs is the
// clients' decoder of the document.
//
// # Imports
//
// model, vip, obs, l4lb/balance, prometheus.
package l4lb
