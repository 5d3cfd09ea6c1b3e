package dcosdns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/forward"
	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
)

// Role is what kind of node runs the DNS role.
type Role string

// Roles.
const (
	RoleAgent  Role = "agent"
	RoleMaster Role = "master"
)

// Defaults of the role.
const (
	// DefaultListen is the rootless DNS listener used when nothing else
	// is configured (dcos-dns' sample configuration port).
	DefaultListen = "127.0.0.1:8053"
	// DefaultAPIAddr is dcos_rest's address (spec §D).
	DefaultAPIAddr = "127.0.0.1:62080"
	// VIPsItem is the gossip item carrying the /v1/vips document.
	VIPsItem = directory.VIPsItem
	// metricNamespace prefixes the §A.10 metric names.
	metricNamespace = "dcos_dns"
)

// GossipOptions configure cluster membership (package gossip).
type GossipOptions struct {
	// NodeName is unique in the cluster; the alive master with the lowest
	// name leads (builds and publishes the zones).
	NodeName string
	// Bind is "ip:port" for memberlist (UDP and TCP); port 0 picks one.
	Bind string
	// Advertise is "ip:port" other members dial; empty means Bind.
	Advertise string
	// Join lists "ip:port" of members to contact at start.
	Join []string
	// Key is the cluster key (16, 24 or 32 bytes); Label the cluster
	// label. Members with another key or label cannot join.
	Key   []byte
	Label string
	// Timers are memberlist's; zero means gossip.LANTimers().
	Timers gossip.Timers
}

// Ready reports what Run bound.
type Ready struct {
	DNS    []string // "ip:port" of every DNS listener (UDP and TCP)
	API    string   // HTTP API "ip:port", "" when off
	Gossip string   // gossip "ip:port", "" when standalone
	// Spartan is the device holding the spartan addresses ("" when not set up).
	Spartan string
	// Publisher publishes cluster items into this node (standalone) or its
	// gossip cluster; a zone builder on masters uses it.
	Publisher *Publisher
	// Cluster is the gossip member (membership and reachability, for the
	// load balancer's §B.5 filter); nil when standalone.
	Cluster *gossip.Node
}

