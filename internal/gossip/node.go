package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotLeader is returned by Publish on a node that is not the leader.
var ErrNotLeader = errors.New("gossip: this node is not the leader")

// State is a member's state as this node sees it.
type State string

// Member states. memberlist does not report suspicion to the application,
// so a suspect member stays "alive" until it is declared dead.
const (
	StateAlive State = "alive"
	StateDead  State = "dead"
	StateLeft  State = "left"
)

// MemberInfo describes one member as this node sees it.
type MemberInfo struct {
	Name  string
	Addr  netip.AddrPort // gossip address
	IP    netip.Addr     // node IP from its metadata (Config.NodeIP)
	Role  Role           // "" when its metadata could not be decoded
	State State
	// Hostname and PublicIPs come from the member's metadata
	// (Config.Hostname, Config.PublicIPs).
	Hostname  string
	PublicIPs []netip.Addr
	// Since is when this node saw the member's state or metadata last
	// change (first seen, alive → dead, refuted, metadata updated).
	Since time.Time
}

// broadcastMax: zone messages up to this size are also queued for
// memberlist's UDP gossip (relayed by every node that applies them) and
// sent directly as one UDP packet; larger ones go over TCP only.
// memberlist's UDP packets are 1400 bytes including label, encryption and
// framing.
const broadcastMax = 1000

// ingestDepth bounds the queue between memberlist's receive loops and our
// worker. When it is full the message is dropped and counted; push/pull
// anti-entropy repairs the gap.
const ingestDepth = 256

// ingestBytes bounds the bytes waiting in that queue (a single message is
// always accepted when the queue is empty).
const ingestBytes = 128 << 20

// MaxWireBytes bounds one encoded (compressed) zone message. memberlist
// refuses stream messages above 20 MB; the margin covers its framing and
// encryption. Publish rejects zones that do not compress below it.
const MaxWireBytes = 16 << 20

// maxZones bounds how many distinct zone names a node holds, so a
// misbehaving peer cannot grow our memory or metric labels without end.
// dcos-dns uses a handful of zones.
const maxZones = 1024

// sendWorkers bounds concurrent reliable (TCP) sends from this node.
const sendWorkers = 4

