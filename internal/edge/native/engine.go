package native

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/httpfast"
)

// Options configure the native engine. The zero value serves nothing
// but the service ports: HTTPAddr, HTTPSAddr and AppIDAddr say where
// marathon-lb's :80, :443 and :9091 frontends listen ("" leaves one
// out; marathon-lb binds ":80", ":443" and ":9091").
type Options struct {
	HTTPAddr, HTTPSAddr, AppIDAddr string
	// ServiceAddr is where a service-port frontend listens, from its
	// HAPROXY_{n}_BIND_ADDR ("*" for all addresses) and port; nil is
	// bind:port (":port" for "*").
	ServiceAddr func(bind string, port int64) string
	// Timeouts, marathon-lb's defaults when zero: connect 3 s, client
	// and server 30 s (inactivity), http-keep-alive 1 s, http-request
	// 15 s.
	ConnectTimeout, ClientTimeout, ServerTimeout time.Duration
	KeepAliveTimeout, RequestTimeout             time.Duration
	// Retries is how many more servers a request tries when a
	// connection cannot be made (marathon-lb's retries 3 and
	// redispatch).
	Retries int
	// PassiveDown is how long a server that refused a connection or
	// failed mid-request is passed over (2 s when zero).
	PassiveDown time.Duration
	// MaxIdlePerServer bounds the idle keep-alive connections kept to
	// one server (256 when zero).
	MaxIdlePerServer int
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, 3*time.Second)
	def(&o.ClientTimeout, 30*time.Second)
	def(&o.ServerTimeout, 30*time.Second)
	def(&o.KeepAliveTimeout, time.Second)
	def(&o.RequestTimeout, 15*time.Second)
	def(&o.PassiveDown, 2*time.Second)
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.MaxIdlePerServer == 0 {
		o.MaxIdlePerServer = 256
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Engine is the native edge engine: Go listeners serving the typed
// configuration, swapped atomically.
type Engine struct {
	o   Options
	log *slog.Logger
	m   *metrics
	cur atomic.Pointer[table]

	mu        sync.Mutex       // serialises Apply, Reload and Close
	gen       *edge.Generation // served, with the engine's own problems
	given     *edge.Generation // as applied
	listeners map[string]*listener
	states    map[string]*serverState
	counters  map[string]*counters
	certs     *certCache
	closed    bool
	bufs      sync.Pool
}

var _ edge.Engine = (*Engine)(nil)

// New returns an engine that serves nothing until the first Apply.
func New(o Options) *Engine {
	o.defaults()
	e := &Engine{o: o, log: o.Logger, m: newMetrics(o.Registerer), listeners: map[string]*listener{},
		states: map[string]*serverState{}, counters: map[string]*counters{}}
	e.certs = newCertCache(e.log)
	e.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	e.cur.Store(&table{byAddr: map[string]*frontend{}, backends: map[string]*backend{}})
	return e
}

// Apply compiles g, opens the listeners it adds, swaps it in and closes
// the listeners it drops. Connections and requests in flight keep the
// configuration they started with. A service whose port cannot be bound
// is left out and listed in Current().Config.Problems; a shared frontend
// (:80, :443, :9091) that cannot be bound fails the whole generation.
func (e *Engine) Apply(ctx context.Context, g *edge.Generation) error {
	if g == nil || g.Config == nil {
		return errors.New("native engine: empty generation")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("native engine: closed")
	}
	if e.given != nil && same(e.given, g) {
		return nil
	}
	return e.apply(ctx, g)
}

func same(a, b *edge.Generation) bool {
	if a.HAProxyCfg == "" || b.HAProxyCfg == "" {
		return false // no text to compare: apply again, it is idempotent
	}
	return a.HAProxyCfg == b.HAProxyCfg && a.DomainMap == b.DomainMap && a.AppMap == b.AppMap
}

func (e *Engine) apply(_ context.Context, g *edge.Generation) error {
	start := time.Now()
	t, err := e.compile(g.Config)
	if err != nil {
		e.m.failed.Inc()
		return fmt.Errorf("native engine: %w", err)
	}
	var problems []edge.Problem
	opened := map[string]*listener{}
	for _, addr := range t.addrs {
		if _, ok := e.listeners[addr]; ok {
			continue
		}
		l, err := e.listen(addr)
		if err == nil {
			opened[addr] = l
			continue
		}
		fe := t.byAddr[addr]
		if fe.backend == nil { // a shared frontend
			for _, l := range opened {
				l.close(0)
			}
			e.m.failed.Inc()
			return fmt.Errorf("native engine: frontend %s: %w", fe.name, err)
		}
		problems = append(problems, edge.Problem{App: fe.backend.appID, Index: fe.backend.index,
			Reason: "native engine cannot listen on " + addr + ": " + err.Error()})
		delete(t.byAddr, addr)
	}
	for addr, l := range opened {
		e.listeners[addr] = l
	}
	t.addrs = slices.DeleteFunc(t.addrs, func(a string) bool { _, ok := t.byAddr[a]; return !ok })
	e.cur.Store(t)
	for addr, l := range e.listeners {
		if _, ok := t.byAddr[addr]; !ok {
			delete(e.listeners, addr)
			go l.close(e.o.ClientTimeout)
		}
	}
	e.retire(t)
	for _, w := range t.warnings {
		e.log.Warn("native engine: configuration read partly", "warning", w)
	}
	gen := *g
	if len(problems) > 0 {
		c := *g.Config
		c.Problems = append(slices.Clone(c.Problems), problems...)
		gen.Config = &c
	}
	e.gen, e.given = &gen, g
	e.m.applies.Inc()
	e.m.applySeconds.Observe(time.Since(start).Seconds())
	e.m.listeners.Set(float64(len(e.listeners)))
	e.log.Info("native engine: configuration applied", "services", len(g.Config.Services),
		"listeners", len(e.listeners), "took", time.Since(start))
	return nil
}

// retire stops the health checks and idle connections of servers the
// new table no longer has, and forgets the counters of what left.
func (e *Engine) retire(t *table) {
	live := map[*serverState]bool{}
	counted := map[*counters]bool{}
	for _, be := range t.backends {
		counted[be.stats] = true
		for _, s := range be.servers {
			live[s.st] = true
			counted[s.st.stats] = true
		}
	}
	for _, fe := range t.byAddr {
		counted[fe.stats] = true
	}
	for k, c := range e.counters {
		if !counted[c] {
			delete(e.counters, k)
		}
	}
	for k, st := range e.states {
		if !live[st] {
			delete(e.states, k)
			st.retire()
		}
	}
	for _, be := range t.backends {
		for _, s := range be.servers {
			s.st.startCheck(e, s.check)
		}
	}
}

// Reload reads the certificate files again and re-applies the running
// generation.
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen == nil {
		return errors.New("native engine: nothing applied yet")
	}
	e.certs.reset()
	return e.apply(ctx, e.given)
}

