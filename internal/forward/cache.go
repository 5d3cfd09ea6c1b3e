package forward

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Size is the maximum number of entries (least recently used ones are
	// evicted); 0 means DefaultCacheSize.
	Size int
	// MaxTTL caps how long any answer is kept; 0 means DefaultMaxTTL.
	MaxTTL time.Duration
	// ServfailTTL is how long a SERVFAIL is kept. RFC 2308 §7.1 allows up
	// to five minutes; we keep it to a few seconds so that an upstream
	// that recovers is used again almost at once, while a storm of repeats
	// for a broken name does not hit the upstreams for every query.
	// 0 means DefaultServfailTTL; negative disables SERVFAIL caching.
	ServfailTTL time.Duration
	// NoNegative keeps NXDOMAIN and NODATA answers out of the cache (for
	// upstreams whose names appear at any moment, such as Mesos-DNS: a
	// cached NXDOMAIN would hide a new task for the SOA minimum).
	NoNegative bool
	// Name labels the metrics (cache="…"), so several caches can share a
	// registry.
	Name string
	// Namespace prefixes the metric names ("" for none).
	Namespace string
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Cache defaults.
const (
	DefaultCacheSize   = 10000
	DefaultMaxTTL      = time.Hour
	DefaultServfailTTL = 2 * time.Second
)

// Cache answers repeated queries from a bounded LRU cache in front of
// another Forwarder.
//
// The key is (lower-cased qname, qtype, qclass, DO bit). Positive answers
// live for the smallest TTL of their answer and authority records;
// negative answers (NXDOMAIN, and NODATA: NOERROR with no answer) for the
// SOA's min(TTL, MINIMUM) as RFC 2308 §5 says, and are not cached without
// an SOA. SERVFAIL is kept for ServfailTTL only. Truncated replies, other
// rcodes, and replies to queries with more or fewer than one question are
// never cached. On a hit every TTL is lowered by the time spent in the
// cache, the ID and question are the client's, and the client gets its own
// copy.
type Cache struct {
	next Forwarder
	cfg  CacheConfig

	hits, misses, evictions prometheus.Counter
	entries                 prometheus.GaugeFunc
	ratio                   prometheus.GaugeFunc

	mu    sync.Mutex
	lru   *list.List                 // of *entry; front = most recent; guarded by mu
	items map[cacheKey]*list.Element // guarded by mu
	nHit  uint64                     // guarded by mu
	nMiss uint64                     // guarded by mu
	// inflight holds a channel per key being fetched, closed when done.
	inflight map[cacheKey]chan struct{} // guarded by mu
}

var _ Forwarder = (*Cache)(nil)

type cacheKey struct {
	name   string
	qtype  uint16
	qclass uint16
	do     bool
}

type entry struct {
	key     cacheKey
	msg     *dns.Msg // never handed out; copied on every hit
	stored  time.Time
	expires time.Time
}

// NewCache wraps next. Metrics are registered on reg (nil: not registered).
func NewCache(next Forwarder, cfg CacheConfig, reg prometheus.Registerer) (*Cache, error) {
	if cfg.Size <= 0 {
		cfg.Size = DefaultCacheSize
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.ServfailTTL == 0 {
		cfg.ServfailTTL = DefaultServfailTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{next: next, cfg: cfg, lru: list.New(), items: map[cacheKey]*list.Element{}, inflight: map[cacheKey]chan struct{}{}}
	labels := prometheus.Labels{"cache": cfg.Name}
	c.hits = prometheus.NewCounter(prometheus.CounterOpts{Namespace: cfg.Namespace, Name: "cache_hits_total",
		Help: "Forwarded queries answered from the cache.", ConstLabels: labels})
	c.misses = prometheus.NewCounter(prometheus.CounterOpts{Namespace: cfg.Namespace, Name: "cache_misses_total",
		Help: "Forwarded queries the cache could not answer.", ConstLabels: labels})
	c.evictions = prometheus.NewCounter(prometheus.CounterOpts{Namespace: cfg.Namespace, Name: "cache_evictions_total",
		Help: "Entries evicted to stay within the size bound (expired entries are not counted).", ConstLabels: labels})
	c.entries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: cfg.Namespace, Name: "cache_entries",
		Help: "Entries in the cache.", ConstLabels: labels}, func() float64 { return float64(c.Len()) })
	c.ratio = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: cfg.Namespace, Name: "cache_hit_ratio",
		Help: "Hits / (hits + misses) since start.", ConstLabels: labels}, c.HitRatio)
	if reg != nil {
		for _, col := range []prometheus.Collector{c.hits, c.misses, c.evictions, c.entries, c.ratio} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("register cache metrics: %w", err)
			}
		}
	}
	return c, nil
}