// Node is one member of the gossip cluster. It carries whole zones as
// opaque payloads.
//
// Contract:
//   - Only the leader (the alive master with the lowest name) may Publish.
//     A version is max(highest version seen for the name, own last) + 1.
//   - Each node keeps the newest payload per zone name (see Stamp for the
//     order) and calls OnUpdate with it. For one name, OnUpdate sees
//     strictly increasing stamps: never the same version twice, never an
//     older one. Versions superseded before OnUpdate ran are skipped
//     (whole-zone replacement makes intermediate versions useless).
//   - Delivery: the publisher sends each new version straight to every
//     alive member: small zones (≤ 1000 bytes encoded) as one UDP packet,
//     also queued as a memberlist gossip broadcast that every receiver
//     relays (a newer version of a zone replaces the older one in the
//     queue), so a lost packet is repaired within a few gossip rounds;
//     large zones over TCP (compressed with DEFLATE). Every push/pull
//     (Timers.PushPullInterval, and on Join) exchanges a digest of
//     (name, version, origin), and each side sends the other the zones it
//     lacks, so a restarted or partitioned node catches up.
//   - When the leader sees another publisher's version overtake its own
//     last publish for a name (its earlier incarnation, or a node that led
//     during a partition), it re-publishes its last payload above it.
//
// Delegate callbacks from memberlist only copy and enqueue; decoding,
// decompression, sending and the user callbacks run on the Node's own
// goroutines. All methods are safe for concurrent use; Publish compresses
// the payload on the caller's goroutine and never waits for the network.
type Node struct {
	cfg  Config
	log  *slog.Logger
	met  *metrics
	ml   *memberlist.Memberlist
	bq   *memberlist.TransmitLimitedQueue
	self string

	maxWire int // MaxWireBytes; lowered by tests

	publishMu sync.Mutex // serialises Publish and reasserts

	mu        sync.Mutex // guards everything below; never held while calling memberlist
	members   map[string]*MemberInfo
	leader    string
	zones     map[string]*zone // newest held version per name
	localPub  map[string]*zone // last version this process published per name
	delivered map[string]Stamp // last stamp handed to OnUpdate
	notified  *string          // last leader handed to OnLeaderChange
	// memberGen counts membership changes; notifiedGen is the last one
	// handed to OnMembersChange.
	memberGen, notifiedGen uint64
	outbound               map[outKey]struct{}

	// meta is what this node advertises (UpdateMeta replaces it).
	meta atomic.Pointer[Meta]

	alive  atomic.Int64 // alive members, for the broadcast queue
	queued atomic.Int64 // bytes waiting in ingest

	ingest   chan inMsg
	notifyCh chan struct{}
	sendCh   chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

type zone struct {
	stamp     Stamp
	wire      []byte // encoded zone message, as sent and received
	payload   []byte // decompressed
	published int64
}

type outKey struct {
	target string // member name
	name   string // zone name
}

type inMsg struct {
	digest bool
	data   []byte
}

// New creates the member and starts listening. It does not contact anyone:
// call Join. reg receives the gossip metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("gossip metrics: %w", err)
	}
	n := &Node{
		cfg:       cfg,
		log:       logger.With("node", cfg.NodeName),
		met:       met,
		self:      cfg.NodeName,
		maxWire:   MaxWireBytes,
		members:   map[string]*MemberInfo{},
		zones:     map[string]*zone{},
		localPub:  map[string]*zone{},
		delivered: map[string]Stamp{},
		outbound:  map[outKey]struct{}{},
		ingest:    make(chan inMsg, ingestDepth),
		notifyCh:  make(chan struct{}, 1),
		sendCh:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	n.meta.Store(&Meta{Role: cfg.Role, IP: cfg.NodeIP, Hostname: cfg.Hostname, PublicIPs: slices.Clone(cfg.PublicIPs)})
	n.bq = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(max(1, n.alive.Load())) },
		RetransmitMult: cfg.Timers.RetransmitMult,
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.Label = cfg.Label
	cfg.Timers.apply(mc)
	if len(cfg.Key) > 0 {
		mc.SecretKey = slices.Clone(cfg.Key)
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	} else {
		n.log.Warn("gossip is not encrypted: no cluster key configured")
	}
	mc.Delegate = delegate{n}
	mc.Events = events{n}
	mc.Logger = memberlistLogger(logger)
	mc.LogOutput = nil
	mc.RequireNodeNames = false

	n.wg.Add(2)
	go n.ingestLoop()
	go n.notifyLoop()
	ml, err := memberlist.Create(mc)
	if err != nil {
		n.stopOnce.Do(func() { close(n.stop) })
		n.wg.Wait()
		met.unregister(reg)
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	n.ml = ml
	n.wg.Add(1)
	go n.sendLoop()
	n.log.Info("gossip started", "addr", n.Addr(), "role", cfg.Role, "ip", cfg.NodeIP, "encrypted", len(cfg.Key) > 0, "label", cfg.Label)
	return n, nil
}

// Name returns this member's name.
func (n *Node) Name() string { return n.self }

// Addr returns the gossip address other members can Join (useful with
// BindPort 0).
func (n *Node) Addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), fmt.Sprint(ln.Port))
}

// Join contacts the given members ("host:port"; a bare host uses this
// node's port) and synchronises state with them, zones included: when Join
// returns, the peers have been told our digest and send what we lack. It
// returns how many were reached; the error is non-nil only if none was.
func (n *Node) Join(addrs []string) (int, error) {
	return n.ml.Join(addrs)
}

// Leave tells the cluster this node is leaving, waiting for the broadcast
// until ctx ends (5 s when ctx has no deadline). Members then mark it
// "left" at once instead of waiting for the failure detector. Call
// Shutdown afterwards.
func (n *Node) Leave(ctx context.Context) error {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	return n.ml.Leave(timeout)
}

