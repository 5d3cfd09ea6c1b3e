package resolver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesosdns/records"
)

// zone is everything a query needs for one record set, swapped
// atomically: the record set, the generic templates, and a cache of the
// answers of the names asked for (parsed RRs for the slow path and wire
// templates for the fast path), built on first use. Apart from that cache
// it is never modified after prepare returns.
type zone struct {
	rs     *records.RecordSet
	serial uint32
	domain string // lower case, trailing dot: "mesos."
	ttl    uint32
	weight uint16
	// cache holds the answers built so far (get); bounded.
	cache *cache
	built prometheus.Counter // answers built on demand

	soaRR *dns.SOA // owner filled in per query (a copy)
	nsRR  *dns.NS

	// Generic fast templates whose only name is the question (pointer 12).
	nx     tpl // NXDOMAIN + SOA
	nodata tpl // NOERROR + SOA (also the SOA query answer)
	ns     tpl // NOERROR + NS
	empty  tpl // NOERROR, nothing (the SRV-missing quirk)

	skipped   []string // SRV values left out because they cannot be packed (of the names that changed, for a delta)
	counts    [3]int   // A, AAAA and SRV values of rs
	nameCount int      // distinct names of rs
	delta     bool     // carried over from the previous zone and the names that changed
	// loaded is false for the zone New installs: no record set has been
	// loaded yet, and every question in the domain gets SERVFAIL.
	loaded bool
}

// entry is one name of the zone, built when first asked for and never
// modified after.
type entry struct {
	// srcA, srcAAAA, srcSRV are the record set's values the entry was
	// built from.
	srcA, srcAAAA, srcSRV []string

	a, aaaa []dns.RR // owner = the lower-case key
	srv     []srvValue
	extra   []dns.RR // SRV additional section: one A and one AAAA per target
	fastA   *tpl
	fast4   *tpl // AAAA
	fastSRV *tpl
}

type srvValue struct {
	target string
	port   uint16
}

// tpl is a reply without header and question: the answer records (each a
// chunk that can be reordered, since every name in it is either the
// question, by pointer, or written out in full) followed by the tail
// (authority records of negative answers), and for SRV the additional
// records, whose owners are pointers to the same target name inside an
// answer.
//
// The encoding is byte for byte as long as miekg/dns's compressed form
// (the slow path): answer owners are the question (pointer 12), SRV
// targets are never compressed (RFC 2782) but are what later owner names
// point to. So the fast path makes the same truncation decisions as the
// slow path.
type tpl struct {
	rest   []byte
	chunks []uint32 // start of each answer chunk in rest; the last element is the end of the answers
	an     uint16
	ns     uint16
	rcode  byte
	extra  []extraRR
	// extraLen is the encoded length of extra (2-byte owners).
	extraLen int
}

// extraRR is one additional record of an SRV reply.
type extraRR struct {
	chunk int    // an answer chunk whose target is this record's owner
	body  []byte // type, class, TTL, rdlength, rdata
}

// srvTargetOff is where the target name starts inside an SRV answer chunk:
// owner pointer (2), type, class, TTL, rdlength (10), priority, weight,
// port (6).
const srvTargetOff = 18

var errName = errors.New("name cannot be encoded")

// appendName writes a text domain name uncompressed. Only names made of
// plain labels are accepted (no escapes), each 1–63 bytes, 255 in all.
func appendName(b []byte, name string) ([]byte, error) {
	if name == "" || name[len(name)-1] != '.' {
		return b, errName
	}
	if name == "." {
		return append(b, 0), nil
	}
	start := len(b)
	for len(name) > 0 {
		i := strings.IndexByte(name, '.')
		if i <= 0 || i > 63 || strings.IndexByte(name[:i], '\\') >= 0 {
			return b[:start], errName
		}
		b = append(b, byte(i))
		b = append(b, name[:i]...)
		name = name[i+1:]
	}
	b = append(b, 0)
	if len(b)-start > 255 {
		return b[:start], errName
	}
	return b, nil
}

func appendRRHeader(b []byte, owner []byte, rtype uint16, ttl uint32) []byte {
	b = append(b, owner...)
	b = binary.BigEndian.AppendUint16(b, rtype)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	return b
}

// questionPtr is a compression pointer to the question name (offset 12).
var questionPtr = []byte{0xC0, 0x0C}

