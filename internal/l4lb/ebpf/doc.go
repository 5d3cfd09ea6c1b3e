// Package ebpf is the socket-level L4 data plane: cgroup BPF programs
// that send a local process's or container's VIP connection straight to
// a backend at connect(), so no packet of it is ever translated (no
// per-packet NAT, no conntrack entry), the technique of Cilium's socket
// load balancing. Traffic that arrives from other hosts never passes a
// local connect(); that stays with the packet-level plane the caller
// passes as Options.Remote (nftables), which this plane syncs with the
// same services.
//
//	app connect(VIP:port) ──► cgroup/connect4|6 ──► services[VIP,port,proto] ──► slot ──► backends[id]
//	                          rewrites the destination; the socket remembers the VIP (sk storage)
//
// # Programs (bpf/sockl4lb.c, compiled by bpf2go; the object is committed)
//
//   - connect4/connect6: TCP and connected UDP. The destination VIP:port
//     becomes the chosen backend's address; the socket's storage keeps
//     the VIP and the backend id. A service with no backend of weight
//     above 0 refuses the connect (EPERM), counted as refused; so does a
//     destination inside Options.Ranges that no service holds (VIP
//     ranges are public address space: nothing may leave for them).
//   - sendmsg4/sendmsg6: unconnected UDP. The first datagram of a socket
//     to a VIP picks a backend, later ones keep it (an LRU map keyed by
//     socket cookie and VIP) while the backend is in the service.
//   - recvmsg4/recvmsg6: the source of a reply (the backend) is turned
//     back into the VIP, so recvfrom() shows the address the app sent to.
//   - getpeername4/getpeername6: a connected socket's peer is the VIP.
//   - sockops: a TCP socket connect() sent to a backend asks for state
//     callbacks, and at its close its payload bytes each way (acked and
//     received) are added to its backend. No program runs per packet.
//   - sock_release: a socket connect() sent to a backend is released, one
//     open flow less.
//
// # Which sockets
//
// Those of processes in the cgroup (Options.CgroupPath) and, unless
// Options.AllNamespaces, in the network namespace New was called in: a
// cgroup program sees the sockets of every namespace, but a VIP's
// services belong to one. A `sextant up` inside a namespace must not
// balance (or refuse) the connections of another namespace's processes
// on the same host. Containers in namespaces of their own then reach the
// VIPs as packets, through Remote.
//
// # Balancing: the same choice as package balance
//
// Random: the backends of weight above 0 are written to a slot set, each
// as many times as its weight; the program takes bpf_get_prandom_u32()
// modulo the count, so each backend's share is its weight's, as in
// balance.Picker (which draws the same distribution in Go; the choice of
// a random pick is not the same draw, its distribution is).
//
// Maglev: the table is balance.MaglevTable over the same backends, built
// in Go and written to a per-service array of 65537 backend ids. The
// program hashes what balance.MaglevSlot hashes — the client's source
// address, with the kernel's jhash and balance.MaglevSeed — when the
// socket has one at connect(): bound by the application (bind before
// connect), or given per datagram (IP_PKTINFO) or bound for sendmsg. Then
// the program picks exactly what balance.Picker picks for that address
// (the conformance suite checks it). An unbound socket has no source
// address yet at connect() (the kernel picks it later, from the route);
// for those the program hashes the socket's network namespace cookie
// instead, so every connection from one host namespace or container goes
// to the same backend while the backend set is unchanged, which is the
// affinity a client address gives, but not Picker's slot for any address.
//
// Updates happen in place while connections are made: a service's new
// slots (or Maglev table) are written as a new set beside the old one,
// the service entry is switched to it with one map update, then the old
// set is deleted; a connect() sees one set or the other. Weight 0 keeps a
// backend out of the set (no new connections) and its open connections
// are untouched: nothing here ever touches an established flow, nor does
// a backend leaving the service end its connections.
//
// # Counters
//
// A per-CPU map per backend id and service id: connections (connect()s
// and new unconnected UDP flows), sockets released, payload bytes each
// way (TCP, added when a connection ends), refusals. Failures stay 0: a
// connect() that fails after the choice is the application's to see. Stats sums them, adds Remote's
// counters when Remote reports any (the two planes see disjoint traffic),
// and reports Active as connections not yet released.
//
// # When the kernel says no
//
// New returns an error wrapping ErrUnsupported with the reason when the
// programs cannot be loaded or attached (no BPF, no cgroup2, a verifier
// refusal, not root): the caller serves VIPs with the nftables plane
// alone and logs why. Options.CgroupPath empty attaches to the root of
// the cgroup2 hierarchy (found in /proc/self/mountinfo), that is every
// process and container of the host.
//
//	p, err := ebpf.New(ebpf.Options{Logger: log, Remote: nft, Ranges: vipRanges})
//	switch {
//	case errors.Is(err, ebpf.ErrUnsupported):
//		log.Warn("socket-level VIP load balancing unavailable: nftables alone", "reason", err)
//		plane = nft // New never closes Remote when it fails
//	case err != nil:
//		return err
//	default:
//		plane = p // syncs and closes nft too
//	}
//
// Close detaches the programs: connections already made keep their
// backend (their packets were never translated), but getpeername() on
// them shows the backend from then on.
//
// # Imports
//
// l4lb/balance; github.com/cilium/ebpf. The package does not import the
// l4lb consumer: Remote has the method set of l4lb.Dataplane, and the
// tests check that *Plane is an l4lb.Dataplane and StatsReporter and run
// the l4lbtest conformance suite in a network namespace and cgroup of
// their own: with the backends on its loopback, in three namespaces
// behind veth links, and with the l4lb/nft plane as Remote.
package ebpf