// Shutdown stops gossiping and the Node's goroutines. Without Leave first,
// members see this node as failed (that is how tests simulate a crash).
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.ml.Shutdown()
	n.stopOnce.Do(func() { close(n.stop) })
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// UpdateMeta changes the hostname and public IPs this node advertises
// and tells the cluster, waiting up to timeout for the broadcast (same
// bounds as Config.Hostname and Config.PublicIPs).
func (n *Node) UpdateMeta(hostname string, publicIPs []netip.Addr, timeout time.Duration) error {
	c := Config{Hostname: hostname, PublicIPs: publicIPs}
	if err := c.checkMeta(); err != nil {
		return err
	}
	m := *n.meta.Load()
	m.Hostname, m.PublicIPs = hostname, slices.Clone(publicIPs)
	n.meta.Store(&m)
	return n.ml.UpdateNode(timeout)
}

// IsLeader reports whether this node leads (may Publish).
func (n *Node) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader == n.self
}

// LeaderName returns the current leader's name, "" when no master is alive.
func (n *Node) LeaderName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

// Members returns every member this node has seen, sorted by name, dead and
// left ones included.
func (n *Node) Members() []MemberInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.membersLocked()
}

func (n *Node) membersLocked() []MemberInfo {
	out := make([]MemberInfo, 0, len(n.members))
	for _, m := range n.members {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b MemberInfo) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Reachable reports whether an alive member has node IP ip, from this
// node's point of view (memberlist's failure detector). Unknown IPs are
// not reachable; use Known to tell them apart.
func (n *Node) Reachable(ip netip.Addr) bool {
	ip = ip.Unmap()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.members {
		if m.IP == ip && m.State == StateAlive {
			return true
		}
	}
	return false
}

// Known reports whether any member (in any state) has node IP ip.
func (n *Node) Known(ip netip.Addr) bool {
	ip = ip.Unmap()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.members {
		if m.IP == ip {
			return true
		}
	}
	return false
}

// Get returns the newest held version of a zone.
func (n *Node) Get(name string) (version uint64, payload []byte, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	z := n.zones[name]
	if z == nil {
		return 0, nil, false
	}
	return z.stamp.Version, z.payload, true
}

// Stamp returns the stamp of the newest held version of a zone.
func (n *Node) Stamp(name string) (Stamp, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	z := n.zones[name]
	if z == nil {
		return Stamp{}, false
	}
	return z.stamp, true
}

// Publish makes payload the new version of zone name, cluster-wide. Only
// the leader may publish (ErrNotLeader otherwise). The payload must not be
// modified afterwards. It returns the version assigned; delivery is
// asynchronous.
func (n *Node) Publish(name string, payload []byte) (uint64, error) {
	if err := checkName("zone", "name", name); err != nil {
		return 0, fmt.Errorf("gossip publish: %w", err)
	}
	if len(payload) > n.cfg.MaxPayload {
		return 0, fmt.Errorf("gossip publish %s: payload of %d bytes exceeds the %d-byte limit", name, len(payload), n.cfg.MaxPayload)
	}
	return n.publish(name, payload, false, false)
}

// PublishOwn is Publish for a per-writer zone: one that only this node
// writes (its name carries the writer, as the load balancer's per-agent
// backend sets do), so any member may publish it, leader or not. The
// versioning is Publish's; a per-writer zone has no competing publisher,
// so it is never re-asserted.
func (n *Node) PublishOwn(name string, payload []byte) (uint64, error) {
	if err := checkName("zone", "name", name); err != nil {
		return 0, fmt.Errorf("gossip publish: %w", err)
	}
	if len(payload) > n.cfg.MaxPayload {
		return 0, fmt.Errorf("gossip publish %s: payload of %d bytes exceeds the %d-byte limit", name, len(payload), n.cfg.MaxPayload)
	}
	return n.publish(name, payload, false, true)
}

func (n *Node) publish(name string, payload []byte, reassert, own bool) (uint64, error) {
	n.publishMu.Lock()
	defer n.publishMu.Unlock()
	// A newer version can arrive between choosing a version and installing
	// it; then choose again. Three rounds are plenty: only a competing
	// publisher can cause it, and it loses the next round.
	for range 3 {
		n.mu.Lock()
		if n.leader != n.self && !own {
			n.mu.Unlock()
			return 0, ErrNotLeader
		}
		if n.zones[name] == nil && len(n.zones) >= maxZones {
			n.mu.Unlock()
			return 0, fmt.Errorf("gossip publish %s: more than %d zone names", name, maxZones)
		}
		var v uint64
		if z := n.zones[name]; z != nil {
			v = z.stamp.Version
		}
		if z := n.localPub[name]; z != nil {
			v = max(v, z.stamp.Version)
		}
		n.mu.Unlock()
		if v == ^uint64(0) {
			return 0, fmt.Errorf("gossip publish %s: version space exhausted", name)
		}
		v++
		now := time.Now().UnixNano()
		wire, err := EncodeZone(name, n.self, v, now, payload)
		if err != nil {
			return 0, fmt.Errorf("gossip publish: %w", err)
		}
		if len(wire) > n.maxWire {
			return 0, fmt.Errorf("gossip publish %s: %d bytes after compression exceeds the %d-byte message limit", name, len(wire), n.maxWire)
		}
		z := &zone{stamp: Stamp{Version: v, Origin: n.self}, wire: wire, payload: payload, published: now}
		n.mu.Lock()
		if cur := n.zones[name]; cur != nil && !z.stamp.Newer(cur.stamp) {
			n.mu.Unlock()
			continue
		}
		n.zones[name] = z
		if !own {
			n.localPub[name] = z
		}
		n.outbound[outKey{name: name}] = struct{}{}
		n.met.zoneVersion.WithLabelValues(name).Set(float64(v)) // under mu: never goes back
		n.mu.Unlock()
		n.met.published.Inc()
		if reassert {
			n.met.reasserted.Inc()
		}
		if len(wire) <= broadcastMax {
			n.bq.QueueBroadcast(&zoneBroadcast{name: name, msg: wire})
		}
		signal(n.sendCh)
		signal(n.notifyCh)
		n.log.Debug("zone published", "zone", name, "version", v, "bytes", len(payload), "wire_bytes", len(wire), "reassert", reassert)
		return v, nil
	}
	return 0, fmt.Errorf("gossip publish %s: overtaken by concurrent versions", name)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// zoneBroadcast is a named broadcast: queueing a newer version of a zone
// drops the older one still waiting in the queue.
type zoneBroadcast struct {
	name string
	msg  []byte
}

func (b *zoneBroadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.Name()
}
func (b *zoneBroadcast) Name() string    { return "zone:" + b.name }
func (b *zoneBroadcast) Message() []byte { return b.msg }
func (b *zoneBroadcast) Finished()       {}

// ingestLoop decodes and applies what memberlist handed us.
func (n *Node) ingestLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case m := <-n.ingest:
			n.queued.Add(-int64(len(m.data)))
			if m.digest {
				n.handleDigest(m.data)
			} else {
				n.handleZone(m.data)
			}
		}
	}
}

