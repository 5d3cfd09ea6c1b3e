package nft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// DefaultVIPRanges are the named-VIP ranges of dcos-l4lb (spec §B.3):
// 11.0.0.0/8 and fd01:c::/64. Both are public or reserved address space
// that must never leave the node.
var DefaultVIPRanges = []netip.Prefix{netip.MustParsePrefix("11.0.0.0/8"), netip.MustParsePrefix("fd01:c::/64")}

// DefaultFullResyncInterval is how often Sync rewrites the whole table
// even when nothing looks wrong.
const DefaultFullResyncInterval = 5 * time.Minute

// Options configure a Plane.
type Options struct {
	Logger *slog.Logger
	// Registerer receives sextant_l4lb_nft_syncs_total{kind} (full,
	// partial, unchanged) and sextant_l4lb_nft_drift_repairs_total; nil
	// registers none.
	Registerer prometheus.Registerer
	// VIPRanges are refused when no VIP holds an address and routed to
	// this node; nil means DefaultVIPRanges, an empty non-nil slice none.
	VIPRanges []netip.Prefix
	// FullResyncInterval: a Sync after this long since the last full
	// one rewrites the table (0: DefaultFullResyncInterval).
	FullResyncInterval time.Duration
	// NetNS is a file descriptor of the network namespace to program;
	// 0 means the calling thread's.
	NetNS int
}

// Plane is the nftables data plane: an l4lb.Dataplane and
// l4lb.StatsReporter.
type Plane struct {
	o        Options
	log      *slog.Logger
	conn     *nftables.Conn
	connOpts []nftables.ConnOption
	stconn   *nftables.Conn
	k        *kernel
	rt       *routes
	ranges   []netip.Prefix

	mu       sync.Mutex
	closed   bool
	last     []balance.Service // input of the last successful sync
	lastFull time.Time
	cache    slotCache

	// smu guards what Stats reads, so that Stats never waits for a Sync.
	smu      sync.Mutex
	services []balance.Service // what Stats reports
	base     map[string]nftables.CounterObj
	rendered *Ruleset

	syncs  *prometheus.CounterVec
	drifts prometheus.Counter
}

// New creates the plane's table (with nothing to serve yet: every VIP
// range address is refused) and then the routes of the VIP ranges.
func New(o Options) (*Plane, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FullResyncInterval <= 0 {
		o.FullResyncInterval = DefaultFullResyncInterval
	}
	ranges := o.VIPRanges
	if ranges == nil {
		ranges = DefaultVIPRanges
	}
	for _, r := range ranges {
		if !r.IsValid() {
			return nil, fmt.Errorf("VIP range %v is not a prefix", r)
		}
	}
	// A Maglev service's slot map is 65537 elements: several MB in
	// one transaction, more than the default socket buffer takes.
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}
	if o.NetNS > 0 {
		opts = append(opts, nftables.WithNetNSFd(o.NetNS))
	}
	conn, err := nftables.New(append(slices.Clone(opts), nftables.AsLasting())...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	stconn, err := nftables.New(opts...)
	if err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("nftables: %w", err)
	}
	p := &Plane{o: o, log: o.Logger, conn: conn, connOpts: opts, stconn: stconn, k: newKernel(conn), ranges: slices.Clone(ranges),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_l4lb_nft_syncs_total",
			Help: "Syncs of the nftables plane, by kind: full (table rewritten), partial (changed elements), unchanged."}, []string{"kind"}),
		drifts: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_l4lb_nft_drift_repairs_total",
			Help: "Full syncs made because the table no longer held what the plane had applied."}),
	}
	if err := p.k.full(Render(nil, p.ranges)); err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("create table %s: %w", TableName, err)
	}
	p.lastFull = time.Now()
	rt, err := openRoutes(o.NetNS)
	if err == nil {
		p.rt = rt
		err = rt.sync(p.routesFor(nil))
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(p.syncs); err != nil {
			p.Close()
			return nil, err
		}
		if err := o.Registerer.Register(p.drifts); err != nil {
			o.Registerer.Unregister(p.syncs)
			p.Close()
			return nil, err
		}
	}
	p.log.Info("nftables l4lb plane started", "table", "inet "+TableName, "vip_ranges", fmt.Sprint(p.ranges))
	return p, nil
}

func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 64<<20); serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 64<<20)
		}
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	})
	return errors.Join(err, serr)
}

// routesFor returns the local routes services need: the VIP ranges, and
// every VIP address outside them.
func (p *Plane) routesFor(services []balance.Service) map[netip.Prefix]bool {
	want := map[netip.Prefix]bool{}
	for _, r := range p.ranges {
		want[r.Masked()] = true
	}
	for _, s := range services {
		a := s.Addr.Addr()
		if !slices.ContainsFunc(p.ranges, func(r netip.Prefix) bool { return r.Contains(a) }) {
			want[netip.PrefixFrom(a, a.BitLen())] = true
		}
	}
	return want
}

// resetConn replaces the netlink socket after a failed transaction,
// whose unread answers would otherwise confuse the next request.
func (p *Plane) resetConn() {
	conn, err := nftables.New(append(p.connOpts, nftables.AsLasting())...)
	if err != nil {
		p.log.Warn("nftables: cannot reopen the netlink socket", "err", err)
		return
	}
	_ = p.conn.CloseLasting()
	p.conn, p.k.conn = conn, conn
}

