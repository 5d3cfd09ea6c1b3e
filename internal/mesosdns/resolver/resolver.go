// Package resolver is the Mesos-DNS query handler (spec/mesos-dns.md §6):
// authoritative answers for the Mesos domain, forwarding for every other
// name.
//
// Each record set (Update) is swapped in atomically, so a query never
// waits for a rebuild; the answers of a name are built when it is first
// asked for and kept in a bounded cache, so loading a large cluster costs
// little and answers stay allocation-free once built. The handler implements
// dnsserver.Handler: the fast path answers the common questions (A, AAAA,
// SRV, SOA, NS and negative answers for lower-case names in the domain)
// from prepared wire bytes without allocating, truncating them itself when
// needed; everything else (ANY, forwarding, wildcards, mixed-case A/AAAA,
// odd packets) is handled by the slow path on parsed messages. Both give the
// same answers; the tests hold them to it.
//
// One deliberate difference from Mesos-DNS: a query carrying EDNS0 gets an
// OPT record back and its UDP payload size is honoured (up to
// Config.MaxUDPSize) instead of every UDP reply being capped at 512 bytes.
//
// Imports of Sextant's own packages: internal/dnsserver, internal/mesosdns/records; nothing else of
// Sextant.
package resolver

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
)

// Forwarder sends a query for a name outside the domain upstream. network
// is "udp" or "tcp", the transport the client used. When it returns a
// message (even with an error), that message is relayed; with no message
// the client gets SERVFAIL.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)
}

// Config is what the handler needs from the Mesos-DNS configuration.
type Config struct {
	Domain                          string // "mesos" (trailing dot optional)
	TTL                             uint32
	SOAMname                        string // with trailing dot
	SOARname                        string // with trailing dot
	SOARefresh, SOARetry, SOAExpire uint32
	SRVWeight                       uint16
	RecurseOn                       bool
	SetTruncateBit                  bool
	// MaxUDPSize caps the EDNS0 payload size honoured for UDP replies
	// (default 4096). Queries without EDNS0 get at most 512 bytes.
	MaxUDPSize int
	// Default forwards names outside the domain (and every DS query, as
	// the miekg/dns mux routed them to the root handler); nil means the
	// client gets REFUSED, as with externalon=false.
	Default Forwarder
	// Zones maps a zone ("example.com", no trailing dot) to its forwarder;
	// the longest matching suffix wins over Default.
	Zones map[string]Forwarder
	// CacheEntries bounds the names whose answers are kept built
	// (default DefaultCacheEntries). Answers are built when a name is
	// first asked for; past the bound, older ones are dropped and rebuilt
	// when asked for again.
	CacheEntries int

	domain string
}

// Resolver answers queries. Create it with New; feed it record sets with
// Update.
type Resolver struct {
	cfg   Config
	log   *slog.Logger
	zones []zoneFwd
	cur   atomic.Pointer[zone]
	m     *metrics
}

type zoneFwd struct {
	suffix string // ".example.com." form is checked with the bare name too
	fwd    Forwarder
}

// New builds a resolver. Until the first Update every question in the
// domain gets SERVFAIL: a resolver that has not loaded the cluster's
// state yet does not know that a name is missing, and an NXDOMAIN would
// be cached by clients for the SOA's negative TTL. Forwarding works from
// the start.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Resolver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.domain = strings.ToLower(strings.TrimSuffix(cfg.Domain, ".")) + "."
	if cfg.MaxUDPSize <= 0 {
		cfg.MaxUDPSize = 4096
	}
	if cfg.MaxUDPSize < 512 {
		cfg.MaxUDPSize = 512
	}
	if cfg.MaxUDPSize > 65535 {
		cfg.MaxUDPSize = 65535
	}
	cfg.SOAMname = dns.Fqdn(cfg.SOAMname)
	cfg.SOARname = dns.Fqdn(cfg.SOARname)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	r := &Resolver{cfg: cfg, log: log, m: m}
	for z, f := range cfg.Zones {
		r.zones = append(r.zones, zoneFwd{suffix: strings.ToLower(strings.Trim(z, ".")) + ".", fwd: f})
	}
	sort.Slice(r.zones, func(i, j int) bool { return len(r.zones[i].suffix) > len(r.zones[j].suffix) })
	r.cur.Store(r.prepare(&records.RecordSet{Domain: cfg.Domain}, 0))
	return r, nil
}

