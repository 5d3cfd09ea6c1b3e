package dcosdns

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/forward"
)

// Destination says where a query goes.
type Destination uint8

// Destinations of the routing table (spec §A.2).
const (
	ToLocal    Destination = iota // the local zones
	ToMesos                       // the masters' Mesos-DNS
	ToZone                        // a forward_zones entry
	ToUpstream                    // the default upstream resolvers
)

func (d Destination) String() string {
	switch d {
	case ToLocal:
		return "local"
	case ToMesos:
		return "mesos"
	case ToZone:
		return "forward_zone"
	}
	return "upstream"
}

// Route is the routing decision for one name.
type Route struct {
	Dest Destination
	// Zone is the matched forward zone (ToZone), "mesos." (ToMesos) or "."
	// (ToUpstream); the metrics' zone label.
	Zone string
}

// Router applies the dcos-dns routing table (spec §A.2) to names.
type Router struct {
	// clusterID is this cluster's crypto id for rule 4 ("" disables it).
	clusterID string
	// zones are the forward_zones names (lower-case FQDNs), longest first.
	zones []string
}

// NewRouter builds a router; forwardZones are zone names (with or without
// a trailing dot).
func NewRouter(clusterID string, forwardZones []string) *Router {
	r := &Router{clusterID: strings.ToLower(clusterID)}
	for _, z := range forwardZones {
		r.zones = append(r.zones, dns.Fqdn(strings.ToLower(z)))
	}
	// GO: longest matching suffix explicitly (dcos-dns used Erlang map
	// order, which happens to prefer the most specific zone for ≤32 zones).
	sort.SliceStable(r.zones, func(i, j int) bool { return dns.CountLabel(r.zones[i]) > dns.CountLabel(r.zones[j]) })
	return r
}

// Route classifies a lower-case FQDN. First match wins. Rules 1–4 are
// aliases of local names: the local index (directory.Index) rewrites them.
func (r *Router) Route(name string) Route {
	var right [5]string
	n, ok := rightLabels(name, &right)
	var labels []string
	if !ok {
		labels = dns.SplitDomainName(name) // nil for "."
		n = len(labels)
	}
	last := func(k int) string { // k-th label from the right, 1-based
		switch {
		case k > n:
			return ""
		case labels != nil:
			return labels[n-k]
		}
		return right[k-1]
	}
	// 1. *.dclb.thisdcos.directory → *.l4lb.thisdcos.directory
	if n >= 4 && last(1) == "directory" && last(2) == "thisdcos" && last(3) == "dclb" {
		return Route{Dest: ToLocal}
	}
	// 2. *.dclb.thisdcos.global → *.l4lb.thisdcos.directory
	// 3. *.<label>.thisdcos.global → *.<label>.thisdcos.directory
	if n >= 4 && last(1) == "global" && last(2) == "thisdcos" {
		return Route{Dest: ToLocal}
	}
	// 4. *.<label>.<cryptoid>.dcos.directory, only for this cluster's id.
	if r.clusterID != "" && n >= 5 && last(1) == "directory" && last(2) == "dcos" && last(3) == r.clusterID {
		return Route{Dest: ToLocal}
	}
	switch {
	case n >= 1 && last(1) == "mesos": // 5
		return Route{Dest: ToMesos, Zone: "mesos."}
	case n >= 1 && last(1) == "localhost", // 6
		n >= 1 && last(1) == "zk",                                 // 7
		n >= 1 && last(1) == "spartan",                            // 8
		n >= 3 && last(1) == "directory" && last(2) == "thisdcos": // 9
		return Route{Dest: ToLocal}
	}
	// 10. forward_zones by longest suffix, else the upstream resolvers.
	for _, z := range r.zones {
		if dns.IsSubDomain(z, name) {
			return Route{Dest: ToZone, Zone: z}
		}
	}
	return Route{Dest: ToUpstream, Zone: "."}
}

// rightLabels puts the (up to) five rightmost labels of name into out,
// rightmost first, and returns the number of labels, without allocating.
// Names with escapes (`\.`) are left to dns.SplitDomainName (ok false).
func rightLabels(name string, out *[5]string) (n int, ok bool) {
	if strings.IndexByte(name, '\\') >= 0 {
		return 0, false
	}
	s := strings.TrimSuffix(name, ".")
	if s == "" {
		return 0, true
	}
	for {
		i := strings.LastIndexByte(s, '.')
		if n < len(out) {
			out[n] = s[i+1:]
		}
		n++
		if i < 0 {
			return n, true
		}
		s = s[:i]
	}
}