func (n *Node) handleZone(b []byte) {
	z, err := DecodeZone(b, n.cfg.MaxPayload)
	if err != nil {
		n.met.invalid.WithLabelValues("zone").Inc()
		n.log.Debug("bad gossip message dropped", "err", err)
		return
	}
	n.met.received.Inc()
	n.met.bytesIn.Add(float64(len(b)))
	st := z.Stamp()
	n.mu.Lock()
	cur := n.zones[z.Name]
	n.mu.Unlock()
	if cur != nil && !st.Newer(cur.stamp) {
		n.met.stale.Inc()
		return
	}
	payload, err := z.Payload()
	if err != nil {
		n.met.invalid.WithLabelValues("zone").Inc()
		n.log.Debug("bad gossip zone payload dropped", "zone", z.Name, "stamp", st, "err", err)
		return
	}
	n.mu.Lock()
	cur = n.zones[z.Name]
	if cur != nil && !st.Newer(cur.stamp) {
		n.mu.Unlock()
		n.met.stale.Inc()
		return
	}
	if cur == nil && len(n.zones) >= maxZones {
		n.mu.Unlock()
		n.met.invalid.WithLabelValues("zone").Inc()
		n.log.Warn("gossip zone dropped: too many zone names", "zone", z.Name, "limit", maxZones)
		return
	}
	n.zones[z.Name] = &zone{stamp: st, wire: b, payload: payload, published: z.Published}
	// Our own last publish was overtaken: re-publish it above, unless the
	// other publisher outranks us (a lower name), in which case it will
	// lead as soon as membership converges and we must not fight it.
	reassert := n.leader == n.self && n.localPub[z.Name] != nil && st.Origin >= n.self
	n.met.zoneVersion.WithLabelValues(z.Name).Set(float64(st.Version))
	n.mu.Unlock()
	n.met.applied.Inc()
	if z.Published > 0 {
		if lag := time.Since(time.Unix(0, z.Published)); lag >= 0 {
			n.met.lag.Observe(lag.Seconds())
		}
	}
	n.log.Debug("zone version applied", "zone", z.Name, "stamp", st, "bytes", len(payload))
	if len(b) <= broadcastMax {
		// Relay: epidemic spread of small zones beyond the publisher's
		// own fan-out.
		n.bq.QueueBroadcast(&zoneBroadcast{name: z.Name, msg: b})
	}
	signal(n.notifyCh)
	if reassert {
		n.mu.Lock()
		lp := n.localPub[z.Name]
		n.mu.Unlock()
		n.log.Info("zone overtaken by another publisher; re-publishing ours", "zone", z.Name, "theirs", st, "ours", lp.stamp)
		if _, err := n.publish(z.Name, lp.payload, true, false); err != nil && !errors.Is(err, ErrNotLeader) {
			n.log.Warn("zone re-publish failed", "zone", z.Name, "err", err)
		}
	}
}