// Len returns the number of entries (expired ones included until touched).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// HitRatio returns hits / (hits + misses), 0 before any query.
func (c *Cache) HitRatio() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nHit+c.nMiss == 0 {
		return 0
	}
	return float64(c.nHit) / float64(c.nHit+c.nMiss)
}

// Stats returns the hit and miss counts.
func (c *Cache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nHit, c.nMiss
}

func keyOf(req *dns.Msg) (cacheKey, bool) {
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return cacheKey{}, false
	}
	q := req.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass}
	if opt := req.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k, true
}

// Forward implements Forwarder.
func (c *Cache) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	key, ok := keyOf(req)
	if !ok {
		return c.next.Forward(ctx, req, network)
	}
	// Concurrent misses for one key are coalesced: the first asks
	// upstream, the others wait for it and then read the cache (or ask
	// themselves when the reply was not cacheable), so an expiring popular
	// name does not send a burst of identical queries upstream.
	for attempt := 0; ; attempt++ {
		if m := c.get(key, req); m != nil {
			c.count(true)
			return m, nil
		}
		c.mu.Lock()
		if wait, busy := c.inflight[key]; busy && attempt == 0 {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				c.count(false)
				return Reply(req, dns.RcodeServerFailure), ctx.Err()
			}
		}
		var done chan struct{}
		if _, busy := c.inflight[key]; !busy {
			done = make(chan struct{})
			c.inflight[key] = done
		}
		c.mu.Unlock()
		c.count(false)
		r, err := c.next.Forward(ctx, req, network)
		// A failure caused by this caller giving up is not the upstream's
		// answer and must not be served to anyone else.
		if r != nil && ctx.Err() == nil {
			c.put(key, r)
		}
		if done != nil {
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
			close(done)
		}
		return r, err
	}
}

func (c *Cache) count(hit bool) {
	c.mu.Lock()
	if hit {
		c.nHit++
	} else {
		c.nMiss++
	}
	c.mu.Unlock()
	if hit {
		c.hits.Inc()
	} else {
		c.misses.Inc()
	}
}

func (c *Cache) get(key cacheKey, req *dns.Msg) *dns.Msg {
	now := c.cfg.Now()
	c.mu.Lock()
	el, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, key)
		c.mu.Unlock()
		return nil
	}
	c.lru.MoveToFront(el)
	msg, stored := e.msg, e.stored
	c.mu.Unlock()

	m := msg.Copy()
	m.Id = req.Id
	m.Question = append(m.Question[:0], req.Question...)
	m.RecursionDesired = req.RecursionDesired
	m.CheckingDisabled = req.CheckingDisabled
	age := uint32(now.Sub(stored) / time.Second)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	return m
}

// ttlFor decides how long a reply may be cached; ok false means never.
func (c *Cache) ttlFor(r *dns.Msg) (time.Duration, bool) {
	if r.Truncated || !r.Response {
		return 0, false
	}
	switch r.Rcode {
	case dns.RcodeServerFailure:
		if c.cfg.ServfailTTL < 0 {
			return 0, false
		}
		return c.cfg.ServfailTTL, true
	case dns.RcodeNameError:
		if c.cfg.NoNegative {
			return 0, false
		}
		return negativeTTL(r)
	case dns.RcodeSuccess:
		if len(r.Answer) == 0 {
			if c.cfg.NoNegative {
				return 0, false
			}
			return negativeTTL(r)
		}
	default:
		return 0, false
	}
	ttl := uint32(1<<32 - 1)
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	if ttl == 0 {
		return 0, false
	}
	return time.Duration(ttl) * time.Second, true
}

// negativeTTL is RFC 2308 §5: the SOA in the authority section bounds how
// long a negative answer is kept, by min(SOA TTL, SOA MINIMUM). Without an
// SOA the answer is not cached.
func negativeTTL(r *dns.Msg) (time.Duration, bool) {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl := min(soa.Hdr.Ttl, soa.Minttl)
			if ttl == 0 {
				return 0, false
			}
			return time.Duration(ttl) * time.Second, true
		}
	}
	return 0, false
}

func (c *Cache) put(key cacheKey, r *dns.Msg) {
	ttl, ok := c.ttlFor(r)
	if !ok {
		return
	}
	ttl = min(ttl, c.cfg.MaxTTL)
	now := c.cfg.Now()
	e := &entry{key: key, msg: r.Copy(), stored: now, expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.cfg.Size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*entry).key)
		c.evictions.Inc()
	}
}
