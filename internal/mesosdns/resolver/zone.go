package resolver

import (
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesosdns/records"
)

// zone is everything a query needs, prepared once per record set and
// swapped atomically: parsed RRs for the slow path and wire templates for
// the fast path. It is never modified after prepare returns.
type zone struct {
	rs     *records.RecordSet
	serial uint32
	domain string // lower case, trailing dot: "mesos."
	names  map[string]*entry

	soaRR *dns.SOA // owner filled in per query (a copy)
	nsRR  *dns.NS

	// Generic fast templates whose only name is the question (pointer 12).
	nx     tpl // NXDOMAIN + SOA
	nodata tpl // NOERROR + SOA (also the SOA query answer)
	ns     tpl // NOERROR + NS
	empty  tpl // NOERROR, nothing (the SRV-missing quirk)

	skipped []string // names or values left out because they cannot be packed (of the names built for this zone)
	counts  [3]int   // A, AAAA and SRV values of rs
	delta   bool     // built from the previous zone and the names that changed
	// loaded is false for the zone New installs: no record set has been
	// loaded yet, and every question in the domain gets SERVFAIL.
	loaded bool
}

// entry is one name of the zone.
type entry struct {
	// srcA, srcAAAA, srcSRV are the record set's values the entry was
	// built from; extraKey what its additional section was built from.
	srcA, srcAAAA, srcSRV []string
	extraKey              []dns.RR

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
	z := &zone{rs: rs, serial: serial, domain: cfg.domain, names: make(map[string]*entry, len(rs.A)+len(rs.SRV))}
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

	// Entries whose inputs did not change since the previous record set
	// are reused as they are (they are immutable): a reload where few
	// tasks changed prepares only what changed.
	var prev map[string]*entry
	p := r.cur.Load()
	if p != nil {
		prev = p.names
	}
	// changed holds the names built afresh or gone since the previous set:
	// only SRV entries pointing at one of them can need new additionals.
	changed := map[string]struct{}{}
	// The record set can say which names may have changed (a reload after
	// a few tasks changed): then the previous entries are taken over as a
	// whole and only those names are looked at, so a reload costs in
	// proportion to what changed rather than to the zone's size.
	var maybe map[string]struct{}
	if p != nil && p.rs != nil {
		if m, ok := records.Changed(p.rs, rs); ok && len(m) < len(prev)/4 {
			maybe = m
			// The name-server name is not part of the record set's
			// bookkeeping: always look at it.
			maybe[cfg.SOAMname] = struct{}{}
			maybe[dns.Fqdn(cfg.SOAMname)] = struct{}{}
		}
	}
	if maybe != nil {
		z.names = maps.Clone(prev)
		z.delta = true
		z.counts = p.counts
		for name := range maybe {
			a, inA := rs.A[name]
			aaaa, inAAAA := rs.AAAA[name]
			srv, inSRV := rs.SRV[name]
			z.counts[0] += len(a) - len(p.rs.A[name])
			z.counts[1] += len(aaaa) - len(p.rs.AAAA[name])
			z.counts[2] += len(srv) - len(p.rs.SRV[name])
			old := prev[name]
			switch {
			case !inA && !inAAAA && !inSRV:
				if old != nil {
					delete(z.names, name)
					changed[name] = struct{}{}
				}
			case old != nil && slices.Equal(old.srcA, a) && slices.Equal(old.srcAAAA, aaaa) && slices.Equal(old.srcSRV, srv):
				// unchanged: keep the previous entry
			default:
				z.names[name] = r.newEntry(z, name, a, aaaa, srv)
				changed[name] = struct{}{}
			}
		}
	} else {
		// Here a target changed when its entry is not the previous one
		// (see below): no set of changed names is kept.
		changed = nil
		build := func(name string) {
			if _, done := z.names[name]; done {
				return
			}
			a, aaaa, srv := rs.A[name], rs.AAAA[name], rs.SRV[name]
			if old := prev[name]; old != nil && slices.Equal(old.srcA, a) && slices.Equal(old.srcAAAA, aaaa) && slices.Equal(old.srcSRV, srv) {
				z.names[name] = old
				return
			}
			z.names[name] = r.newEntry(z, name, a, aaaa, srv)
		}
		for name, v := range rs.A {
			z.counts[0] += len(v)
			build(name)
		}
		for name, v := range rs.AAAA {
			z.counts[1] += len(v)
			build(name)
		}
		for name, v := range rs.SRV {
			z.counts[2] += len(v)
			build(name)
		}
	}
	targetChanged := func(t string) bool {
		if changed != nil {
			_, ok := changed[t]
			return ok
		}
		return z.names[t] != prev[t]
	}
	// SRV additional sections depend on the targets' addresses: rebuild
	// them (and the SRV template) when those changed. Only names of rs.SRV
	// have SRV values.
	for name := range rs.SRV {
		e := z.names[name]
		if e == nil || len(e.srv) == 0 {
			continue
		}
		if e.extraKey != nil && prev[name] == e {
			dirty := false
			if changed == nil || len(changed) > 0 {
				for _, s := range e.srv {
					if targetChanged(s.target) {
						dirty = true
						break
					}
				}
			}
			if !dirty {
				continue
			}
		}
		key := z.extraKey(e)
		if e.fastSRV != nil || e.extraKey != nil {
			if slices.Equal(key, e.extraKey) {
				continue
			}
		}
		if old := prev[name]; old == e {
			// Shared with the previous zone: copy before changing it.
			c := *e
			e = &c
			z.names[name] = e
		}
		e.extraKey = key
		e.extra = extras(key)
		e.fastSRV = nil
		if validName(name) {
			e.fastSRV = srvTemplate(e, cfg.TTL, cfg.SRVWeight)
		}
	}
	return z
}

