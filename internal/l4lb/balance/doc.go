// Package balance is what every L4 data plane shares: the Service value a
// plane is asked to serve, the choice of backend for a new flow, and the
// counters a plane reports back. It is one job — "which backend gets this
// flow" — so that the userspace, nftables and eBPF planes make the same
// decision for the same inputs (the conformance suite in l4lbtest checks
// the planes against Picker, as kube-proxy's tracer checks its rules).
//
// # Inputs and outputs
//
// A Service is one (protocol, VIP address, port) with its backends, each
// with a weight: 0 drains (no new flows, open ones finish), above 0 takes
// new flows in proportion. NewPicker turns a Service into an immutable
// Picker; Pick(source) returns the backend for a new flow:
//
//   - Random (the default): weighted random over the backends with weight
//     above 0, as dcos-l4lb's IPVS did for new connections.
//   - Maglev: consistent hashing (Eisenbud et al., "Maglev: A Fast and
//     Reliable Software Network Load Balancer", NSDI 2016, §3.4) of the
//     client's IP address over a lookup table of MaglevSize (65537, prime)
//     slots. The same client address goes to the same backend on every
//     node and every plane, and a change of the backend set moves only
//     about 1/N of the clients. The slot of an address is
//     reciprocal_scale(jhash(addr, MaglevSeed), MaglevSize), with jhash the
//     Linux kernel's (include/linux/jhash.h), so an nftables plane can
//     compute the same slot with `jhash ip saddr mod 65537 seed 0x…`.
//
// ServiceStats and BackendStats are the counters a plane fills
// (connections, bytes, failures, refusals); the l4lb consumer turns them
// into Prometheus metrics.
//
// # Imports
//
// The standard library only. Planes import this package; the l4lb
// consumer re-exports its types, so planes never import the consumer.
package balance