// Handler answers DNS queries on a node: local zones from memory, the rest
// through the forwarders. It implements dnsserver.Handler.
type Handler struct {
	router *Router
	served atomic.Pointer[served]
	// prepMu serialises SetIndex, which carries fast replies over.
	prepMu sync.Mutex
	// fastEntries bounds the fast replies kept (fastCacheEntries; tests
	// lower it).
	fastEntries int
	// fwd forwards by route; wrapped by the cache when one is configured.
	fwd forward.Forwarder
	// mesos, zone forwarders and upstream, consulted by forwardRoute.
	mesos forward.Forwarder
	// mesosCache wraps mesos when MesosCache is configured.
	mesosCache *forward.Cache
	byZone     map[string]forward.Forwarder
	upstream   forward.Forwarder
	metrics    *handlerMetrics
}

var _ dnsserver.Handler = (*Handler)(nil)

type handlerMetrics struct {
	queries  *prometheus.CounterVec // queries_total{route}
	byDest   [ToUpstream + 1]prometheus.Counter
	failures *prometheus.CounterVec // forwarder_failures_total is in forward.Metrics; this counts multi-question mismatches
}

// HandlerConfig wires a Handler.
type HandlerConfig struct {
	Router *Router
	// Mesos forwards `.mesos` (nil: SERVFAIL, as dcos-dns did before the
	// master list was known).
	Mesos forward.Forwarder
	// Zones maps forward zone names (lower-case FQDN) to forwarders.
	Zones map[string]forward.Forwarder
	// Upstream forwards everything else (nil: SERVFAIL).
	Upstream forward.Forwarder
	// Cache, when set, caches answers from forward zones and the upstream
	// resolvers (local zones never are, .mesos only with MesosCache).
	Cache *forward.CacheConfig
	// MesosCache, when set, caches positive `.mesos` answers for their
	// TTL (opt-in: dcos-dns never cached them). NXDOMAIN, NODATA and
	// SERVFAIL are never cached, so a new task resolves at once.
	MesosCache *forward.CacheConfig
	// Registry receives the handler and cache metrics (nil: none).
	Registry prometheus.Registerer
	// Namespace prefixes metric names.
	Namespace string
}

// NewHandler builds a Handler with an empty zone set.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	h := &Handler{router: cfg.Router, mesos: cfg.Mesos, byZone: cfg.Zones, upstream: cfg.Upstream, fastEntries: fastCacheEntries}
	if h.router == nil {
		h.router = NewRouter("", nil)
	}
	h.served.Store(&served{ix: directory.NewIndex(directory.Options{}), fast: newFastCache(fastCacheEntries)})
	h.metrics = &handlerMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: cfg.Namespace, Name: "queries_total",
			Help: "DNS queries by routing destination."}, []string{"route"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: cfg.Namespace, Name: "mixed_route_queries_total",
			Help: "Queries with several questions routed to different places (answered locally, as dcos-dns did)."}, nil),
	}
	for d := range h.metrics.byDest {
		h.metrics.byDest[d] = h.metrics.queries.WithLabelValues(Destination(d).String())
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{h.metrics.queries, h.metrics.failures} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	h.fwd = forward.Func(h.forwardRoute)
	if cfg.Cache != nil {
		cc := *cfg.Cache
		if cc.Namespace == "" {
			cc.Namespace = cfg.Namespace
		}
		c, err := forward.NewCache(h.fwd, cc, cfg.Registry)
		if err != nil {
			return nil, err
		}
		h.fwd = c
	}
	if cfg.MesosCache != nil && h.mesos != nil {
		cc := *cfg.MesosCache
		cc.NoNegative = true
		cc.ServfailTTL = -1
		if cc.Name == "" {
			cc.Name = "mesos"
		}
		if cc.Namespace == "" {
			cc.Namespace = cfg.Namespace
		}
		c, err := forward.NewCache(h.mesos, cc, cfg.Registry)
		if err != nil {
			return nil, err
		}
		h.mesosCache = c
	}
	return h, nil
}