// newEntry parses one name's values and builds its A and AAAA templates.
func (r *Resolver) newEntry(z *zone, name string, a, aaaa, srv []string) *entry {
	cfg := &r.cfg
	e := &entry{srcA: a, srcAAAA: aaaa, srcSRV: srv}
	// One allocation per kind for the records and their addresses.
	if len(a) > 0 {
		rrs := make([]dns.A, 0, len(a))
		ips := make([]byte, 0, 4*len(a))
		e.a = make([]dns.RR, 0, len(a))
		for _, v := range a {
			ip, err := netip.ParseAddr(v)
			if err != nil || !ip.Is4() {
				continue // non-IP agent host strings: shown over HTTP, never served
			}
			b4 := ip.As4()
			ips = append(ips, b4[:]...)
			rrs = append(rrs, dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: cfg.TTL}, A: net.IP(ips[len(ips)-4 : len(ips) : len(ips)])})
			e.a = append(e.a, &rrs[len(rrs)-1])
		}
	}
	if len(aaaa) > 0 {
		rrs := make([]dns.AAAA, 0, len(aaaa))
		ips := make([]byte, 0, 16*len(aaaa))
		e.aaaa = make([]dns.RR, 0, len(aaaa))
		for _, v := range aaaa {
			ip, err := netip.ParseAddr(v)
			if err != nil || !ip.Is6() || ip.Is4In6() {
				continue
			}
			b16 := ip.As16()
			ips = append(ips, b16[:]...)
			rrs = append(rrs, dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: cfg.TTL}, AAAA: net.IP(ips[len(ips)-16 : len(ips) : len(ips)])})
			e.aaaa = append(e.aaaa, &rrs[len(rrs)-1])
		}
	}
	for _, v := range srv {
		i := strings.LastIndexByte(v, ':')
		if i < 0 {
			z.skipped = append(z.skipped, name+" SRV "+v)
			continue
		}
		port, err := strconv.ParseUint(v[i+1:], 10, 16)
		target := v[:i]
		if err != nil || !validName(target) {
			// Mesos-DNS does not length-check canonical names; a reply
			// holding such a target cannot be packed at all, so the value
			// is left out instead of failing the whole reply.
			z.skipped = append(z.skipped, name+" SRV "+v)
			continue
		}
		e.srv = append(e.srv, srvValue{target: target, port: uint16(port)})
	}
	if validName(name) {
		e.fastA = addrTemplate(e.a, cfg.TTL)
		e.fast4 = addrTemplate(e.aaaa, cfg.TTL)
	}
	return e
}

// extraKey lists what an SRV entry's additional section is made of: the
// first A and AAAA record (nil when none) of each distinct target. Reused
// target entries keep their record pointers, so comparing keys is cheap.
func (z *zone) extraKey(e *entry) []dns.RR {
	key := make([]dns.RR, 0, 2*len(e.srv))
	forTargets(e, func(target string) {
		var a, aaaa dns.RR
		if t := z.names[target]; t != nil {
			if len(t.a) > 0 {
				a = t.a[0]
			}
			if len(t.aaaa) > 0 {
				aaaa = t.aaaa[0]
			}
		}
		key = append(key, a, aaaa)
	})
	return key
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

// extras builds the SRV additional section from its key: for each
// distinct target with addresses, one A and one AAAA.
func extras(key []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range key {
		if rr != nil {
			out = append(out, rr)
		}
	}
	return out
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