// Options configure Run. Zero values take the defaults noted.
type Options struct {
	Role Role
	// Config is the dcos-dns.json content (nil: DefaultConfig()).
	Config *Config
	// Listen are explicit DNS listen addresses "ip:port"; they override
	// the config file's bind_* keys and the spartan setup.
	Listen []string
	// SetupSpartan (agents, needs CAP_NET_ADMIN) creates the spartan
	// interface, or puts its addresses on lo when the kernel has no dummy
	// driver, listens there, and removes them on shutdown.
	SetupSpartan bool
	// SpartanIPv6 adds fd01:d::c633:6401 to the spartan setup (and listens
	// there).
	SpartanIPv6 bool
	// APIAddr is the HTTP API address; "" turns the API off.
	APIAddr string
	// MesosDNS are the `.mesos` upstreams ("ip:port" of every master's
	// Mesos-DNS; dcos-dns used <master>:61053). When empty, the masters
	// are used on MesosDNSPort: Masters, or with gossip the alive master
	// members, followed as they come and go (dcos-dns' master list, §A.8).
	MesosDNS []string
	// MesosDNSPort is the Mesos-DNS port on the masters (0: 61053).
	MesosDNSPort uint16
	// Masters are the master IPs: zk-1…5.zk and master.dcos.thisdcos.directory.
	Masters []netip.Addr
	// NodeIP is this node's private IP (thisnode.thisdcos.directory).
	NodeIP netip.Addr
	// PublicIPs are this node's public IPs (what DC/OS's
	// detect_ip_public prints): public.thisnode.thisdcos.directory, and
	// public_ips in /v1/nodes, carried to every node in the gossip
	// metadata (at most gossip.MaxPublicIPs).
	PublicIPs []netip.Addr
	// DetectIPPublic is a command printing this node's public IPs, one per
	// line (DC/OS' detect_ip_public). When set it is run at start and every
	// NodeMetaRefresh; its addresses replace PublicIPs (a failed run keeps
	// the previous ones).
	DetectIPPublic string
	// NodeMetaRefresh is how often DetectIPPublic runs (0: 30 min).
	NodeMetaRefresh time.Duration
	// Hostname is this node's hostname in /v1/nodes ("": the gossip
	// member name).
	Hostname string
	// ClusterID is the <cryptoid> of rule-4 aliases ("" disables them).
	ClusterID string
	// Items, when set, is where the cluster items (zones, the VIP
	// document) this node receives by gossip, or builds itself without
	// gossip, go: the gossip source, which hands them to the hub. The role
	// then installs them from Snapshots (Snapshot.Items), like every input
	// of every consumer. Without Items they are installed directly.
	Items ItemSink
	// Sources are the sources behind the snapshots, for /health; nil: none.
	Sources obs.Sources
	// Snapshots carries the hub's snapshots when Items is set.
	Snapshots <-chan *model.Snapshot
	// Gossip, when set, joins the cluster; nil runs standalone.
	Gossip *GossipOptions
	// CacheSize bounds the forwarded-answer cache (0: default, <0: off).
	CacheSize int
	// CacheMesos caches positive `.mesos` answers for their TTL (Mesos-DNS:
	// 60 s by default) in a cache of CacheSize entries. Off by default, as
	// in dcos-dns; negative answers are never cached.
	CacheMesos bool
	// ForwardTimeout is the per-attempt upstream timeout (0: 5 s).
	ForwardTimeout time.Duration
	// UDPSockets per listener (0: one per core).
	UDPSockets int
	Logger     *slog.Logger
	// Registry receives every metric (nil: a new one, with Go and process
	// collectors, served on the API's /metrics).
	Registry *prometheus.Registry
	// Ready is called once everything is bound.
	Ready func(Ready)
	// Version is reported by /v1/version's "Version" field when set.
	Version string
	// Routes are more handlers of the HTTP API, by ServeMux pattern
	// ("GET /v1/vips" from the load balancer replaces the gossiped
	// document).
	Routes map[string]http.Handler
}

// ItemSink receives cluster items; *source/gossip.Items is one. Both
// methods must not block.
type ItemSink interface {
	// Update records a gossiped item's newer version.
	Update(name string, version uint64, payload []byte)
	// Put records an item this node built (without gossip); false when
	// unchanged.
	Put(name string, payload []byte) bool
}

// node is the running role.
type node struct {
	o       Options
	log     *slog.Logger
	cfg     *Config
	handler *Handler
	gossip  *gossip.Node
	reg     *prometheus.Registry

	// closers release the forwarders' idle sockets at shutdown.
	closers []func()

	zoneRecords *prometheus.GaugeVec

	// installMu serialises index swaps (gossip updates, master-list
	// changes, the build loop when standalone).
	installMu sync.Mutex
	// released is when memory was last handed back after a large zone
	// was replaced (guarded by installMu).
	released time.Time

	mu       sync.Mutex
	local    []*directory.Zone          // guarded by mu
	received map[string]*directory.Zone // guarded by mu: gossiped or self-built zones
	vips     []byte                     // guarded by mu: /v1/vips JSON
	// started is when this node's own metadata was set (/v1/nodes
	// "updated" without gossip).
	started time.Time
	// lastMasters is the master list last derived from gossip members
	// (only touched on the gossip notification goroutine).
	lastMasters []netip.Addr

	// becameLeader wakes the build loop when this node starts leading.
	becameLeader chan struct{}

	// mesosFwd is the `.mesos` forwarder when it follows the master list
	// (nil when fixed by Options.MesosDNS).
	mesosFwd *masterForwarder
	// masters is the current master list (Options.Masters, or the alive
	// master members).
	masters atomic.Pointer[[]netip.Addr]
	// publicIPs are this node's public IPs (Options.PublicIPs, or what
	// Options.DetectIPPublic printed last).
	publicIPs atomic.Pointer[[]netip.Addr]
}

