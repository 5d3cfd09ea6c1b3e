package userspace

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

	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// Defaults of Options.
const (
	DefaultDialTimeout  = 3 * time.Second
	DefaultDialAttempts = 2
	// DefaultUDPIdleTimeout ends a UDP flow after this long without a
	// datagram either way. IPVS keeps UDP entries 300 s; a userspace flow
	// holds a socket and a goroutine, so it goes sooner.
	DefaultUDPIdleTimeout = 60 * time.Second
	DefaultUDPMaxFlows    = 10000
	// DefaultLink is where VIP addresses are added with Options.Links.
	DefaultLink = "lo"
)

// Options configure a Plane.
type Options struct {
	// Map says where to listen for each VIP address; nil listens on the
	// VIP address itself (see AddrMap, LoopbackMap).
	Map AddrMap
	// Links, when set, adds each VIP address the plane listens on (as a
	// /32 or /128) to Link before listening, and removes the addresses it
	// added once no service uses them, so the VIP is a local address.
	// This needs CAP_NET_ADMIN: inside a network namespace, or on a node
	// as root. Addresses present already are used and left alone.
	Links link.Links
	// Link is the link VIP addresses go on (default DefaultLink, "lo").
	Link string
	// DialTimeout bounds a connect to a backend (default 3 s).
	DialTimeout time.Duration
	// DialAttempts is how many backends a new TCP connection tries
	// before it is reset (default 2: a failed connect is retried once on
	// another backend, before the client sends anything).
	DialAttempts int
	// UDPIdleTimeout ends idle UDP flows (default 60 s).
	UDPIdleTimeout time.Duration
	// UDPMaxFlows bounds the flows of one UDP service; datagrams of new
	// flows beyond it are dropped and counted as refused (default 10000).
	UDPMaxFlows int
	Logger      *slog.Logger
}

// Plane is the userspace data plane: a TCP and UDP proxy per service.
// It is safe for concurrent use.
type Plane struct {
	o      Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Close: ends dials and flows
	cancel context.CancelFunc
	dialer net.Dialer

	mu       sync.Mutex // guards the fields below; held by Sync and Close
	services map[balance.Key]*service
	addrUse  map[netip.Addr]int  // services listening on each address
	added    map[netip.Addr]bool // addresses this plane added to the link
	closed   bool

	list atomic.Pointer[[]*service] // the services, sorted, for Stats

	connMu  sync.Mutex // guards conns and closing
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup // every goroutine the plane started
}

