// Package alloc is the master part of the overlay (the Mesos overlay
// master module, spec §C.2): it gives every agent that registers a VTEP
// (IPv4, optionally IPv6, and a MAC derived from the IPv4) and, per
// enabled overlay, a block of the overlay's space split between the
// agent's Mesos and Docker bridges. Allocation takes the lowest free
// address or block, never gives one to two agents, and keeps an agent's
// allocation when it registers again, across master restarts: the state
// is persisted in a Store before a registration is answered.
//
// Stores: FileStore (atomic replace of one file) for a single master;
// ZKStore (one znode, written with its version as a compare-and-set) for
// several masters, where only the ZooKeeper election's leader allocates
// (Election) and followers redirect agents to it.
//
// The wire types (State, AgentInfo, …) are internal/overlay/api's, the
// JSON of the state APIs of §C.5, named here as aliases.
//
// # Imports
//
// internal/overlay/config (the network being allocated) and
// internal/overlay/api (the wire types). Outside the
// project: go-zookeeper/zk and prometheus.
package alloc