func (r *Resolver) prepare(rs *records.RecordSet, serial uint32) *zone {
	cfg := &r.cfg
	z := &zone{rs: rs, serial: serial, domain: cfg.domain, ttl: cfg.TTL, weight: cfg.SRVWeight,
		cache: newCache(r.cacheEntries()), built: r.m.built}
	z.soaRR = &dns.SOA{
		Hdr:     dns.RR_Header{Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: cfg.TTL},
		Ns:      cfg.SOAMname,
		Mbox:    cfg.SOARname,
		Serial:  serial,
		Refresh: cfg.SOARefresh,
		Retry:   cfg.SOARetry,
		Expire:  cfg.SOAExpire,
		Minttl:  cfg.TTL, // [quirk] the served minimum is ttl; SOAMinttl is not used
	}
	z.nsRR = &dns.NS{Hdr: dns.RR_Header{Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: cfg.TTL}, Ns: cfg.SOAMname}

	// Generic templates.
	var soa []byte
	if mn, err := appendName(nil, cfg.SOAMname); err == nil {
		if rn, err := appendName(nil, cfg.SOARname); err == nil {
			rd := append(append([]byte(nil), mn...), rn...)
			for _, v := range []uint32{serial, cfg.SOARefresh, cfg.SOARetry, cfg.SOAExpire, cfg.TTL} {
				rd = binary.BigEndian.AppendUint32(rd, v)
			}
			soa = appendRRHeader(nil, questionPtr, dns.TypeSOA, cfg.TTL)
			soa = binary.BigEndian.AppendUint16(soa, uint16(len(rd)))
			soa = append(soa, rd...)
			ns := appendRRHeader(nil, questionPtr, dns.TypeNS, cfg.TTL)
			ns = binary.BigEndian.AppendUint16(ns, uint16(len(mn)))
			ns = append(ns, mn...)
			z.ns = tpl{rest: ns, chunks: []uint32{0}, ns: 1}
		}
	}
	if soa == nil {
		// Config validation rejects such names; without a packable SOA the
		// fast path simply stays off for negative answers.
		z.nx.rcode, z.nodata.rcode, z.ns.rcode = 0xFF, 0xFF, 0xFF
	} else {
		z.nx = tpl{rest: soa, chunks: []uint32{0}, ns: 1, rcode: dns.RcodeNameError}
		z.nodata = tpl{rest: soa, chunks: []uint32{0}, ns: 1}
	}
	z.empty = tpl{chunks: []uint32{0}}

	// Answers are built when a name is first asked for (zone.get), not
	// here: a cluster of 100,000 tasks has about 670,000 names, most of
	// which are never asked for, and preparing them all took most of the
	// time to the first answer and most of the memory. What is prepared
	// here is proportional to what changed: the counts, the values that
	// cannot be encoded, and which cached answers of the previous zone
	// still hold.
	p := r.cur.Load()
	var maybe map[string]struct{}
	if p != nil && p.rs != nil && p.loaded {
		// A set with few names is simply redone (this also covers sets
		// not made by a Generator, whose changes Changed cannot see).
		if m, ok := records.Changed(p.rs, rs); ok && len(m) < p.nameCount/4 {
			maybe = m
			// The name-server name is not part of the record set's
			// bookkeeping: always look at it.
			maybe[cfg.SOAMname] = struct{}{}
			maybe[dns.Fqdn(cfg.SOAMname)] = struct{}{}
		}
	}
	if maybe == nil {
		z.counts, z.nameCount = countAll(rs)
		for name, vals := range rs.SRV {
			z.skipped = appendSkipped(z.skipped, name, vals)
		}
		if p != nil && p.loaded {
			// Cached answers whose values are the same are still right:
			// the names asked for most keep being answered without a
			// rebuild after a reload that changed much.
			p.cache.each(func(name string, e *entry) {
				if z.same(name, e) {
					z.cache.put(name, e)
				}
			})
		}
		return z
	}
	z.delta = true
	z.counts, z.nameCount = p.counts, p.nameCount
	for name := range maybe {
		a, inA := rs.A[name]
		aaaa, inAAAA := rs.AAAA[name]
		srv, inSRV := rs.SRV[name]
		z.counts[0] += len(a) - len(p.rs.A[name])
		z.counts[1] += len(aaaa) - len(p.rs.AAAA[name])
		z.counts[2] += len(srv) - len(p.rs.SRV[name])
		if inA || inAAAA || inSRV {
			z.nameCount++
		}
		if p.rs.Has(name) {
			z.nameCount--
		}
		z.skipped = appendSkipped(z.skipped, name, srv)
	}
	// Cached answers of names that did not change stay valid, except SRV
	// answers whose additional section shows a target that changed.
	p.cache.each(func(name string, e *entry) {
		if _, ch := maybe[name]; ch {
			return
		}
		for _, s := range e.srv {
			if _, ch := maybe[s.target]; ch {
				return
			}
		}
		z.cache.put(name, e)
	})
	return z
}