// New returns a plane serving nothing yet.
func New(o Options) (*Plane, error) {
	if err := o.Map.Validate(); err != nil {
		return nil, err
	}
	if o.Link == "" {
		o.Link = DefaultLink
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.DialAttempts <= 0 {
		o.DialAttempts = DefaultDialAttempts
	}
	if o.UDPIdleTimeout <= 0 {
		o.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if o.UDPMaxFlows <= 0 {
		o.UDPMaxFlows = DefaultUDPMaxFlows
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Plane{o: o, log: log, ctx: ctx, cancel: cancel, dialer: net.Dialer{Timeout: o.DialTimeout, KeepAliveConfig: keepAlive},
		services: map[balance.Key]*service{}, addrUse: map[netip.Addr]int{}, added: map[netip.Addr]bool{},
		conns: map[net.Conn]struct{}{}}
	p.list.Store(&[]*service{})
	return p, nil
}

// ListenAddr returns the address a client reaches a VIP at: the VIP
// itself, or its mapped loopback address.
func (p *Plane) ListenAddr(vip netip.AddrPort) (netip.AddrPort, bool) {
	a, ok := p.o.Map.Local(vip.Addr())
	return netip.AddrPortFrom(a, vip.Port()), ok
}

// service is one served VIP address and port.
type service struct {
	key    balance.Key
	listen netip.AddrPort
	cur    atomic.Pointer[backendSet]
	// refused counts new flows not forwarded (no backend, flow limit).
	refused atomic.Uint64
	stop    func() // closes the listening socket (and UDP flows)
}

// backendSet is one generation of a service's backends: immutable but for
// the counters, which carry over between generations per backend.
type backendSet struct {
	svc      balance.Service
	picker   *balance.Picker
	counters map[netip.AddrPort]*counters
}

type counters struct {
	conns, active, failures, toBackend, fromBackend atomic.Uint64
}

func (s *service) update(svc balance.Service) {
	old := s.cur.Load()
	if old != nil && old.svc.Equal(&svc) {
		return
	}
	set := &backendSet{svc: svc, picker: balance.NewPicker(svc), counters: make(map[netip.AddrPort]*counters, len(svc.Backends))}
	for _, b := range svc.Backends {
		c := (*counters)(nil)
		if old != nil {
			c = old.counters[b.Addr]
		}
		if c == nil {
			c = &counters{}
		}
		set.counters[b.Addr] = c
	}
	s.cur.Store(set)
}

// counter returns the counters of a backend of the set.
func (b *backendSet) counter(a netip.AddrPort) *counters { return b.counters[a] }

// Sync serves exactly svcs. Services that stay keep their listeners and
// connections; only their backend sets are swapped, atomically for new
// flows. A removed service's listener closes at once: its open TCP
// connections finish on their own, its UDP flows end (their replies left
// through the listening socket). A backend that leaves a service keeps
// its open connections and flows too, as a drained one does: the plane
// never cuts a connection the cluster still may serve (a backend on an
// agent reported unreachable may well be alive); a backend that is really
// gone fails them itself. Services that cannot be served (no address
// mapping, a failed listen or address add) are reported in the error and
// retried by the next Sync.
func (p *Plane) Sync(ctx context.Context, svcs []balance.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("userspace plane: %w", net.ErrClosed)
	}
	want := make(map[balance.Key]balance.Service, len(svcs))
	for _, s := range svcs {
		want[s.Key] = s
	}
	for k, s := range p.services {
		if _, ok := want[k]; !ok {
			s.stop()
			delete(p.services, k)
			p.addrUse[s.listen.Addr()]--
		}
	}
	var errs []error
	for _, svc := range svcs {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if s := p.services[svc.Key]; s != nil {
			s.update(svc)
			continue
		}
		s, err := p.startLocked(svc)
		if err != nil {
			errs = append(errs, fmt.Errorf("serve %s: %w", svc.Key, err))
			continue
		}
		p.services[svc.Key] = s
	}
	p.releaseAddrsLocked()
	list := make([]*service, 0, len(p.services))
	for _, s := range p.services {
		list = append(list, s)
	}
	slices.SortFunc(list, func(a, b *service) int { return balance.CompareKeys(a.key, b.key) })
	p.list.Store(&list)
	return errors.Join(errs...)
}

// startLocked listens for a new service.
func (p *Plane) startLocked(svc balance.Service) (*service, error) {
	local, ok := p.o.Map.Local(svc.Addr.Addr())
	if !ok {
		return nil, fmt.Errorf("no local address mapped for VIP %s", svc.Addr.Addr())
	}
	s := &service{key: svc.Key, listen: netip.AddrPortFrom(local, svc.Addr.Port())}
	s.update(svc)
	if err := p.useAddrLocked(local); err != nil {
		return nil, err
	}
	var err error
	switch svc.Protocol {
	case balance.TCP:
		err = p.startTCP(s)
	case balance.UDP:
		err = p.startUDP(s)
	default:
		err = fmt.Errorf("protocol %v is not served", svc.Protocol)
	}
	if err != nil {
		p.addrUse[local]--
		return nil, err
	}
	return s, nil
}

// useAddrLocked counts a use of a listening address and, with Links,
// makes it a local address first.
func (p *Plane) useAddrLocked(a netip.Addr) error {
	if p.o.Links != nil && p.addrUse[a] == 0 && !p.added[a] {
		err := p.o.Links.AddAddr(p.o.Link, netip.PrefixFrom(a, a.BitLen()))
		switch {
		case err == nil:
			p.added[a] = true
			if err := waitRoutable(a); err != nil {
				p.addrUse[a] = 0 // known, unused: releaseAddrsLocked removes it
				return err
			}
		case errors.Is(err, link.ErrExists):
		default:
			return fmt.Errorf("add %s to %s: %w", a, p.o.Link, err)
		}
	}
	p.addrUse[a]++
	return nil
}

// waitRoutable waits until the kernel routes to a just-added address.
// An IPv6 address is bindable at once but its local route is installed
// by the kernel's address work queue a moment later; until then a client
// gets "network is unreachable". The probe is a UDP connect(2), a route
// lookup that sends nothing; the route is the local one when the source
// it picks is the address itself (a route off the machine would pick
// the host's own address). Loopback addresses are local already.
func waitRoutable(a netip.Addr) error {
	if a.IsLoopback() {
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 9)))
		if err == nil {
			local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
			c.Close()
			if local == a {
				return nil
			}
			err = fmt.Errorf("routed from %s, not locally", local)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("address %s is not routable 2 s after it was added: %w", a, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// releaseAddrsLocked removes the addresses this plane added that no
// service listens on any more.
func (p *Plane) releaseAddrsLocked() {
	for a, n := range p.addrUse {
		if n > 0 {
			continue
		}
		delete(p.addrUse, a)
		if p.added[a] {
			if err := p.o.Links.DelAddr(p.o.Link, netip.PrefixFrom(a, a.BitLen())); err != nil {
				p.log.Warn("remove VIP address", "addr", a, "link", p.o.Link, "err", err)
				continue
			}
			delete(p.added, a)
		}
	}
}

// Close stops every service, closes every connection and flow, removes
// the addresses the plane added and waits for its goroutines.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for k, s := range p.services {
		s.stop()
		delete(p.services, k)
		p.addrUse[s.listen.Addr()]--
	}
	p.releaseAddrsLocked()
	p.list.Store(&[]*service{})
	p.mu.Unlock()

	p.cancel()
	p.connMu.Lock()
	p.closing = true
	for c := range p.conns {
		c.Close()
	}
	p.connMu.Unlock()
	p.wg.Wait()
	return nil
}

// track registers open connections so that Close can end them; false
// when the plane is closing (the caller closes them).
func (p *Plane) track(cs ...net.Conn) bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.closing {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Plane) untrack(cs ...net.Conn) {
	p.connMu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.connMu.Unlock()
}

// Stats returns the counters of the services served now, sorted by key;
// backends in each service's order.
func (p *Plane) Stats() []balance.ServiceStats {
	list := *p.list.Load()
	out := make([]balance.ServiceStats, 0, len(list))
	for _, s := range list {
		set := s.cur.Load()
		st := balance.ServiceStats{Key: s.key, Refused: s.refused.Load(), Backends: make([]balance.BackendStats, 0, len(set.svc.Backends))}
		for _, b := range set.svc.Backends {
			c := set.counters[b.Addr]
			st.Backends = append(st.Backends, balance.BackendStats{Addr: b.Addr, Connections: c.conns.Load(), Active: c.active.Load(),
				Failures: c.failures.Load(), BytesToBackend: c.toBackend.Load(), BytesFromBackend: c.fromBackend.Load()})
		}
		out = append(out, st)
	}
	return out
}