// handleDigest queues, for the digest's sender, every zone we hold newer
// than theirs. The sender does the same for us with our digest.
func (n *Node) handleDigest(b []byte) {
	d, err := DecodeDigest(b)
	if err != nil {
		n.met.invalid.WithLabelValues("digest").Inc()
		n.log.Debug("bad gossip digest dropped", "err", err)
		return
	}
	if d.Sender == n.self {
		return
	}
	theirs := make(map[string]Stamp, len(d.Entries))
	for _, e := range d.Entries {
		if s, ok := theirs[e.Name]; !ok || e.Stamp.Newer(s) {
			theirs[e.Name] = e.Stamp
		}
	}
	queued := 0
	n.mu.Lock()
	for name, z := range n.zones {
		if s, ok := theirs[name]; !ok || z.stamp.Newer(s) {
			n.outbound[outKey{target: d.Sender, name: name}] = struct{}{}
			queued++
		}
	}
	n.mu.Unlock()
	if queued > 0 {
		n.log.Debug("peer lacks zones; sending", "peer", d.Sender, "zones", queued)
		signal(n.sendCh)
	}
}

type sendJob struct {
	to       *memberlist.Node
	zone     string
	msg      []byte
	reliable bool
}

// sendLoop performs direct sends: after a publish, the zone to every alive
// member (one UDP packet when small, which the broadcast queue then backs
// up; TCP when large), and after push/pull the zones a peer lacks (TCP).
// It always sends the newest held version, so a superseded version is
// never sent.
func (n *Node) sendLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.sendCh:
		}
		var jobs []sendJob
		n.mu.Lock()
		for k := range n.outbound {
			z := n.zones[k.name]
			if z == nil {
				continue
			}
			for _, m := range n.members {
				if m.Name == n.self || m.State != StateAlive || (k.target != "" && m.Name != k.target) {
					continue
				}
				jobs = append(jobs, sendJob{
					to:       &memberlist.Node{Name: m.Name, Addr: net.IP(m.Addr.Addr().AsSlice()), Port: m.Addr.Port()},
					zone:     k.name,
					msg:      z.wire,
					reliable: k.target != "" || len(z.wire) > broadcastMax,
				})
			}
		}
		clear(n.outbound)
		n.mu.Unlock()
		n.runJobs(jobs)
	}
}