// same reports whether e, built for another record set, holds exactly the
// answers of name in z.
func (z *zone) same(name string, e *entry) bool {
	a, inA := z.rs.A[name]
	aaaa, inAAAA := z.rs.AAAA[name]
	srv, inSRV := z.rs.SRV[name]
	if !inA && !inAAAA && !inSRV || !slices.Equal(a, e.srcA) || !slices.Equal(aaaa, e.srcAAAA) || !slices.Equal(srv, e.srcSRV) {
		return false
	}
	if len(e.srv) == 0 {
		return true
	}
	// The additional section follows the targets' values.
	i, ok := 0, true
	forTargets(e, func(target string) {
		if !ok {
			return
		}
		if v := firstA(z.rs.A[target]); v.IsValid() {
			ok = i < len(e.extra) && e.extra[i].Header().Rrtype == dns.TypeA && netip.AddrFrom4([4]byte(e.extra[i].(*dns.A).A.To4())) == v
			i++
		}
		if v := firstAAAA(z.rs.AAAA[target]); ok && v.IsValid() {
			ok = i < len(e.extra) && e.extra[i].Header().Rrtype == dns.TypeAAAA && netip.AddrFrom16([16]byte(e.extra[i].(*dns.AAAA).AAAA.To16())) == v
			i++
		}
	})
	return ok && i == len(e.extra)
}

// countAll counts the values of each type and the distinct names of rs.
func countAll(rs *records.RecordSet) (counts [3]int, names int) {
	for _, v := range rs.A {
		counts[0] += len(v)
	}
	names = len(rs.A)
	for name, v := range rs.AAAA {
		counts[1] += len(v)
		if _, ok := rs.A[name]; !ok {
			names++
		}
	}
	for name, v := range rs.SRV {
		counts[2] += len(v)
		if _, ok := rs.A[name]; ok {
			continue
		}
		if _, ok := rs.AAAA[name]; !ok {
			names++
		}
	}
	return counts, names
}

// appendSkipped lists the SRV values of name that cannot be encoded.
func appendSkipped(skipped []string, name string, srv []string) []string {
	for _, v := range srv {
		if _, _, ok := parseSRV(v); !ok {
			skipped = append(skipped, name+" SRV "+v)
		}
	}
	return skipped
}

// parseSRV splits an SRV value "<target>:<port>"; ok is false when it
// cannot be encoded.
func parseSRV(v string) (target string, port uint16, ok bool) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, false
	}
	p, err := strconv.ParseUint(v[i+1:], 10, 16)
	target = v[:i]
	if err != nil || !validName(target) {
		// Mesos-DNS does not length-check canonical names; a reply
		// holding such a target cannot be packed at all, so the value
		// is left out instead of failing the whole reply.
		return "", 0, false
	}
	return target, uint16(p), true
}

// get returns the answers of a lower-case lookup key, building and caching
// them on first use; nil when the name is not in the zone. Looking up a
// cached name allocates nothing.
func (z *zone) get(name []byte) *entry {
	sh := z.cache.shard(name)
	sh.mu.RLock()
	e, ok := sh.m[string(name)]
	sh.mu.RUnlock()
	if ok {
		return e
	}
	a, inA := z.rs.A[string(name)]
	aaaa, inAAAA := z.rs.AAAA[string(name)]
	srv, inSRV := z.rs.SRV[string(name)]
	if !inA && !inAAAA && !inSRV {
		return nil // not cached: a flood of missing names cannot evict real ones
	}
	key := string(name)
	e = z.newEntry(key, a, aaaa, srv)
	z.built.Inc()
	z.cache.putIn(sh, key, e)
	return e
}