// Update prepares the answers for a new record set and swaps them in.
// serial is the SOA serial to serve with it (the Unix time of the reload).
// Queries running meanwhile keep using the previous set.
func (r *Resolver) Update(rs *records.RecordSet, serial uint32) {
	start := time.Now()
	z := r.prepare(rs, serial)
	z.loaded = true
	r.cur.Store(z)
	r.m.prepare.Observe(time.Since(start).Seconds())
	r.m.names.Set(float64(z.nameCount))
	r.m.records.WithLabelValues("A").Set(float64(z.counts[0]))
	r.m.records.WithLabelValues("AAAA").Set(float64(z.counts[1]))
	r.m.records.WithLabelValues("SRV").Set(float64(z.counts[2]))
	r.m.serial.Set(float64(serial))
	if len(z.skipped) > 0 {
		r.log.Warn("records left out of DNS answers because they cannot be encoded", "count", len(z.skipped), "first", z.skipped[0])
	}
}

func (r *Resolver) cacheEntries() int {
	if r.cfg.CacheEntries > 0 {
		return r.cfg.CacheEntries
	}
	return DefaultCacheEntries
}

// Loaded reports whether a record set has been loaded (Update was
// called): until then names in the domain get SERVFAIL.
func (r *Resolver) Loaded() bool { return r.cur.Load().loaded }

// Records returns the record set being served.
func (r *Resolver) Records() *records.RecordSet { return r.cur.Load().rs }

// Serial returns the SOA serial being served.
func (r *Resolver) Serial() uint32 { return r.cur.Load().serial }

// inDomain reports whether a lower-case FQDN is at or below the domain.
func inDomain(name, domain string) bool {
	return name == domain || (len(name) > len(domain) && strings.HasSuffix(name, domain) && name[len(name)-len(domain)-1] == '.')
}

// lookupKey is the question name lower-cased with every ".*" removed.
func lookupKey(name string) string {
	k := strings.ToLower(dns.Fqdn(name))
	if strings.Contains(k, ".*") {
		k = strings.ReplaceAll(k, ".*", "")
	}
	return k
}

// ServeDNS is the slow path (dnsserver.Handler).
func (r *Resolver) ServeDNS(ctx context.Context, req *dnsserver.Request) *dns.Msg {
	start := time.Now()
	reply, qt := r.serve(ctx, req)
	if reply != nil {
		r.m.count(qt, reply.Rcode)
	}
	r.m.latency[pathSlow].Observe(time.Since(start).Seconds())
	return reply
}

func (r *Resolver) serve(ctx context.Context, req *dnsserver.Request) (*dns.Msg, uint16) {
	if req.Err != nil || req.Msg == nil {
		return dnsserver.FormErr(req.Raw), 0
	}
	q := req.Msg
	if q.Response {
		return nil, 0
	}
	if len(q.Question) == 0 {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeServerFailure)
		return m, 0
	}
	qt := q.Question[0].Qtype
	name := strings.ToLower(q.Question[0].Name)
	if qt != dns.TypeDS && inDomain(name, r.cfg.domain) {
		return r.authoritative(q, req.Network), qt
	}
	fwd, zone := r.cfg.Default, "."
	if qt != dns.TypeDS {
		for _, z := range r.zones {
			if inDomain(name, z.suffix) {
				fwd, zone = z.fwd, z.suffix
				break
			}
		}
	}
	return r.forward(ctx, q, req.Network, fwd, zone), qt
}

func (r *Resolver) forward(ctx context.Context, q *dns.Msg, nw dnsserver.Network, fwd Forwarder, zone string) *dns.Msg {
	if fwd == nil {
		r.m.forwarded.WithLabelValues(zone, "refused").Inc()
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		return m
	}
	reply, err := fwd.Forward(ctx, q, nw.String())
	if reply == nil {
		r.m.forwarded.WithLabelValues(zone, "failed").Inc()
		r.log.Debug("forwarding failed", "name", q.Question[0].Name, "zone", zone, "err", err)
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeServerFailure)
		return m
	}
	if err != nil {
		r.m.forwarded.WithLabelValues(zone, "failed").Inc()
		r.log.Debug("forwarding failed", "name", q.Question[0].Name, "zone", zone, "err", err)
	} else {
		r.m.forwarded.WithLabelValues(zone, "ok").Inc()
	}
	reply.Id = q.Id
	reply.Compress = true
	limit := 65535
	if nw == dnsserver.UDP {
		// Mesos-DNS's reply path: 512 unless the relayed reply carries an
		// OPT record, whose size then applies.
		limit = 512
		if opt := reply.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
			limit = int(opt.UDPSize())
		}
	}
	r.truncate(reply, limit)
	return reply
}