func (n *Node) runJobs(jobs []sendJob) {
	if len(jobs) == 0 {
		return
	}
	ch := make(chan sendJob)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(jobs)) {
		wg.Go(func() {
			for j := range ch {
				send := n.ml.SendBestEffort
				if j.reliable {
					send = n.ml.SendReliable
				}
				if err := send(j.to, j.msg); err != nil {
					n.met.sendErrors.Inc()
					n.log.Debug("zone send failed", "peer", j.to.Name, "zone", j.zone, "err", err)
					continue
				}
				n.met.bytesOut.Add(float64(len(j.msg)))
			}
		})
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-n.stop:
		}
	}
	close(ch)
	wg.Wait()
}

// notifyLoop runs the user callbacks, one at a time, always with the newest
// state.
func (n *Node) notifyLoop() {
	defer n.wg.Done()
	type update struct {
		name    string
		version uint64
		payload []byte
	}
	for {
		select {
		case <-n.stop:
			return
		case <-n.notifyCh:
		}
		var ups []update
		var leaderChanged bool
		var members []MemberInfo
		n.mu.Lock()
		if n.memberGen != n.notifiedGen && n.cfg.OnMembersChange != nil {
			n.notifiedGen = n.memberGen
			members = n.membersLocked()
		}
		leader := n.leader
		if n.notified == nil || *n.notified != leader {
			leaderChanged = true
			n.notified = &leader
		}
		for name, z := range n.zones {
			if z.stamp.Newer(n.delivered[name]) {
				n.delivered[name] = z.stamp
				ups = append(ups, update{name, z.stamp.Version, z.payload})
			}
		}
		n.mu.Unlock()
		slices.SortFunc(ups, func(a, b update) int {
			if a.name < b.name {
				return -1
			}
			if a.name > b.name {
				return 1
			}
			return 0
		})
		if members != nil {
			n.cfg.OnMembersChange(members)
		}
		if leaderChanged && n.cfg.OnLeaderChange != nil {
			n.cfg.OnLeaderChange(leader, leader == n.self)
		}
		if n.cfg.OnUpdate != nil {
			for _, u := range ups {
				n.cfg.OnUpdate(u.name, u.version, u.payload)
			}
		}
	}
}

// recomputeLocked updates the leader and the member gauges after a
// membership change. n.mu must be held.
func (n *Node) recomputeLocked() {
	leader := ""
	counts := map[State]int{StateAlive: 0, StateDead: 0, StateLeft: 0}
	for _, m := range n.members {
		counts[m.State]++
		if m.State == StateAlive && m.Role == RoleMaster && (leader == "" || m.Name < leader) {
			leader = m.Name
		}
	}
	for s, c := range counts {
		n.met.members.WithLabelValues(string(s)).Set(float64(c))
	}
	n.alive.Store(int64(counts[StateAlive]))
	if leader != n.leader {
		n.log.Info("gossip leader changed", "from", n.leader, "to", leader, "self", leader == n.self)
		n.leader = leader
		isLeader := 0.0
		if leader == n.self {
			isLeader = 1
		}
		n.met.isLeader.Set(isLeader)
	}
}

// delegate implements memberlist.Delegate. Every method runs on one of
// memberlist's goroutines (packet loop, gossip timer, push/pull handler):
// they copy what they need and return quickly.
type delegate struct{ n *Node }