// newEntry parses one name's values and builds its templates; an SRV
// name's additional section comes from its targets' values in the zone.
func (z *zone) newEntry(name string, a, aaaa, srv []string) *entry {
	e := &entry{srcA: a, srcAAAA: aaaa, srcSRV: srv}
	// One allocation per kind for the records and their addresses.
	if len(a) > 0 {
		rrs := make([]dns.A, 0, len(a))
		ips := make([]byte, 0, 4*len(a))
		e.a = make([]dns.RR, 0, len(a))
		for _, v := range a {
			ip, ok := parseA(v)
			if !ok {
				continue // non-IP agent host strings: shown over HTTP, never served
			}
			b4 := ip.As4()
			ips = append(ips, b4[:]...)
			rrs = append(rrs, dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: z.ttl}, A: net.IP(ips[len(ips)-4 : len(ips) : len(ips)])})
			e.a = append(e.a, &rrs[len(rrs)-1])
		}
	}
	if len(aaaa) > 0 {
		rrs := make([]dns.AAAA, 0, len(aaaa))
		ips := make([]byte, 0, 16*len(aaaa))
		e.aaaa = make([]dns.RR, 0, len(aaaa))
		for _, v := range aaaa {
			ip, ok := parseAAAA(v)
			if !ok {
				continue
			}
			b16 := ip.As16()
			ips = append(ips, b16[:]...)
			rrs = append(rrs, dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: z.ttl}, AAAA: net.IP(ips[len(ips)-16 : len(ips) : len(ips)])})
			e.aaaa = append(e.aaaa, &rrs[len(rrs)-1])
		}
	}
	for _, v := range srv {
		if target, port, ok := parseSRV(v); ok {
			e.srv = append(e.srv, srvValue{target: target, port: port})
		}
	}
	valid := validName(name)
	if valid {
		e.fastA = addrTemplate(e.a, z.ttl)
		e.fast4 = addrTemplate(e.aaaa, z.ttl)
	}
	if len(e.srv) > 0 {
		e.extra = z.extras(e)
		if valid {
			e.fastSRV = srvTemplate(e, z.ttl, z.weight)
		}
	}
	return e
}

func parseA(v string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(v)
	return ip, err == nil && ip.Is4()
}

func parseAAAA(v string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(v)
	return ip, err == nil && ip.Is6() && !ip.Is4In6()
}

// extras builds an SRV entry's additional section: for each distinct
// target, in value order, its first A and its first AAAA record, if any.
func (z *zone) extras(e *entry) []dns.RR {
	var out []dns.RR
	forTargets(e, func(target string) {
		if ip := firstA(z.rs.A[target]); ip.IsValid() {
			b4 := ip.As4()
			out = append(out, &dns.A{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: z.ttl}, A: net.IP(b4[:])})
		}
		if ip := firstAAAA(z.rs.AAAA[target]); ip.IsValid() {
			b16 := ip.As16()
			out = append(out, &dns.AAAA{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: z.ttl}, AAAA: net.IP(b16[:])})
		}
	})
	return out
}

// firstA returns the first value that is served as an A record (the zero
// Addr when none is).
func firstA(vals []string) netip.Addr {
	for _, v := range vals {
		if ip, ok := parseA(v); ok {
			return ip
		}
	}
	return netip.Addr{}
}

// firstAAAA is firstA for AAAA records.
func firstAAAA(vals []string) netip.Addr {
	for _, v := range vals {
		if ip, ok := parseAAAA(v); ok {
			return ip
		}
	}
	return netip.Addr{}
}

// forTargets calls f once for each distinct SRV target, in value order.
func forTargets(e *entry, f func(string)) {
	if len(e.srv) <= 16 {
		for i, s := range e.srv {
			dup := false
			for _, p := range e.srv[:i] {
				if p.target == s.target {
					dup = true
					break
				}
			}
			if !dup {
				f(s.target)
			}
		}
		return
	}
	seen := make(map[string]bool, len(e.srv))
	for _, s := range e.srv {
		if !seen[s.target] {
			seen[s.target] = true
			f(s.target)
		}
	}
}

// validName reports whether appendName would accept name.
func validName(name string) bool {
	if name == "" || name[len(name)-1] != '.' || len(name) > 254 {
		return name == "."
	}
	for len(name) > 0 {
		i := strings.IndexByte(name, '.')
		if i <= 0 || i > 63 || strings.IndexByte(name[:i], '\\') >= 0 {
			return false
		}
		name = name[i+1:]
	}
	return true
}

