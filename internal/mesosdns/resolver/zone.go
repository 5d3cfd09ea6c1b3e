package resolver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
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

	skipped []string // names or values left out because they cannot be packed
}

// entry is one name of the zone.
type entry struct {
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

	get := func(name string) *entry {
		e := z.names[name]
		if e == nil {
			e = &entry{}
			z.names[name] = e
		}
		return e
	}
	for name, vals := range rs.A {
		e := get(name)
		for _, v := range vals {
			ip, err := netip.ParseAddr(v)
			if err != nil || !ip.Is4() {
				continue // non-IP agent host strings: shown over HTTP, never served
			}
			e.a = append(e.a, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: cfg.TTL}, A: net.IP(ip.AsSlice())})
		}
	}
	for name, vals := range rs.AAAA {
		e := get(name)
		for _, v := range vals {
			ip, err := netip.ParseAddr(v)
			if err != nil || !ip.Is6() || ip.Is4In6() {
				continue
			}
			e.aaaa = append(e.aaaa, &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: cfg.TTL}, AAAA: net.IP(ip.AsSlice())})
		}
	}
	for name, vals := range rs.SRV {
		e := get(name)
		for _, v := range vals {
			i := strings.LastIndexByte(v, ':')
			if i < 0 {
				z.skipped = append(z.skipped, name+" SRV "+v)
				continue
			}
			port, err := strconv.ParseUint(v[i+1:], 10, 16)
			target := v[:i]
			if err != nil {
				z.skipped = append(z.skipped, name+" SRV "+v)
				continue
			}
			if _, err := appendName(nil, target); err != nil {
				// Mesos-DNS does not length-check canonical names; a reply
				// holding such a target cannot be packed at all, so the
				// value is left out instead of failing the whole reply.
				z.skipped = append(z.skipped, name+" SRV "+v)
				continue
			}
			e.srv = append(e.srv, srvValue{target: target, port: uint16(port)})
		}
	}
	// Additional sections and fast templates need every entry's A/AAAA.
	for name, e := range z.names {
		if len(e.srv) > 0 {
			seen := make(map[string]bool, len(e.srv))
			for _, s := range e.srv {
				if seen[s.target] {
					continue
				}
				seen[s.target] = true
				t := z.names[s.target]
				if t == nil {
					continue
				}
				if len(t.a) > 0 {
					e.extra = append(e.extra, t.a[0])
				}
				if len(t.aaaa) > 0 {
					e.extra = append(e.extra, t.aaaa[0])
				}
			}
		}
		if _, err := appendName(nil, name); err != nil {
			continue // never matches a parsed query name anyway
		}
		e.fastA = addrTemplate(e.a, cfg.TTL)
		e.fast4 = addrTemplate(e.aaaa, cfg.TTL)
		e.fastSRV = srvTemplate(e, cfg.TTL, cfg.SRVWeight)
	}
	return z
}

// addrTemplate builds the answer chunks for A or AAAA records, each owned
// by the question name (pointer 12): the fast path only uses it when the
// question is already lower case, so the owner equals the lookup key.
func addrTemplate(rrs []dns.RR, ttl uint32) *tpl {
	if len(rrs) == 0 || len(rrs) > 4096 {
		return nil
	}
	t := &tpl{an: uint16(len(rrs))}
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
// what Mesos-DNS does) and the additional records.
func srvTemplate(e *entry, ttl uint32, weight uint16) *tpl {
	if len(e.srv) == 0 || len(e.srv) > 4096 {
		return nil
	}
	t := &tpl{an: uint16(len(e.srv))}
	first := map[string]int{}
	for i, s := range e.srv {
		t.chunks = append(t.chunks, uint32(len(t.rest)))
		tn, err := appendName(nil, s.target)
		if err != nil {
			return nil
		}
		if _, ok := first[s.target]; !ok {
			first[s.target] = i
		}
		t.rest = appendRRHeader(t.rest, questionPtr, dns.TypeSRV, ttl)
		t.rest = binary.BigEndian.AppendUint16(t.rest, uint16(6+len(tn)))
		t.rest = binary.BigEndian.AppendUint16(t.rest, 0)
		t.rest = binary.BigEndian.AppendUint16(t.rest, weight)
		t.rest = binary.BigEndian.AppendUint16(t.rest, s.port)
		t.rest = append(t.rest, tn...)
	}
	t.chunks = append(t.chunks, uint32(len(t.rest)))
	for _, rr := range e.extra {
		chunk, ok := first[rr.Header().Name]
		if !ok {
			return nil
		}
		var body []byte
		switch v := rr.(type) {
		case *dns.A:
			body = appendRRHeader(nil, nil, dns.TypeA, ttl)
			body = binary.BigEndian.AppendUint16(body, 4)
			body = append(body, v.A.To4()...)
		case *dns.AAAA:
			body = appendRRHeader(nil, nil, dns.TypeAAAA, ttl)
			body = binary.BigEndian.AppendUint16(body, 16)
			body = append(body, v.AAAA.To16()...)
		default:
			return nil
		}
		t.extra = append(t.extra, extraRR{chunk: chunk, body: body})
		t.extraLen += 2 + len(body)
	}
	return t
}