// valid drops services the plane cannot serve and says why.
func valid(in []balance.Service) ([]balance.Service, error) {
	var out []balance.Service
	var errs []error
	for _, s := range in {
		switch {
		case s.Protocol != balance.TCP && s.Protocol != balance.UDP:
			errs = append(errs, fmt.Errorf("service %s: protocol %s not served", s.Key, s.Protocol))
		case !s.Addr.Addr().IsValid() || s.Addr.Port() == 0 || s.Addr.Addr().Zone() != "":
			errs = append(errs, fmt.Errorf("service %s: address is not a VIP address and port", s.Key))
		default:
			s.Addr = netip.AddrPortFrom(s.Addr.Addr().Unmap(), s.Addr.Port())
			bs := s.Backends[:0:0]
			for _, b := range s.Backends {
				a := b.Addr.Addr().Unmap()
				if !a.IsValid() || b.Addr.Port() == 0 || a.Zone() != "" {
					errs = append(errs, fmt.Errorf("service %s: backend %s is not an address and port", s.Key, b.Addr))
					continue
				}
				bs = append(bs, balance.Backend{Addr: netip.AddrPortFrom(a, b.Addr.Port()), Weight: b.Weight})
			}
			s.Backends = bs
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

func equalServices(a, b []balance.Service) bool {
	return slices.EqualFunc(a, b, func(x, y balance.Service) bool { return x.Equal(&y) })
}

// Sync makes the table serve services: one transaction with the changed
// elements, or the whole table at the first sync, after a failure, when
// another program changed the table, and every FullResyncInterval. An
// unchanged set of services costs a few netlink dumps (the drift check).
func (p *Plane) Sync(ctx context.Context, services []balance.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("nft plane closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	good, verr := valid(services)
	kind := "partial"
	full := p.k.applied == nil || time.Since(p.lastFull) > p.o.FullResyncInterval
	if !full && equalServices(good, p.last) {
		drift, err := p.k.drifted()
		if err != nil || drift {
			p.log.Warn("nftables table changed by someone else: rewriting it", "table", TableName, "err", err)
			p.drifts.Inc()
			full = true
		} else {
			p.syncs.WithLabelValues("unchanged").Inc()
			// Routes someone removed come back (one rtnetlink dump).
			return errors.Join(verr, p.rt.sync(p.routesFor(good)))
		}
	}
	// The cache keeps the slot maps of services that are still served
	// unchanged; the others' are rebuilt.
	next := slotCache{}
	for _, sv := range good {
		if c, ok := p.cache[sv.Key]; ok {
			next[sv.Key] = c
		}
	}
	p.cache = next
	want := render(good, p.ranges, p.cache)
	routes := p.routesFor(good)
	// Routes of VIPs that go leave first; new ones come once the table
	// serves them (dcos-net#130's order).
	keep := map[netip.Prefix]bool{}
	for pr := range p.rt.have {
		if routes[pr] {
			keep[pr] = true
		}
	}
	rerr := p.rt.sync(keep)
	var err, perr error
	if !full {
		if _, perr = p.k.partial(want); perr != nil {
			p.log.Warn("partial nftables sync failed: rewriting the table", "err", perr)
			full = true
			p.resetConn()
		}
	}
	if full {
		kind = "full"
		if err = p.k.full(want); err == nil {
			p.lastFull = time.Now()
		} else {
			p.resetConn()
		}
	}
	if err != nil {
		err = errors.Join(perr, err)
		p.last = nil
		return errors.Join(err, verr, rerr)
	}
	p.syncs.WithLabelValues(kind).Inc()
	p.last = good
	p.smu.Lock()
	p.services = good
	p.rendered = want
	p.base = maps.Clone(p.k.base)
	p.smu.Unlock()
	return errors.Join(verr, rerr, p.rt.sync(routes))
}

// Stats reads the table's counters: per service the refused new flows,
// per backend the flows DNATed to it (Connections) and the bytes of the
// packets each way, IP headers included. Active is not counted (it would
// need a conntrack dump).
func (p *Plane) Stats() []balance.ServiceStats {
	p.smu.Lock()
	defer p.smu.Unlock()
	if len(p.services) == 0 {
		return nil
	}
	objs, err := p.stconn.GetObjects(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	if err != nil {
		return nil
	}
	cnt := map[string]nftables.CounterObj{}
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			cnt[c.Name] = *c
		}
	}
	base, rs := p.base, p.rendered
	get := func(n string) nftables.CounterObj {
		c, b := cnt[n], base[n]
		return nftables.CounterObj{Packets: c.Packets + b.Packets, Bytes: c.Bytes + b.Bytes}
	}
	out := make([]balance.ServiceStats, 0, len(p.services))
	for _, s := range p.services {
		st := balance.ServiceStats{Key: s.Key, Refused: get(refuseName(s.Key)).Packets}
		for _, b := range s.Backends {
			if b.Addr.Addr().Is6() != s.Addr.Addr().Is6() {
				continue
			}
			be, bt, bf := rs.counterNames(s.Key, b.Addr)
			st.Backends = append(st.Backends, balance.BackendStats{
				Addr:             b.Addr,
				Connections:      get(be).Packets,
				BytesToBackend:   get(bt).Bytes,
				BytesFromBackend: get(bf).Bytes,
			})
		}
		out = append(out, st)
	}
	return out
}

// Close removes the routes and then the table. Open connections keep
// their conntrack entries but nothing forwards new ones.
func (p *Plane) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.rt != nil {
		errs = append(errs, p.rt.close())
	}
	errs = append(errs, p.k.remove())
	errs = append(errs, p.conn.CloseLasting())
	if p.o.Registerer != nil {
		p.o.Registerer.Unregister(p.syncs)
		p.o.Registerer.Unregister(p.drifts)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.log.Info("nftables l4lb plane stopped", "table", "inet "+TableName)
	return nil
}
