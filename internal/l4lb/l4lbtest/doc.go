// Package l4lbtest is the conformance suite every L4 data plane passes:
// Run drives a plane (through l4lb.Dataplane) with real clients and real
// backends and asks where each connection and datagram went, the
// tracer idea of kube-proxy's nftables tests, but against live sockets.
//
// Scenarios (each a subtest on a fresh plane):
//
//   - spread: new TCP connections reach every healthy backend; the
//     plane's counters (when it reports them) match what clients saw.
//   - maglev: every client address keeps its backend, and it is the one
//     balance.Picker chooses: planes decide as the shared code does.
//   - drain: a backend set to weight 0 gets no new connection within one
//     second, while a connection open to it keeps working, also after
//     the backend leaves the service.
//   - kill: a backend killed under load costs no error on connections to
//     the others, and none at all once the plane is synced without it;
//     the client never retries, every error is counted.
//   - resync: repeated syncs under load (weight changes, identical sets)
//     cost no connection.
//   - ipv6: TCP and UDP VIPs of IPv6 addresses.
//   - udp: per-client flows stick to their backend, spread over the
//     backends, and drain like TCP.
//   - refuse: a VIP without a backend that takes new connections refuses
//     (TCP: reset or refused; UDP: no answer).
//   - remove: a removed VIP refuses new connections.
//
// Backends are small Go echo servers the suite starts on loopback
// (127.0.0.1, ::1), or where Env.Backends opens their sockets (network
// namespaces of their own behind veth links, say): a TCP backend first
// sends its name and a newline, then echoes lines; a UDP backend answers
// each datagram with "<name>:<datagram>".
//
// Safety: a client only ever dials a loopback address unless Env.Isolated
// says the test runs in a network namespace of its own; Run fails the
// test instead of sending anything else.
//
// Imports: l4lb, l4lb/balance (test support: the other layer).
package l4lbtest
