package native

import (
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
)

// backend is one service's backend.
type backend struct {
	name  string
	appID string
	index int
	mode  string
	algo  string
	hash  hashKind
	hdr   string // the header hdr(name) hashes
	// servers in the configuration's order (sorted by host, port).
	servers []*server
	rr      atomic.Uint64

	http      bool // the http options: forwardfor, X-Forwarded-*
	hsts      bool
	sticky    bool
	proxyHost string
	proxyPath string
	hasProxy  bool
	revHost   string
	revRoot   string
	hasRev    bool
	redirHost string
	redirPath string
	hasRedir  bool
	allowed   []netip.Prefix
	hasACL    bool
	stats     *counters
}

// server is one server line; st is its state, kept across
// configurations for the same backend, name and address.
type server struct {
	name     string
	id       int
	addr     string
	cookie   string
	draining bool
	check    *checkSpec
	st       *serverState
}

type checkSpec struct {
	http     bool
	path     string
	port     int
	inter    time.Duration
	timeout  time.Duration
	fall     int
	rise     int
	hostAddr string // ip:port the check connects to
}

func (e *Engine) compileBackend(s *edge.Service) (*backend, []string) {
	be := &backend{name: s.Name, appID: s.AppID, index: s.Index, mode: s.Mode, sticky: s.Sticky,
		stats: e.counter("be/" + s.Name)}
	var warnings []string
	be.algo, be.hash, be.hdr = balancer(s.Balance)
	if be.algo != strings.ToLower(strings.Fields(s.Balance + " x")[0]) {
		warnings = append(warnings, s.Name+": balance "+strconv.Quote(s.Balance)+" is served as "+be.algo)
	}
	if s.Mode == "http" {
		be.http = true
		be.hsts = s.UseHSTS
		host := "None"
		if len(s.Vhosts) > 0 {
			host = strings.Join(s.Vhosts, ",")
		}
		if s.ProxyPass != "" {
			be.hasProxy, be.proxyHost, be.proxyPath = true, host, s.ProxyPass
		}
		if s.RevProxy != "" {
			be.hasRev, be.revHost, be.revRoot = true, host, s.RevProxy
		}
		if s.Redirect != "" {
			be.hasRedir, be.redirHost, be.redirPath = true, strings.ToLower(host), s.Redirect
		}
	}
	if len(s.NetworkAllowed) > 0 {
		be.hasACL = true
		for _, n := range s.NetworkAllowed {
			if p, err := netip.ParsePrefix(n); err == nil {
				be.allowed = append(be.allowed, p.Masked())
			} else if a, err := netip.ParseAddr(n); err == nil {
				be.allowed = append(be.allowed, netip.PrefixFrom(a, a.BitLen()))
			} else {
				warnings = append(warnings, s.Name+": network "+strconv.Quote(n)+" is not an address or CIDR (ignored)")
			}
		}
	}
	var httpchk *checkSpec
	nested := map[string]*edge.Rule{}
	for i := range s.Backend {
		r := &s.Backend[i]
		switch r.Template {
		case edge.BackendHTTPHealthcheckOptions:
			httpchk = &checkSpec{http: true, path: arg(r, "healthCheckPath"), timeout: seconds(r, "healthCheckTimeoutSeconds")}
		case edge.BackendServerOptions:
			if r.Nested != nil {
				nested[arg(r, "serverName")] = r.Nested
			}
		}
		if r.HasOverride {
			warnings = append(warnings, s.Name+": template label "+string(r.Template)+" is read as the default template")
		}
	}
	for _, sv := range s.Servers {
		srv := &server{name: sv.Name, id: sv.ID, addr: net.JoinHostPort(sv.IP, strconv.Itoa(sv.Port)), cookie: sv.Cookie,
			draining: sv.Draining}
		if n := nested[sv.Name]; n != nil || s.Sticky {
			c := &checkSpec{inter: 2 * time.Second, fall: 3, rise: 2, port: sv.Port}
			if n != nil {
				if d := seconds(n, "healthCheckIntervalSeconds"); d > 0 {
					c.inter = d
				}
				if f, err := strconv.Atoi(arg(n, "healthCheckFalls")); err == nil && f > 0 {
					c.fall = f
				}
				if p, err := strconv.Atoi(arg(n, "healthCheckPort")); err == nil && p > 0 {
					c.port = p
				}
			}
			if httpchk != nil {
				c.http, c.path, c.timeout = true, httpchk.path, httpchk.timeout
			}
			if c.timeout == 0 || c.timeout > c.inter {
				c.timeout = c.inter
			}
			c.hostAddr = net.JoinHostPort(sv.IP, strconv.Itoa(c.port))
			srv.check = c
		}
		key := s.Name + "/" + sv.Name + "/" + srv.addr
		st, ok := e.states[key]
		if !ok {
			st = newServerState(e, srv.addr, e.counter("sv/"+key))
			e.states[key] = st
		}
		srv.st = st
		be.servers = append(be.servers, srv)
	}
	return be, warnings
}