// masterForwarder forwards `.mesos` to the current masters' Mesos-DNS; the
// racing forwarder is replaced when the master list changes.
type masterForwarder struct {
	port    uint16
	timeout time.Duration
	metrics *forward.Metrics
	cur     atomic.Pointer[forward.Racing]
}

var _ forward.RawForwarder = (*masterForwarder)(nil)

func (m *masterForwarder) set(masters []netip.Addr) {
	ups := make([]string, 0, len(masters))
	for _, a := range masters {
		ups = append(ups, netip.AddrPortFrom(a, m.port).String())
	}
	r, _ := forward.NewRacing(forward.RacingConfig{Zone: "mesos.", Upstreams: ups, Timeout: m.timeout}, m.metrics)
	if old := m.cur.Swap(r); old != nil {
		// Queries already sent through the previous forwarder end within
		// their attempt timeout (plus the losers' grace); its sockets are
		// closed after that.
		t := m.timeout
		if t <= 0 {
			t = forward.DefaultAttemptTimeout
		}
		time.AfterFunc(t+forward.LoserGrace+time.Second, old.Close)
	}
}

func (m *masterForwarder) close() {
	if r := m.cur.Load(); r != nil {
		r.Close()
	}
}

// Forward implements forward.Forwarder.
func (m *masterForwarder) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	return m.cur.Load().Forward(ctx, req, network)
}

// ForwardRaw implements forward.RawForwarder.
func (m *masterForwarder) ForwardRaw(ctx context.Context, req *dns.Msg, raw []byte, network string) (*dns.Msg, error) {
	return m.cur.Load().ForwardRaw(ctx, req, raw, network)
}