// addrTemplate builds the answer chunks for A or AAAA records, each owned
// by the question name (pointer 12): the fast path only uses it when the
// question is already lower case, so the owner equals the lookup key.
func addrTemplate(rrs []dns.RR, ttl uint32) *tpl {
	if len(rrs) == 0 || len(rrs) > 4096 {
		return nil
	}
	size := 16
	if _, ok := rrs[0].(*dns.AAAA); ok {
		size = 28
	}
	t := &tpl{an: uint16(len(rrs)), rest: make([]byte, 0, size*len(rrs)), chunks: make([]uint32, 0, len(rrs)+1)}
	for _, rr := range rrs {
		t.chunks = append(t.chunks, uint32(len(t.rest)))
		switch v := rr.(type) {
		case *dns.A:
			t.rest = appendRRHeader(t.rest, questionPtr, dns.TypeA, ttl)
			t.rest = binary.BigEndian.AppendUint16(t.rest, 4)
			t.rest = append(t.rest, v.A.To4()...)
		case *dns.AAAA:
			t.rest = appendRRHeader(t.rest, questionPtr, dns.TypeAAAA, ttl)
			t.rest = binary.BigEndian.AppendUint16(t.rest, 16)
			t.rest = append(t.rest, v.AAAA.To16()...)
		}
	}
	t.chunks = append(t.chunks, uint32(len(t.rest)))
	return t
}

// srvTemplate builds SRV answers (owner = the question as sent, which is
// what Mesos-DNS does) and the additional records. Buffers are sized
// exactly first: a zone holds tens of thousands of these.
func srvTemplate(e *entry, ttl uint32, weight uint16) *tpl {
	if len(e.srv) == 0 || len(e.srv) > 4096 {
		return nil
	}
	size := 0
	for _, s := range e.srv {
		size += srvTargetOff + len(s.target) + 1
	}
	body := 0
	for _, rr := range e.extra {
		if _, ok := rr.(*dns.AAAA); ok {
			body += 26
		} else {
			body += 14
		}
	}
	t := &tpl{an: uint16(len(e.srv)), rest: make([]byte, 0, size), chunks: make([]uint32, 0, len(e.srv)+1)}
	for _, s := range e.srv {
		t.chunks = append(t.chunks, uint32(len(t.rest)))
		t.rest = appendRRHeader(t.rest, questionPtr, dns.TypeSRV, ttl)
		rdlen := len(t.rest)
		t.rest = append(t.rest, 0, 0)
		t.rest = binary.BigEndian.AppendUint16(t.rest, 0)
		t.rest = binary.BigEndian.AppendUint16(t.rest, weight)
		t.rest = binary.BigEndian.AppendUint16(t.rest, s.port)
		var err error
		if t.rest, err = appendName(t.rest, s.target); err != nil {
			return nil
		}
		binary.BigEndian.PutUint16(t.rest[rdlen:], uint16(len(t.rest)-rdlen-2))
	}
	t.chunks = append(t.chunks, uint32(len(t.rest)))
	if len(e.extra) == 0 {
		return t
	}
	bodies := make([]byte, 0, body)
	t.extra = make([]extraRR, 0, len(e.extra))
	for _, rr := range e.extra {
		chunk := -1
		for i, s := range e.srv {
			if s.target == rr.Header().Name {
				chunk = i
				break
			}
		}
		if chunk < 0 {
			return nil
		}
		from := len(bodies)
		switch v := rr.(type) {
		case *dns.A:
			bodies = appendRRHeader(bodies, nil, dns.TypeA, ttl)
			bodies = binary.BigEndian.AppendUint16(bodies, 4)
			bodies = append(bodies, v.A.To4()...)
		case *dns.AAAA:
			bodies = appendRRHeader(bodies, nil, dns.TypeAAAA, ttl)
			bodies = binary.BigEndian.AppendUint16(bodies, 16)
			bodies = append(bodies, v.AAAA.To16()...)
		default:
			return nil
		}
		t.extra = append(t.extra, extraRR{chunk: chunk, body: bodies[from:len(bodies):len(bodies)]})
		t.extraLen += 2 + len(bodies) - from
	}
	return t
}