// Current is the running generation.
func (e *Engine) Current() *edge.Generation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gen
}

// Pids is this process: the native engine has no other.
func (e *Engine) Pids() []int { return []int{os.Getpid()} }

// Close stops every listener, waiting a moment for requests in flight.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var wg sync.WaitGroup
	for _, l := range e.listeners {
		wg.Go(func() { l.close(2 * time.Second) })
	}
	wg.Wait()
	e.listeners = map[string]*listener{}
	for _, st := range e.states {
		st.retire()
	}
	e.states = map[string]*serverState{}
	e.cur.Store(&table{byAddr: map[string]*frontend{}, backends: map[string]*backend{}})
	return nil
}

// Addr is the address a frontend listens on (for ":0" binds), "" when
// none does.
func (e *Engine) Addr(addr string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.listeners[addr]; ok {
		return l.ln.Addr().String()
	}
	return ""
}

// listener is one listening socket, kept across configurations while
// some frontend binds its address. Its connections are served by the
// frontend of the table current when they are accepted (tcp, or http by
// the engine's HTTP/1.1 server, server.go).
type listener struct {
	e       *Engine
	addr    string
	ln      net.Listener
	h       *handler
	srv     *httpfast.Server
	done    chan struct{}
	once    sync.Once
	closing atomic.Bool

	mu     sync.Mutex
	conns  map[*httpfast.Conn]struct{}
	active atomic.Int64
}

func (e *Engine) listen(addr string) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{e: e, addr: addr, ln: ln, h: &handler{e: e, addr: addr}, done: make(chan struct{}),
		conns: map[*httpfast.Conn]struct{}{}}
	l.srv = l.newServer()
	go l.accept()
	return l, nil
}

// accept serves the listener's connections with the frontend bound
// at its address when each arrives.
func (l *listener) accept() {
	defer close(l.done)
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closing.Load() {
				return
			}
			// Out of descriptors and the like: wait a little, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.e.log.Warn("native engine: accept", "addr", l.addr, "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		fe := l.e.cur.Load().byAddr[l.addr]
		if fe == nil {
			c.Close() // the frontend left; the listener closes soon
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		st := fe.stats
		st.open()
		cc := &countedConn{Conn: c, c: st}
		switch {
		case fe.mode == "tcp":
			go l.e.serveTCP(cc, fe)
		case fe.certs != nil:
			go l.srv.ServeConn(tls.Server(cc, fe.certs.config()))
		default:
			go l.srv.ServeConn(cc)
		}
	}
}

// close stops accepting, ends idle connections at once and waits up to
// grace for the requests in flight; what is left is then cut.
func (l *listener) close(grace time.Duration) {
	l.once.Do(func() {
		l.closing.Store(true)
		_ = l.ln.Close()
		<-l.done
		deadline := time.Now().Add(grace)
		for l.active.Load() > 0 && time.Now().Before(deadline) {
			l.closeIdle(false)
			time.Sleep(10 * time.Millisecond)
		}
		l.closeIdle(true)
	})
}

// countedConn counts a frontend session until it closes.
type countedConn struct {
	net.Conn
	c    *counters
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.c.close)
	return c.Conn.Close()
}

func (e *Engine) frontendStats(name string) *counters { return e.counter("fe/" + name) }

func (e *Engine) counter(key string) *counters {
	c, ok := e.counters[key]
	if !ok {
		c = &counters{}
		e.counters[key] = c
	}
	return c
}