// Run runs the DNS role until ctx ends, then shuts down cleanly (listeners
// closed, gossip left, spartan addresses removed) and returns nil. It
// returns an error when something cannot start.
func Run(ctx context.Context, o Options) (err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = obs.NewRegistry()
	}
	if o.Config == nil {
		o.Config = DefaultConfig()
	}
	if o.Role == "" {
		o.Role = RoleAgent
	}
	n := &node{o: o, log: o.Logger.With("component", "dcos-dns"), cfg: o.Config, reg: o.Registry, received: map[string]*directory.Zone{},
		becameLeader: make(chan struct{}, 1), started: time.Now()}
	masters := slices.Clone(o.Masters)
	n.masters.Store(&masters)
	pubs := slices.Clone(o.PublicIPs)
	n.publicIPs.Store(&pubs)
	if o.DetectIPPublic != "" {
		if ips, err := n.detectPublicIPs(ctx); err != nil {
			n.log.Warn("public ip detection failed", "err", err)
		} else {
			n.publicIPs.Store(&ips)
		}
	}
	n.zoneRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricNamespace, Name: "zone_records",
		Help: "Records in each zone served."}, []string{"zone"})
	for _, c := range []prometheus.Collector{n.zoneRecords} {
		if err := n.reg.Register(c); err != nil {
			return fmt.Errorf("dcos-dns metrics: %w", err)
		}
	}

	h, err := n.newHandler()
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range n.closers {
			c()
		}
	}()
	n.handler = h
	local, probs := directory.BuildLocal(n.localConfig(o.Masters))
	for _, p := range probs {
		n.log.Warn("local zone item skipped", "item", p.Item, "field", p.Field, "reason", p.Reason)
	}
	n.mu.Lock()
	n.local = local
	n.mu.Unlock()
	n.install()

	// Listeners.
	var spartan *Spartan
	addrs, err := n.listenAddrs(&spartan)
	if err != nil {
		return err
	}
	if spartan != nil {
		defer func() {
			if terr := spartan.Teardown(n.log); terr != nil {
				n.log.Error("removing spartan addresses", "err", terr)
			}
		}()
	}
	var servers []*dnsserver.Server
	closeAll := func() {}
	for _, a := range addrs {
		s, err := dnsserver.Listen(dnsserver.Config{Addr: a.addr, Handler: h, UDPSockets: o.UDPSockets,
			MaxSlowInFlight: o.Config.HandlerLimit, NoUDP: !a.udp, NoTCP: !a.tcp, Logger: n.log})
		if err != nil {
			closeAll()
			return fmt.Errorf("dns listener: %w", err)
		}
		servers = append(servers, s)
		prev := closeAll
		closeAll = func() { prev(); sctx, c := context.WithCancel(context.Background()); c(); _ = s.Serve(sctx) }
	}

	// Gossip.
	if o.Gossip != nil {
		g, err := n.startGossip()
		if err != nil {
			closeAll()
			return err
		}
		n.gossip = g
		defer func() {
			lctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = g.Leave(lctx)
			_ = g.Shutdown(lctx)
		}()
	}

	// HTTP API.
	var api *http.Server
	var apiLn net.Listener
	if o.APIAddr != "" {
		apiLn, err = net.Listen("tcp", o.APIAddr)
		if err != nil {
			closeAll()
			return fmt.Errorf("api listener %s: %w", o.APIAddr, err)
		}
		api = &http.Server{Handler: n.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	}

	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(servers)+2)
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(runCtx); err != nil {
				errc <- fmt.Errorf("dns %s: %w", s.Addr(), err)
			}
		}()
	}
	if api != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := api.Serve(apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("api: %w", err)
			}
		}()
	}
	if o.DetectIPPublic != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.watchPublicIPs(runCtx)
		}()
	}
	if o.Items != nil && o.Snapshots != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.installLoop(runCtx)
		}()
	}

	ready := Ready{}
	for _, s := range servers {
		ready.DNS = append(ready.DNS, s.Addr().String())
	}
	if apiLn != nil {
		ready.API = apiLn.Addr().String()
	}
	if n.gossip != nil {
		ready.Gossip = n.gossip.Addr()
	}
	if spartan != nil {
		ready.Spartan = spartan.Link
	}
	ready.Publisher = &Publisher{n: n}
	ready.Cluster = n.gossip
	n.log.Info("dcos-dns ready", "role", o.Role, "dns", ready.DNS, "api", ready.API, "gossip", ready.Gossip)
	if o.Ready != nil {
		o.Ready(ready)
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	if api != nil {
		sctx, c := context.WithTimeout(context.Background(), 3*time.Second)
		_ = api.Shutdown(sctx)
		c()
	}
	wg.Wait()
	n.log.Info("dcos-dns stopped")
	return err
}

type listenAddr struct {
	addr     string
	udp, tcp bool
}

// listenAddrs decides where DNS listens: explicit addresses; else the
// spartan addresses; else the config file's bind_ips / bind_interface;
// else (masters) every host address, or (agents) the rootless default.
func (n *node) listenAddrs(sp **Spartan) ([]listenAddr, error) {
	both := func(l []string) []listenAddr {
		out := make([]listenAddr, 0, len(l))
		for _, a := range l {
			out = append(out, listenAddr{a, true, true})
		}
		return out
	}
	if len(n.o.Listen) > 0 {
		return both(n.o.Listen), nil
	}
	c := n.cfg
	var ips []netip.Addr
	switch {
	case n.o.SetupSpartan:
		links, err := link.Open()
		if err != nil {
			return nil, err
		}
		s, err := SetupSpartan(n.log, n.o.SpartanIPv6, links)
		if err != nil {
			return nil, err
		}
		*sp = s
		cc := *c
		cc.BindIPs = s.Addrs
		ips = BindIPs(&cc, nil)
	case len(c.BindIPs) > 0 || c.BindInterface != "" || n.o.Role == RoleMaster:
		ifaces, err := HostInterfaces()
		if err != nil {
			return nil, err
		}
		ips = BindIPs(c, ifaces)
	default:
		ap, _ := netip.ParseAddrPort(DefaultListen)
		ips = []netip.Addr{ap.Addr()}
	}
	if len(ips) == 0 {
		return nil, errors.New("dns listener: no address to bind (check bind_interface, bind_ips, bind_ip_blacklist)")
	}
	var out []listenAddr
	for _, ip := range ips {
		if c.UDPPort == c.TCPPort {
			out = append(out, listenAddr{netip.AddrPortFrom(ip, uint16(c.UDPPort)).String(), true, true})
			continue
		}
		out = append(out, listenAddr{netip.AddrPortFrom(ip, uint16(c.UDPPort)).String(), true, false},
			listenAddr{netip.AddrPortFrom(ip, uint16(c.TCPPort)).String(), false, true})
	}
	return out, nil
}

