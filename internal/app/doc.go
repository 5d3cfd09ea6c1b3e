// Package app is the one wiring place: it builds, for each command, the
// sources, the hub and the consumers of one pipeline and owns their
// lifetimes. cmd/sextant turns flags and files into the typed
// configurations here (UpConfig, MesosDNSConfig, MasterConfig,
// NodeDNSConfig) and calls Up, MesosDNS, Master or Agent; nothing else
// builds a source or hands out a subscription.
//
//	sources (internal/source/...) ─► hub ─► consumers (mesosdns/role, dcosdns, …)
//
// Every composition is made of the same parts: `sextant up` runs one Mesos
// source and one Marathon source against the local runtime's APIs over
// HTTP, with the Mesos-DNS and node DNS consumers; `sextant mesos-dns` one
// Mesos source and the Mesos-DNS consumer; `sextant master` the Mesos (and
// optionally Marathon) source with the node DNS consumer; `sextant agent`
// the node DNS role (its zones arrive by gossip) and the L4 load balancer
// programming the VIP table the leading master gossips. `sextant up` runs
// the load balancer too (l4lb.go: the plane chosen by --l4lb-plane, its
// routes and metrics on the node DNS role's API).
//
// Imports: anything internal. Only cmd/... may import app
// (imports_test.go checks the whole tree's import direction).
package app