func seconds(r *edge.Rule, name string) time.Duration {
	n, err := strconv.Atoi(arg(r, name))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// pickInfo is what balancing and persistence may look at.
type pickInfo struct {
	src    string // client IP
	path   string
	header http.Header
	cookie string // the sticky cookie's value, if any
	now    int64
	skip   *server // a server that just failed
}

// hashKind is what a hashing algorithm hashes.
type hashKind uint8

const (
	hashNone hashKind = iota
	hashSource
	hashURI
	hashHeader
)

// balancer reads HAPROXY_{n}_BALANCE: the algorithm served and, for the
// hashing ones, what is hashed. Algorithms the native engine lacks are
// served round robin (as HAProxy does when a hash has no input).
func balancer(spec string) (string, hashKind, string) {
	f := strings.Fields(spec)
	if len(f) == 0 {
		return "roundrobin", hashNone, ""
	}
	algo := strings.ToLower(f[0])
	switch {
	case algo == "roundrobin", algo == "static-rr", algo == "leastconn", algo == "first", algo == "random":
		return algo, hashNone, ""
	case algo == "source":
		return algo, hashSource, ""
	case algo == "uri":
		return algo, hashURI, ""
	case strings.HasPrefix(algo, "hdr(") && strings.HasSuffix(algo, ")"):
		return algo, hashHeader, http.CanonicalHeaderKey(f[0][4 : len(f[0])-1])
	}
	return "roundrobin", hashNone, ""
}

// hashOf is the request's hash for the backend's algorithm; false when
// the algorithm does not hash or the request lacks what it hashes.
func (be *backend) hashOf(q *pickInfo) (uint64, bool) {
	switch be.hash {
	case hashSource:
		return hashString(q.src), true
	case hashURI:
		return hashString(q.path), true
	case hashHeader:
		if v := q.header.Get(be.hdr); v != "" {
			return hashString(v), true
		}
	}
	return 0, false
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// usable: not draining, not down by active checks, not passed over for
// a recent failure.
func (s *server) usable(now int64) bool {
	return !s.draining && s.st.up.Load() && s.st.downUntil.Load() <= now
}

// pick chooses a server, nil when none can take the request.
func (be *backend) pick(q *pickInfo) *server {
	n := len(be.servers)
	if n == 0 {
		return nil
	}
	if be.sticky && q.cookie != "" {
		for _, s := range be.servers {
			if s.cookie == q.cookie && s != q.skip && s.usable(q.now) {
				return s
			}
		}
	}
	if s := be.choose(q, func(s *server) bool { return s != q.skip && s.usable(q.now) }); s != nil {
		return s
	}
	// Every server failed lately: try one that active checks still
	// call up rather than refuse.
	return be.choose(q, func(s *server) bool { return !s.draining && s.st.up.Load() })
}

func (be *backend) choose(q *pickInfo, ok func(*server) bool) *server {
	n := len(be.servers)
	if be.hash != hashNone {
		if h, has := be.hashOf(q); has {
			count := 0
			for _, s := range be.servers {
				if ok(s) {
					count++
				}
			}
			if count == 0 {
				return nil
			}
			k := int(h % uint64(count))
			for _, s := range be.servers {
				if ok(s) {
					if k == 0 {
						return s
					}
					k--
				}
			}
		}
	}
	switch be.algo {
	case "leastconn":
		var best *server
		start := int(be.rr.Add(1) % uint64(n))
		for i := range n {
			s := be.servers[(start+i)%n]
			if ok(s) && (best == nil || s.st.active.Load() < best.st.active.Load()) {
				best = s
			}
		}
		return best
	case "first":
		var best *server
		for _, s := range be.servers {
			if ok(s) && (best == nil || s.id < best.id) {
				best = s
			}
		}
		return best
	case "random":
		start := rand.IntN(n)
		for i := range n {
			if s := be.servers[(start+i)%n]; ok(s) {
				return s
			}
		}
		return nil
	}
	start := int(be.rr.Add(1) % uint64(n))
	for i := range n {
		if s := be.servers[(start+i)%n]; ok(s) {
			return s
		}
	}
	return nil
}

func (be *backend) allows(src string) bool {
	if !be.hasACL {
		return true
	}
	a, err := netip.ParseAddr(src)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return slices.ContainsFunc(be.allowed, func(p netip.Prefix) bool { return p.Contains(a) })
}

// serverState outlives configurations: health, connections, counters.
type serverState struct {
	addr      string
	up        atomic.Bool
	downUntil atomic.Int64 // unix nanoseconds
	active    atomic.Int64
	pool      pool
	stats     *counters

	mu        sync.Mutex
	checking  *checkSpec
	stopCheck chan struct{}
	checkDesc string
	lastChg   time.Time
	chkFail   int64
	chkDown   int64
}

func newServerState(e *Engine, addr string, c *counters) *serverState {
	st := &serverState{addr: addr, stats: c, lastChg: time.Now()}
	st.up.Store(true)
	st.pool.max = e.o.MaxIdlePerServer
	return st
}

// failed passes the server over for a while.
func (st *serverState) failed(e *Engine) {
	st.downUntil.Store(time.Now().Add(e.o.PassiveDown).UnixNano())
}

func (st *serverState) retire() {
	st.mu.Lock()
	if st.stopCheck != nil {
		close(st.stopCheck)
		st.stopCheck = nil
	}
	st.checking = nil
	st.mu.Unlock()
	st.pool.retire()
}

func (st *serverState) setUp(up bool) {
	if st.up.Swap(up) != up {
		st.mu.Lock()
		st.lastChg = time.Now()
		if !up {
			st.chkDown++
		}
		st.mu.Unlock()
	}
}