// newHandler wires the routing table to its forwarders (spec §A.2–A.3).
func (n *node) newHandler() (*Handler, error) {
	met, err := forward.NewMetrics(n.reg, metricNamespace)
	if err != nil {
		return nil, err
	}
	mk := func(zone string, ups []string) forward.Forwarder {
		r, err := forward.NewRacing(forward.RacingConfig{Zone: zone, Upstreams: ups, Timeout: n.o.ForwardTimeout}, met)
		if err != nil {
			n.log.Warn("upstream skipped", "zone", zone, "err", err)
		}
		n.closers = append(n.closers, r.Close)
		return r
	}
	var zones []string
	byZone := map[string]forward.Forwarder{}
	for z, ups := range n.cfg.ForwardZones {
		zones = append(zones, z)
		byZone[z] = mk(z, ups)
	}
	hc := HandlerConfig{
		Router:    NewRouter(n.o.ClusterID, zones),
		Mesos:     n.mesosForwarder(met, mk),
		Zones:     byZone,
		Upstream:  mk(".", n.cfg.UpstreamResolvers),
		Registry:  n.reg,
		Namespace: metricNamespace,
	}
	if n.o.CacheSize >= 0 {
		hc.Cache = &forward.CacheConfig{Size: n.o.CacheSize, Name: "forward"}
		if n.o.CacheMesos {
			hc.MesosCache = &forward.CacheConfig{Size: n.o.CacheSize, Name: "mesos"}
		}
	}
	return NewHandler(hc)
}

// mesosForwarder returns the `.mesos` forwarder: fixed upstreams, or the
// masters' Mesos-DNS following the master list.
func (n *node) mesosForwarder(met *forward.Metrics, mk func(string, []string) forward.Forwarder) forward.Forwarder {
	if len(n.o.MesosDNS) > 0 {
		return mk("mesos.", n.o.MesosDNS)
	}
	port := n.o.MesosDNSPort
	if port == 0 {
		port = 61053
	}
	n.mesosFwd = &masterForwarder{port: port, timeout: n.o.ForwardTimeout, metrics: met}
	n.mesosFwd.set(n.o.Masters)
	n.closers = append(n.closers, n.mesosFwd.close)
	return n.mesosFwd
}

// localConfig is the configuration of the node-local zones for a master
// list.
func (n *node) localConfig(masters []netip.Addr) directory.Config {
	return directory.Config{Masters: masters, NodeIP: n.o.NodeIP, PublicIPs: *n.publicIPs.Load(), CustomZones: n.cfg.CustomZones()}
}

