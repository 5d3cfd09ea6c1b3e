// Package agent is the agent part of the overlay (the Mesos overlay agent
// module and dcos-overlay of dcos-net, spec §C.3–C.4): it registers with
// the overlay master, and programs this node's kernel from its allocation
// and its peers': the VXLAN device vtep1024 (VNI 1024, UDP 64000), the
// m-<name> and d-<name> bridges with the gateways of their halves of the
// agent's block, a "from <overlay> lookup 42" rule per IPv4 overlay, and
// per peer a permanent neighbour and FDB entry on the VTEP, a route to its
// block via its VTEP and a table-42 route to its host IP.
//
// It is declarative: Build computes the whole desired state as a pure
// function of the allocation and the peers (golden-tested), and
// Kernel.Sync makes the kernel match it, replacing what differs and
// removing what the agent owns (routes carry RouteProto) that is no
// longer desired, so a peer that leaves loses its routes everywhere. A
// failed sync is retried whole. Unreachable routes for the overlay spaces
// and the VTEP pool, at the highest metric, keep overlay traffic from
// ever leaving through a default route.
//
// # Imports
//
// internal/overlay/alloc (the allocation's wire types) and
// internal/overlay/config. Outside the project: vishvananda/netlink,
// prometheus.
package agent