// SetIndex swaps the local zones atomically. The fast-path replies built
// for zones that stay installed (by identity) are carried over, when the
// set of zone names is the same (a new or removed zone can change which
// zone answers a name).
func (h *Handler) SetIndex(ix *directory.Index) {
	h.prepMu.Lock()
	defer h.prepMu.Unlock()
	next := &served{ix: ix, zones: ix.Zones(), fast: newFastCache(h.fastEntries)}
	if prev := h.served.Load(); prev != nil && sameNames(prev.zones, next.zones) {
		kept := make(map[*directory.Zone]bool, len(next.zones))
		for _, z := range next.zones {
			kept[z] = true
		}
		prev.fast.each(func(k string, e fastEntry) {
			if e.zone == nil || kept[e.zone] {
				next.fast.put(k, e)
			}
		})
	}
	h.served.Store(next)
}

func sameNames(a, b []*directory.Zone) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// Index returns the local zones.
func (h *Handler) Index() *directory.Index { return h.served.Load().ix }

// ServeDNS implements dnsserver.Handler.
func (h *Handler) ServeDNS(ctx context.Context, req *dnsserver.Request) *dns.Msg {
	if req.Err != nil || req.Msg == nil {
		return dnsserver.FormErr(req.Raw)
	}
	return h.answer(ctx, req.Msg, req.Raw, req.Network.String())
}

// Answer resolves one query message received over network ("udp"/"tcp").
func (h *Handler) Answer(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	return h.answer(ctx, req, nil, network)
}

// answer resolves a query; raw, when not nil, is req as received, which
// `.mesos` forwarding relays as it is (dcos-dns sent the client's bytes).
func (h *Handler) answer(ctx context.Context, req *dns.Msg, raw []byte, network string) *dns.Msg {
	if len(req.Question) == 0 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	qname := strings.ToLower(dns.Fqdn(req.Question[0].Name))
	rt := h.router.Route(qname)
	if len(req.Question) > 1 {
		for _, q := range req.Question[1:] {
			if h.router.Route(strings.ToLower(dns.Fqdn(q.Name))) != rt {
				// dcos-dns answered such a query from zone "." and counted
				// a forwarder failure.
				h.metrics.failures.WithLabelValues().Inc()
				rt = Route{Dest: ToLocal}
				break
			}
		}
	}
	h.metrics.byDest[rt.Dest].Inc()
	if rt.Dest == ToLocal {
		m := h.served.Load().ix.Reply(req)
		fitReply(req, m, network)
		return m
	}
	var m *dns.Msg
	if rt.Dest == ToMesos && h.mesosCache != nil {
		m, _ = h.mesosCache.Forward(ctx, req, network)
	} else if rt.Dest == ToMesos && h.mesos != nil {
		// .mesos answers are not cached: Mesos-DNS is in the cluster and
		// answers in well under a millisecond, and its NXDOMAIN carries a
		// 60 s SOA minimum, so caching it would hide a new task for a
		// minute (what made new tasks slow to resolve behind erldns'
		// cache, dcos/dcos-net#64).
		if rf, ok := h.mesos.(forward.RawForwarder); ok {
			m, _ = rf.ForwardRaw(ctx, req, raw, network)
		} else {
			m, _ = h.mesos.Forward(ctx, req, network)
		}
	} else {
		m, _ = h.fwd.Forward(ctx, req, network)
	}
	if m == nil {
		m = forward.Reply(req, dns.RcodeServerFailure)
	}
	if !strings.HasPrefix(network, "tcp") {
		// A cached TCP answer may be larger than this UDP client takes.
		limit := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && opt.UDPSize() > dns.MinMsgSize {
			limit = int(opt.UDPSize())
		}
		if m.Len() > limit {
			m.Truncate(limit)
		}
	}
	return m
}

// forwardRoute sends a query to the forwarder of its route.
func (h *Handler) forwardRoute(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	rt := h.router.Route(strings.ToLower(dns.Fqdn(req.Question[0].Name)))
	var f forward.Forwarder
	switch rt.Dest {
	case ToMesos:
		f = h.mesos
	case ToZone:
		f = h.byZone[rt.Zone]
	default:
		f = h.upstream
	}
	if f == nil {
		return forward.Reply(req, dns.RcodeServerFailure), forward.ErrNoUpstreams
	}
	return f.Forward(ctx, req, network)
}