// membersChanged follows the alive master members of the gossip cluster
// when no master list was given (dcos-net refreshed its master list and
// contact nodes every 5 s; here it follows membership events as they
// come): `.mesos` upstreams, the zk zone and
// master.dcos.thisdcos.directory follow them. Runs on the gossip
// notification goroutine.
func (n *node) membersChanged(members []gossip.MemberInfo) {
	if len(n.o.Masters) > 0 {
		return
	}
	var ms []netip.Addr
	for _, m := range members {
		if m.Role == gossip.RoleMaster && m.State == gossip.StateAlive && m.IP.IsValid() && !slices.Contains(ms, m.IP) {
			ms = append(ms, m.IP)
		}
	}
	slices.SortFunc(ms, func(a, b netip.Addr) int { return a.Compare(b) })
	if len(ms) == 0 || slices.Equal(ms, n.lastMasters) {
		// With no master alive the last list is kept: the masters may be
		// restarting, and an empty list would make every .mesos query fail.
		return
	}
	n.lastMasters = ms
	n.masters.Store(&ms)
	if n.mesosFwd != nil {
		n.mesosFwd.set(ms)
	}
	local, _ := directory.BuildLocal(n.localConfig(ms))
	n.mu.Lock()
	n.local = local
	n.mu.Unlock()
	n.install()
	n.log.Info("master list", "masters", ms)
}

// install rebuilds the index from the local and received zones and swaps
// it in.
func (n *node) install() {
	n.installMu.Lock()
	defer n.installMu.Unlock()
	n.mu.Lock()
	zones := append([]*directory.Zone(nil), n.local...)
	for _, z := range n.received {
		zones = append(zones, z)
	}
	n.mu.Unlock()
	ix := directory.NewIndex(directory.Options{ClusterID: n.o.ClusterID}, zones...)
	n.handler.SetIndex(ix)
	for _, z := range zones {
		n.zoneRecords.WithLabelValues(z.Name + ".").Set(float64(len(z.Records)))
	}
}

// installZone swaps one zone into the current index (only that zone is
// re-indexed and re-prepared).
func (n *node) installZone(z *directory.Zone) {
	n.installMu.Lock()
	defer n.installMu.Unlock()
	n.handler.SetIndex(n.handler.Index().With(z))
	n.zoneRecords.WithLabelValues(z.Name + ".").Set(float64(len(z.Records)))
	n.release(len(z.Records))
}

// Replacing a large zone leaves the old one and the decoding's garbage
// behind: as much again as the zone, which the runtime would keep as heap
// headroom. A node's working set is its zones, so after a large zone is
// replaced the memory is handed back to the system, at most once per
// releaseEvery (a full collection of the node's heap, tens of ms).
const (
	releaseFrom  = 50_000 // records
	releaseEvery = 30 * time.Second
)

func (n *node) release(records int) {
	if records < releaseFrom || time.Since(n.released) < releaseEvery {
		return
	}
	n.released = time.Now()
	debug.FreeOSMemory()
}

// onGossip takes a newer version of a gossiped item: to the item source
// (and so through the hub) when there is one, else straight in.
func (n *node) onGossip(name string, version uint64, payload []byte) {
	if n.o.Items != nil {
		n.o.Items.Update(name, version, payload)
		return
	}
	n.receive(name, version, payload)
}

// installLoop installs the items of each snapshot whose version differs
// from the one installed (the hub carries the whole set every time).
func (n *node) installLoop(ctx context.Context) {
	installed := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-n.o.Snapshots:
			if !ok {
				return
			}
			for _, it := range s.Items {
				if v, ok := installed[it.Name]; ok && v == it.Version {
					continue
				}
				installed[it.Name] = it.Version
				n.receive(it.Name, it.Version, it.Payload)
			}
		}
	}
}

// receive installs a newer version of a gossiped item (zones, or the VIP
// document). Called on the gossip notification goroutine, in order.
func (n *node) receive(name string, version uint64, payload []byte) {
	if name == VIPsItem {
		n.mu.Lock()
		n.vips = payload
		n.mu.Unlock()
		return
	}
	if strings.HasPrefix(name, "_") {
		return // not a zone: another consumer's item (the VIP table)
	}
	z := new(directory.Zone)
	if err := z.UnmarshalBinary(payload); err != nil {
		// A bad payload keeps the previous version of the zone.
		n.log.Warn("gossiped zone rejected; keeping the previous version", "zone", name, "version", version, "err", err)
		return
	}
	if z.Name != name {
		n.log.Warn("gossiped zone rejected: name mismatch; keeping the previous version", "zone", name, "payload_zone", z.Name)
		return
	}
	z.Version = version
	n.mu.Lock()
	n.received[name] = z
	n.mu.Unlock()
	n.installZone(z)
	n.log.Debug("zone installed", "zone", name, "version", version, "records", len(z.Records))
}

