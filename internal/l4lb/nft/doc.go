// Package nft is the nftables L4 data plane (issue 8, spec §B.6 with
// IPVS replaced by kube-proxy-style nftables DNAT): an l4lb.Dataplane
// and l4lb.StatsReporter that programs one table, `inet sextant_l4lb`,
// through github.com/google/nftables (netlink; it never runs nft).
//
// # Construction (for internal/app)
//
//	p, err := nft.New(nft.Options{Logger: log, Registerer: reg, VIPRanges: ranges})
//	// … l4lb.New(p, …); the owner calls p.Close() on exit.
//
// New needs CAP_NET_ADMIN and a kernel with nf_tables (NAT, numgen,
// hash, ct, fib); it fails otherwise, and the caller falls back to
// another plane. VIPRanges nil means DefaultVIPRanges (11.0.0.0/8,
// fd01:c::/64). Options.NetNS programs another network namespace.
//
// # Design
//
// Render turns the services into a Ruleset, a pure value; the kernel
// half diffs it against the last applied one and sends only the changed
// chains, set elements and counters, in one netlink transaction per
// Sync. A full sync replaces the whole table atomically (delete and
// re-create in one transaction; counters carried over) at start, after
// any failure, when the drift check finds that someone else changed the
// table, and every FullResyncInterval. A Sync with unchanged services
// only runs the drift check (a few netlink dumps).
//
//	nat output/prerouting (-100) ─► services: ip daddr . l4proto . dport vmap
//	        └─► svc-…: dnat to numgen random mod W map @sl-…      (weighted random)
//	                 | dnat to jhash ip saddr mod 65537 map @sl-…  (Maglev)
//	filter input/forward/output (0): ct state new ─► refuse (VIP with no backend taking
//	        new flows: counted, TCP reset / ICMP port unreachable; any other address of
//	        a VIP range or a VIP: rejected) · ct status dnat ─► count: VIP port .
//	        backend vmap ─► bt-…/bf-…: new flows and bytes per backend
//	nat postrouting (100): DNATed VIP flows ─► masq: masquerade unless the packet
//	        leaves on lo or its source is a local address other than a VIP
//
// The slot maps are data maps (slot → backend address . port), not
// verdict maps: the kernel validates the chain graph through every
// verdict element at each commit, which 65537 Maglev slots would make
// cost seconds. An unchanged Maglev service keeps its rendered map, so a
// sync that changes another VIP costs about a millisecond; a Maglev VIP
// whose backends change rewrites the slots that move (a few hundred ms
// when one of two backends drains).
//
// Weighted random gives a backend of weight w w slots of the numgen map;
// weight 0 has no slot (no new flows) while conntrack keeps its open
// flows on it: the plane never flushes conntrack. Maglev hashes the
// source address with the kernel's jhash, balance.MaglevSeed and
// balance.MaglevSize over the table balance.MaglevTable fills, so the
// kernel picks what balance.Picker picks.
//
// # Routes and safety
//
// The VIP ranges and every VIP address outside them get a local route
// on lo (rtnetlink protocol RouteProtocol), added once the table serves
// them and removed first when a VIP goes and on Close. A packet to such
// an address is DNATed or delivered locally, where the filter chains
// refuse it: it never follows the default route off the node. A local
// client's source address is then the VIP itself, which the postrouting
// chain masquerades when the backend is elsewhere; flows from other
// hosts and containers are masqueraded so the answer comes back
// through this node (dcos-l4lb's IPVS NAT did the same).
//
// # Counters
//
// Named counters per backend: new flows (Connections), bytes of packets
// to and from it (IP headers included); per service the refused new
// flows. Active connections are not counted (0). The byte and flow
// counters are keyed by the VIP's port (from conntrack) and the backend
// (from the packet), not the VIP's address: google/nftables cannot send
// the conntrack address key nft itself uses, and the one it can send
// makes `nft list` abort. Two VIPs on the same port with the same
// backend therefore share the first one's counters (both report them).
//
// # Drift
//
// A Sync with unchanged services checks the table: its chains, the rule
// counts of the base chains and of services/refuse/masq, the sizes of
// the small sets. A deleted or flushed table or chain is found and the
// table rewritten; changes the check does not see (a single element of
// a slot map) are repaired by the periodic full sync. Missing VIP routes
// are added back at every sync.
//
// # Imports
//
// l4lb/balance, github.com/google/nftables, github.com/mdlayher/netlink,
// github.com/vishvananda/netlink and netns, golang.org/x/sys/unix,
// prometheus. Its tests run the l4lbtest conformance suite in a network
// namespace of their own.
package nft