func (d delegate) NodeMeta(limit int) []byte {
	b := EncodeMeta(*d.n.meta.Load())
	if len(b) > limit {
		return nil
	}
	return b
}

func (d delegate) NotifyMsg(b []byte) {
	d.n.enqueue(inMsg{data: slices.Clone(b)})
}

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.bq.GetBroadcasts(overhead, limit)
}

func (d delegate) LocalState(bool) []byte {
	n := d.n
	dg := &Digest{Sender: n.self}
	n.mu.Lock()
	for name, z := range n.zones {
		dg.Entries = append(dg.Entries, DigestEntry{Name: name, Stamp: z.stamp})
	}
	n.mu.Unlock()
	b, err := EncodeDigest(dg)
	if err != nil { // names were validated when stored: cannot happen
		n.log.Error("encode digest", "err", err)
		return nil
	}
	return b
}

func (d delegate) MergeRemoteState(b []byte, _ bool) {
	if len(b) == 0 {
		return
	}
	d.n.enqueue(inMsg{digest: true, data: slices.Clone(b)})
}

func (n *Node) enqueue(m inMsg) {
	size := int64(len(m.data))
	if q := n.queued.Add(size); q > ingestBytes && q != size {
		n.queued.Add(-size)
		n.met.dropped.Inc()
		return
	}
	select {
	case n.ingest <- m:
	default:
		n.queued.Add(-size)
		n.met.dropped.Inc()
	}
}

// events implements memberlist.EventDelegate. memberlist calls it with its
// node lock held and never concurrently; it only updates our member table.
type events struct{ n *Node }

func (e events) NotifyJoin(m *memberlist.Node)   { e.n.memberEvent(m, StateAlive) }
func (e events) NotifyUpdate(m *memberlist.Node) { e.n.memberEvent(m, StateAlive) }
func (e events) NotifyLeave(m *memberlist.Node) {
	st := StateDead
	if m.State == memberlist.StateLeft {
		st = StateLeft
	}
	e.n.memberEvent(m, st)
}

func (n *Node) memberEvent(m *memberlist.Node, st State) {
	info := &MemberInfo{Name: m.Name, State: st}
	if a, ok := netip.AddrFromSlice(m.Addr); ok {
		info.Addr = netip.AddrPortFrom(a.Unmap(), m.Port)
	}
	if meta, err := DecodeMeta(m.Meta); err == nil {
		info.Role, info.IP, info.Hostname, info.PublicIPs = meta.Role, meta.IP, meta.Hostname, meta.PublicIPs
	} else {
		n.met.invalid.WithLabelValues("meta").Inc()
		n.log.Debug("bad member metadata", "member", m.Name, "err", err)
		info.IP = info.Addr.Addr()
	}
	now := time.Now()
	n.mu.Lock()
	prev := n.members[m.Name]
	changed := prev == nil || prev.State != info.State || prev.Role != info.Role || prev.IP != info.IP ||
		prev.Addr != info.Addr || prev.Hostname != info.Hostname || !slices.Equal(prev.PublicIPs, info.PublicIPs)
	info.Since = now
	if !changed {
		info.Since = prev.Since
	} else {
		n.memberGen++
	}
	n.members[m.Name] = info
	n.recomputeLocked()
	// A member that (re)appears may have missed publishes while it was
	// unknown or considered dead (a false suspicion on a loaded host is
	// enough): the leader sends it every zone now instead of leaving it
	// to the next push/pull. It drops what it already has after reading
	// the header.
	revived := st == StateAlive && (prev == nil || prev.State != StateAlive) && m.Name != n.self && n.leader == n.self
	if revived {
		for name := range n.zones {
			n.outbound[outKey{target: m.Name, name: name}] = struct{}{}
		}
	}
	n.mu.Unlock()
	if revived {
		signal(n.sendCh)
	}
	if prev == nil || prev.State != st {
		n.log.Debug("member state", "member", m.Name, "state", st, "addr", info.Addr, "role", info.Role)
	}
	signal(n.notifyCh)
}
