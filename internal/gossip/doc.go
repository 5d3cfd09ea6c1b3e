// Package gossip spreads whole DNS zones from the leading master to every
// node, and tells every node which other nodes it can reach, on top of
// github.com/hashicorp/memberlist (SWIM membership, failure detection,
// push/pull anti-entropy, AES-GCM encryption and cluster labels).
//
// It replaces the parts of DC/OS's Lashup that dcos-dns used: the
// [dns, zones, Name] last-writer-wins registers and the reachability
// oracle. There is no general CRDT store: a zone is an opaque payload
// (the directory package's encoding) replaced as a whole.
//
// # Versions
//
// Only the leader publishes, except per-writer zones (PublishOwn): a zone
// whose name carries its one writer, such as an agent's own VIP backends,
// which any member publishes with the same versioning. The leader is the alive member with role
// master whose name sorts lowest: every node computes it from its own
// membership view, with no coordination. A publish gets version
// max(highest version this node has seen for the zone, its own last) + 1,
// so after a failover the new leader's next change beats everything the
// old leader published. Versions never come from a clock. Equal versions
// from two publishers (possible only while a partition gives two leaders)
// are ordered by origin name, lower wins (see Stamp). A leader that sees
// its last publish overtaken by a higher-named (or an earlier incarnation
// of itself) publisher re-publishes it above, so an old leader returning
// with a stale view cannot leave the cluster on an outdated zone.
//
// # Delivery
//
// Publish sends the new version straight to every alive member (UDP for
// small zones, which also ride memberlist's gossip broadcasts and are
// relayed by every receiver; TCP with DEFLATE for large ones). Every
// push/pull, periodic and on Join, carries a digest of (zone, version,
// origin); each side then sends the other, over TCP, every zone it holds
// newer. A node that was down or partitioned therefore catches up at the
// latest one push/pull interval after it is back (at once when it joins).
//
// Receivers keep the newest payload per zone and call OnUpdate with it on
// one goroutine: per zone, strictly increasing versions, possibly skipping
// versions superseded before the callback ran.
//
// # Reachability
//
// Members advertise their role and node IP in memberlist metadata, and
// optionally a hostname and public IPs (dcos-net's node metadata).
// Reachable(ip) is true when a member with that node IP is alive in this
// node's view; a member memberlist suspects stays alive until it is
// declared dead (memberlist does not report suspicion). Members lists every
// member seen, dead and left ones included, each with the time its state
// or metadata last changed, for /v1/nodes. Config.OnMembersChange is
// called with that list after every change (coalesced, on the callback
// goroutine), so users follow membership without polling.
//
// # Timers
//
// LANTimers (production) declares a crashed member dead in about 1.5 s in
// a small cluster (probe every 500 ms, suspicion 3 × log10(N) probe
// intervals), runs anti-entropy every 15 s. FastTimers (tests, loopback
// demos) does it in about 1 s, anti-entropy every second.
//
// # Wire format
//
// See codec.go: a 4-byte header ('S', 'X', codec version, type) and
// length-prefixed fields, every length checked against the buffer and a
// fixed bound before use; errors name the field. Decompression is bounded
// by the declared length, which is bounded by Config.MaxPayload.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package gossip
