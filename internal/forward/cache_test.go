package forward

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeUpstream answers from a function and counts calls.
type fakeUpstream struct {
	calls atomic.Int64
	reply func(req *dns.Msg) *dns.Msg
}

func (f *fakeUpstream) Forward(_ context.Context, req *dns.Msg, _ string) (*dns.Msg, error) {
	f.calls.Add(1)
	return f.reply(req), nil
}

func aReply(ttl uint32) func(*dns.Msg) *dns.Msg {
	return func(req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IPv4(10, 0, 0, 1)}}
		return m
	}
}

func negReply(rcode int, soaTTL, minimum uint32) func(*dns.Msg) *dns.Msg {
	return func(req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(req, rcode)
		if soaTTL > 0 || minimum > 0 {
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
				Ns: "ns.example.", Mbox: "h.example.", Serial: 1, Minttl: minimum}}
		}
		return m
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_000_000, 0)} }
func newTestCache(t *testing.T, up Forwarder, cfg CacheConfig, ck *clock) *Cache {
	t.Helper()
	cfg.Now = ck.now
	c, err := NewCache(up, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheHitsAndTTL(t *testing.T) {
	ck := newClock()
	up := &fakeUpstream{reply: aReply(30)}
	c := newTestCache(t, up, CacheConfig{}, ck)
	ctx := t.Context()
	q := query("App.Example", dns.TypeA)
	if _, err := c.Forward(ctx, q, "udp"); err != nil {
		t.Fatal(err)
	}
	ck.add(10 * time.Second)
	q2 := query("app.EXAMPLE", dns.TypeA)
	q2.Id = 777
	m, err := c.Forward(ctx, q2, "udp")
	if err != nil {
		t.Fatal(err)
	}
	if up.calls.Load() != 1 {
		t.Fatalf("upstream asked %d times", up.calls.Load())
	}
	if m.Id != 777 || m.Question[0].Name != "app.EXAMPLE." {
		t.Fatalf("hit not adapted to the query: %v", m)
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 20 {
		t.Fatalf("ttl %d, want 20 (30 - 10 s in cache)", ttl)
	}
	// The hit is a copy: changing it does not change the cache.
	m.Answer[0].Header().Ttl = 9999
	m2, _ := c.Forward(ctx, query("app.example", dns.TypeA), "udp")
	if m2.Answer[0].Header().Ttl != 20 {
		t.Fatal("cache entry was shared with a caller")
	}
	// Expiry.
	ck.add(20 * time.Second)
	if _, err := c.Forward(ctx, query("app.example", dns.TypeA), "udp"); err != nil {
		t.Fatal(err)
	}
	if up.calls.Load() != 2 {
		t.Fatalf("expired entry served (upstream calls %d)", up.calls.Load())
	}
	if h, mi := c.Stats(); h != 2 || mi != 2 {
		t.Fatalf("hits %d misses %d", h, mi)
	}
	if r := c.HitRatio(); r != 0.5 {
		t.Fatalf("ratio %v", r)
	}
}

func TestCacheKeys(t *testing.T) {
	ck := newClock()
	up := &fakeUpstream{reply: aReply(30)}
	c := newTestCache(t, up, CacheConfig{}, ck)
	ctx := t.Context()
	_, _ = c.Forward(ctx, query("a.example", dns.TypeA), "udp")
	_, _ = c.Forward(ctx, query("a.example", dns.TypeAAAA), "udp")
	do := query("a.example", dns.TypeA)
	do.SetEdns0(4096, true)
	_, _ = c.Forward(ctx, do, "udp")
	noDo := query("a.example", dns.TypeA)
	noDo.SetEdns0(4096, false) // same key as no EDNS
	_, _ = c.Forward(ctx, noDo, "udp")
	if n := up.calls.Load(); n != 3 {
		t.Fatalf("upstream calls %d, want 3 (A, AAAA, A+DO)", n)
	}
	// Two questions: never cached.
	two := query("a.example", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	_, _ = c.Forward(ctx, two, "udp")
	_, _ = c.Forward(ctx, two, "udp")
	if n := up.calls.Load(); n != 5 {
		t.Fatalf("upstream calls %d", n)
	}
}

func TestCacheNegative(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(*dns.Msg) *dns.Msg
		cached  time.Duration // 0 = not cached
		ttlSeen uint32
		cfg     CacheConfig
	}{
		{name: "no negative: nxdomain never", reply: negReply(dns.RcodeNameError, 300, 10), cfg: CacheConfig{NoNegative: true}},
		{name: "no negative: nodata never", reply: negReply(dns.RcodeSuccess, 30, 20), cfg: CacheConfig{NoNegative: true}},
		{name: "no negative: positive kept", reply: aReply(60), cfg: CacheConfig{NoNegative: true}, cached: 60 * time.Second},
		{name: "nxdomain uses SOA minimum when smaller", reply: negReply(dns.RcodeNameError, 300, 10), cached: 10 * time.Second},
		{name: "nxdomain uses SOA TTL when smaller", reply: negReply(dns.RcodeNameError, 5, 60), cached: 5 * time.Second},
		{name: "nodata", reply: negReply(dns.RcodeSuccess, 30, 20), cached: 20 * time.Second},
		{name: "nxdomain without SOA", reply: negReply(dns.RcodeNameError, 0, 0)},
		{name: "servfail briefly", reply: negReply(dns.RcodeServerFailure, 0, 0), cached: DefaultServfailTTL},
		{name: "refused never", reply: negReply(dns.RcodeRefused, 0, 0)},
		{name: "zero ttl never", reply: aReply(0)},
		{name: "truncated never", reply: func(r *dns.Msg) *dns.Msg { m := aReply(60)(r); m.Truncated = true; return m }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := newClock()
			up := &fakeUpstream{reply: tt.reply}
			c := newTestCache(t, up, tt.cfg, ck)
			ctx := t.Context()
			_, _ = c.Forward(ctx, query("x.example", dns.TypeA), "udp")
			_, _ = c.Forward(ctx, query("x.example", dns.TypeA), "udp")
			if tt.cached == 0 {
				if up.calls.Load() != 2 {
					t.Fatalf("cached (calls %d)", up.calls.Load())
				}
				return
			}
			if up.calls.Load() != 1 {
				t.Fatalf("not cached (calls %d)", up.calls.Load())
			}
			ck.add(tt.cached - time.Second)
			_, _ = c.Forward(ctx, query("x.example", dns.TypeA), "udp")
			if up.calls.Load() != 1 {
				t.Fatal("expired too early")
			}
			ck.add(time.Second)
			_, _ = c.Forward(ctx, query("x.example", dns.TypeA), "udp")
			if up.calls.Load() != 2 {
				t.Fatal("kept too long")
			}
		})
	}
}

func TestCacheBoundAndMetrics(t *testing.T) {
	ck := newClock()
	up := &fakeUpstream{reply: aReply(300)}
	reg := prometheus.NewRegistry()
	c, err := NewCache(up, CacheConfig{Size: 3, Name: "fwd", Now: ck.now, MaxTTL: 100 * time.Second}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		_, _ = c.Forward(ctx, query(n+".example", dns.TypeA), "udp")
	}
	_, _ = c.Forward(ctx, query("a.example", dns.TypeA), "udp") // a is now most recent
	_, _ = c.Forward(ctx, query("d.example", dns.TypeA), "udp") // evicts b
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	_, _ = c.Forward(ctx, query("a.example", dns.TypeA), "udp")
	if up.calls.Load() != 4 {
		t.Fatalf("a evicted (calls %d)", up.calls.Load())
	}
	_, _ = c.Forward(ctx, query("b.example", dns.TypeA), "udp")
	if up.calls.Load() != 5 {
		t.Fatalf("b not evicted (calls %d)", up.calls.Load())
	}
	if v := testutil.ToFloat64(c.evictions); v != 2 {
		t.Fatalf("evictions %v", v)
	}
	if v := testutil.ToFloat64(c.hits); v != 2 {
		t.Fatalf("hits %v", v)
	}
	if v := testutil.ToFloat64(c.misses); v != 5 {
		t.Fatalf("misses %v", v)
	}
	n, err := testutil.GatherAndCount(reg, "cache_hit_ratio", "cache_entries", "cache_hits_total", "cache_misses_total", "cache_evictions_total")
	if err != nil || n != 5 {
		t.Fatalf("gathered %d metrics: %v", n, err)
	}
	// MaxTTL caps a 300 s answer at 100 s.
	ck.add(100 * time.Second)
	_, _ = c.Forward(ctx, query("a.example", dns.TypeA), "udp")
	if up.calls.Load() != 6 {
		t.Fatal("MaxTTL not applied")
	}
}

// FuzzCache feeds arbitrary upstream replies through the cache: whatever
// unpacks must be stored and served back without panicking, and the hit
// must pack again.
func FuzzCache(f *testing.F) {
	q := query("a.example", dns.TypeA)
	for _, r := range []*dns.Msg{aReply(30)(q), negReply(dns.RcodeNameError, 30, 10)(q), negReply(dns.RcodeServerFailure, 0, 0)(q)} {
		b, _ := r.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if r.Unpack(b) != nil || len(r.Question) != 1 {
			return
		}
		ck := newClock()
		up := &fakeUpstream{reply: func(*dns.Msg) *dns.Msg { return r }}
		c := newTestCache(t, up, CacheConfig{Size: 2}, ck)
		req := new(dns.Msg)
		req.SetQuestion(r.Question[0].Name, r.Question[0].Qtype)
		req.Question[0].Qclass = r.Question[0].Qclass
		for range 2 {
			ck.add(time.Second)
			m, _ := c.Forward(context.Background(), req, "udp")
			if m == nil {
				t.Fatal("nil reply")
			}
			if _, err := m.Pack(); err != nil && !errorsIsPackable(r) {
				t.Fatalf("hit does not pack: %v", err)
			}
		}
	})
}

// errorsIsPackable reports whether the upstream reply itself fails to
// pack; then the cached copy may fail too.
func errorsIsPackable(r *dns.Msg) bool {
	_, err := r.Copy().Pack()
	return err != nil
}

// slowUpstream answers after a delay.
type slowUpstream struct {
	fakeUpstream
	delay time.Duration
}

func (s *slowUpstream) Forward(ctx context.Context, req *dns.Msg, nw string) (*dns.Msg, error) {
	time.Sleep(s.delay)
	return s.fakeUpstream.Forward(ctx, req, nw)
}

func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	up := &slowUpstream{fakeUpstream: fakeUpstream{reply: aReply(60)}, delay: 100 * time.Millisecond}
	c, err := NewCache(up, CacheConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := query("hot.example", dns.TypeA)
			q.Id = uint16(1000 + i)
			m, err := c.Forward(context.Background(), q, "udp")
			if err != nil || m.Id != q.Id || len(m.Answer) != 1 {
				errs <- fmt.Errorf("query %d: %v %v", i, m, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("upstream asked %d times, want 1", got)
	}
	if h, m := c.Stats(); h != n-1 || m != 1 {
		t.Fatalf("hits %d misses %d", h, m)
	}
	// Not cacheable (REFUSED): waiters ask themselves.
	up2 := &slowUpstream{fakeUpstream: fakeUpstream{reply: negReply(dns.RcodeRefused, 0, 0)}, delay: 50 * time.Millisecond}
	c2, _ := NewCache(up2, CacheConfig{}, nil)
	var wg2 sync.WaitGroup
	for range 5 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			m, _ := c2.Forward(context.Background(), query("x.example", dns.TypeA), "udp")
			if m == nil || m.Rcode != dns.RcodeRefused {
				t.Errorf("got %v", m)
			}
		}()
	}
	wg2.Wait()
	if got := up2.calls.Load(); got < 2 {
		t.Fatalf("uncacheable reply shared: %d calls", got)
	}
}