func (n *node) startGossip() (*gossip.Node, error) {
	g := n.o.Gossip
	host, port, err := splitHostPort(g.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip bind %q: %w", g.Bind, err)
	}
	cfg := gossip.Config{
		NodeName: g.NodeName, BindAddr: host, BindPort: port,
		NodeIP: n.o.NodeIP, Key: g.Key, Label: g.Label, Timers: g.Timers,
		Hostname: n.o.Hostname, PublicIPs: *n.publicIPs.Load(),
		Role:            gossip.RoleAgent,
		OnUpdate:        n.onGossip,
		OnMembersChange: n.membersChanged,
		OnLeaderChange: func(leader string, isLeader bool) {
			n.log.Info("gossip leader", "leader", leader, "this_node", isLeader)
			if isLeader {
				select {
				case n.becameLeader <- struct{}{}:
				default:
				}
			}
		},
	}
	if n.o.Role == RoleMaster {
		cfg.Role = gossip.RoleMaster
	}
	if g.Advertise != "" {
		if cfg.AdvertiseAddr, cfg.AdvertisePort, err = splitHostPort(g.Advertise); err != nil {
			return nil, fmt.Errorf("gossip advertise %q: %w", g.Advertise, err)
		}
	}
	if cfg.Timers == (gossip.Timers{}) {
		cfg.Timers = gossip.LANTimers()
	}
	node, err := gossip.New(cfg, n.log, n.reg)
	if err != nil {
		return nil, err
	}
	if len(g.Join) > 0 {
		if k, err := node.Join(g.Join); err != nil {
			// Not fatal: push/pull and the other members' joins repair it.
			n.log.Warn("gossip join", "contacted", k, "err", err)
		}
	}
	return node, nil
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, port, nil
}

// Publisher lets a zone builder (internal/zonepub) publish the cluster
// items this node serves: through gossip while this node leads, or
// straight into its own index when it runs standalone. It implements
// zonepub.Target.
type Publisher struct{ n *node }

// Leading reports whether this node publishes: the gossip leader, or a
// standalone node.
func (p *Publisher) Leading() bool { return p.n.gossip == nil || p.n.gossip.IsLeader() }

// Leadership is signalled when this node starts leading.
func (p *Publisher) Leadership() <-chan struct{} { return p.n.becameLeader }

// Masters is the current master list.
func (p *Publisher) Masters() []netip.Addr { return *p.n.masters.Load() }

// Publish hands an item to the cluster; false when unchanged or failed.
func (p *Publisher) Publish(name string, payload []byte) bool { return p.n.publish(name, payload) }

// publish sends an item when it differs from what the cluster holds.
func (n *node) publish(name string, payload []byte) bool {
	if n.gossip == nil && n.o.Items != nil {
		return n.o.Items.Put(name, payload)
	}
	if n.gossip == nil {
		n.mu.Lock()
		cur := n.received[name]
		n.mu.Unlock()
		if name != VIPsItem && cur != nil {
			if b, err := cur.MarshalBinary(); err == nil && bytes.Equal(b, payload) {
				return false
			}
		}
		n.receive(name, 0, payload)
		return true
	}
	if _, cur, ok := n.gossip.Get(name); ok && bytes.Equal(cur, payload) {
		return false
	}
	v, err := n.gossip.Publish(name, payload)
	if err != nil {
		n.log.Debug("publish", "zone", name, "err", err)
		return false
	}
	n.log.Debug("zone published", "zone", name, "version", v, "bytes", len(payload))
	return true
}
