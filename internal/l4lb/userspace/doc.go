// Package userspace is the L4 data plane that needs no kernel support
// beyond sockets: a TCP and a UDP proxy per service, in the Sextant
// process. It serves the services l4lb hands it (Sync) with the backend
// choice of package balance, so its decisions are the kernel planes'.
//
//	client ──► listener (VIP, or its loopback mapping) ──► balance.Picker ──► backend
//	           TCP: accept, dial, splice both ways         UDP: a connected socket per client flow
//
// # Where it listens
//
// With Options.Map nil the plane listens on the VIP addresses themselves,
// which must be local: Options.Links adds each one (/32, /128) to lo
// before listening and removes those it added when no service uses them
// (root, on a node or inside a network namespace). Without root, a map
// (LoopbackMap) places VIP 11.a.b.c on 127.a.b.c one to one, so anything
// that knows the VIP knows where to connect; IPv6 VIPs need a /128 entry
// each onto ::1.
//
// # Semantics
//
//   - New flows: balance.Picker over the backends of weight above 0. A
//     failed connect to a backend (refused, timed out after DialTimeout)
//     is counted as that backend's failure and retried once on another
//     backend (DialAttempts) before the client is reset: the client has
//     sent nothing yet, so nothing can be replayed twice.
//   - No backend of weight above 0: TCP connections are accepted and
//     reset (SO_LINGER 0), which a client sees as a refused port; UDP
//     datagrams are dropped (userspace cannot send ICMP port
//     unreachable). Both are counted as refused.
//   - Weight 0 (draining): no new flows; open connections and UDP flows
//     go on until they end.
//   - Sync applies only the changes: a service that stays keeps its
//     listener, its connections and its counters; its new backend set is
//     swapped in atomically for new flows. A removed backend's open
//     connections finish on their own (the plane never cuts a connection:
//     a backend on an agent reported unreachable may be alive, and one
//     that is really gone fails its connections itself). A removed
//     service's listener closes; its TCP connections finish (unless its
//     address is removed from lo with it), its UDP flows end, since their
//     replies left from its socket.
//   - TCP relays use io.CopyN between *net.TCPConn, which Linux serves
//     with splice(2); half closes pass through as FIN, and a reset on
//     one side resets the other. Bytes are counted per MiB and at the
//     end of a direction.
//   - UDP: one flow per client address and port, with its own socket
//     connected to the backend, ended after UDPIdleTimeout without a
//     datagram either way; at most UDPMaxFlows per service.
//
// Counters (Stats, for l4lb.StatsReporter): per service the refused
// flows, per backend the flows, open flows, failures and bytes each way.
//
// Imports: l4lb/balance, kernel/link, golang.org/x/sys/unix. The package
// does not import the l4lb consumer; its tests check that *Plane is an
// l4lb.Dataplane and StatsReporter and run the l4lbtest conformance suite
// on loopback and, as root, inside a network namespace of their own.
package userspace