// authoritative answers a question in the domain (spec §6.2–§6.5).
func (r *Resolver) authoritative(q *dns.Msg, nw dnsserver.Network) *dns.Msg {
	z := r.cur.Load()
	qs := q.Question[0]
	m := new(dns.Msg)
	if !z.loaded {
		m.SetRcode(q, dns.RcodeServerFailure)
		if opt := q.IsEdns0(); opt != nil {
			m.SetEdns0(uint16(r.cfg.MaxUDPSize), opt.Do())
		}
		return m
	}
	m.SetReply(q)
	m.Authoritative = true
	m.RecursionAvailable = r.cfg.RecurseOn
	m.Compress = true
	e := z.get([]byte(lookupKey(qs.Name)))
	soa := func() dns.RR {
		s := *z.soaRR
		s.Hdr.Name = qs.Name
		return &s
	}
	ns := func() dns.RR {
		n := *z.nsRR
		n.Hdr.Name = qs.Name
		return &n
	}
	negative := func() {
		if e == nil {
			m.Rcode = dns.RcodeNameError
		}
	}
	switch qs.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		if e != nil {
			if qs.Qtype == dns.TypeA {
				m.Answer = shuffled(e.a)
			} else {
				m.Answer = shuffled(e.aaaa)
			}
		}
		if len(m.Answer) == 0 {
			negative()
			m.Ns = []dns.RR{soa()}
		}
	case dns.TypeSRV:
		// [quirk] no answer is NOERROR with no SOA, even for a missing name.
		if e != nil {
			m.Answer = srvRRs(e, qs.Name, z, r.cfg)
			m.Extra = append([]dns.RR(nil), e.extra...)
		}
	case dns.TypeSOA:
		m.Ns = []dns.RR{soa()}
	case dns.TypeNS:
		m.Ns = []dns.RR{ns()}
	case dns.TypeANY:
		if e != nil {
			m.Answer = append(m.Answer, srvRRs(e, qs.Name, z, r.cfg)...)
			m.Answer = append(m.Answer, e.a...)
			m.Answer = append(m.Answer, e.aaaa...)
			shuffle(m.Answer)
			m.Extra = append([]dns.RR(nil), e.extra...)
		}
		m.Ns = []dns.RR{soa(), ns()}
		if len(m.Answer) == 0 {
			negative()
			m.Ns = append(m.Ns, soa())
		}
	default:
		negative()
		m.Ns = []dns.RR{soa()}
	}
	limit := 65535
	if opt := q.IsEdns0(); opt != nil {
		// Deliberate difference: honour the client's EDNS0 size.
		m.SetEdns0(uint16(r.cfg.MaxUDPSize), opt.Do())
		if nw == dnsserver.UDP {
			limit = min(max(int(opt.UDPSize()), 512), r.cfg.MaxUDPSize)
		}
	} else if nw == dnsserver.UDP {
		limit = 512
	}
	r.truncate(m, limit)
	return m
}

func srvRRs(e *entry, owner string, z *zone, cfg Config) []dns.RR {
	out := make([]dns.RR, 0, len(e.srv))
	for _, s := range e.srv {
		out = append(out, &dns.SRV{
			Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: cfg.TTL},
			Priority: 0, Weight: cfg.SRVWeight, Port: s.port, Target: s.target,
		})
	}
	shuffle(out)
	return out
}

func shuffled(rrs []dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	out := append([]dns.RR(nil), rrs...)
	shuffle(out)
	return out
}

func shuffle(rrs []dns.RR) {
	rand.Shuffle(len(rrs), func(i, j int) { rrs[i], rrs[j] = rrs[j], rrs[i] })
}

// truncate applies spec §6.5: over the limit, set TC (if SetTruncateBit),
// drop the additional section (keeping OPT), then drop answers from the
// end until the reply is strictly below the limit. With SetTruncateBit
// false, TC is cleared on every reply.
func (r *Resolver) truncate(m *dns.Msg, limit int) {
	if m.Len() > limit {
		if r.cfg.SetTruncateBit {
			m.Truncated = true
		}
		var opt []dns.RR
		for _, rr := range m.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				opt = append(opt, rr)
			}
		}
		m.Extra = opt
		if m.Len() >= limit {
			// The largest answer count that is strictly below the limit
			// (the length grows with the count).
			all := m.Answer
			lo, hi := 0, len(all)
			for lo < hi {
				mid := (lo + hi + 1) / 2
				m.Answer = all[:mid]
				if m.Len() < limit {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			m.Answer = all[:lo]
		}
	}
	if !r.cfg.SetTruncateBit {
		m.Truncated = false
	}
}
