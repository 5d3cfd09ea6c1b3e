package dcosdns

import (
	"encoding/binary"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
)

// The fast path answers the common local query — one A, AAAA or SRV
// question for a name that has such records in a local zone, no EDNS or
// plain EDNS0 without options and DO — from replies prepared when the
// name is first asked for, without parsing the query into a message or,
// once prepared, allocating. Replies are built on demand and kept in a
// bounded cache rather than prepared for every name when a zone is
// installed: a node holding the zones of 100,000 tasks would otherwise
// prepare (and hold twice, while a new zone replaces the old) answers for
// hundreds of thousands of names it is never asked about. Everything else (aliases, NXDOMAIN, NODATA, CNAMEs, DO,
// EDNS options, oversize answers, forwarded names) takes the parsed path,
// which gives the same answers.

// maxFastAnswers bounds the answers of a prepared name (larger sets take
// the parsed path; they rarely fit a UDP reply anyway).
const maxFastAnswers = 256

// prepared holds one name/type's answer records in wire format, each with
// its owner compressed to a pointer at the question (offset 12). A reply
// is composed at query time: header, the client's question, the answers
// rotated left by ID mod N (dcos-dns' round_robin), and the OPT record
// for EDNS0 queries.
type prepared struct {
	answers [][]byte
	size    int // total bytes of answers
}

// served is what the handler answers from: the index, its zones, and the
// fast replies built so far.
type served struct {
	ix    *directory.Index
	zones []*directory.Zone
	fast  *fastCache
}

// fastFor returns the fast reply for a lower-case wire-format question
// name followed by the big-endian qtype, building it from the zones on
// first use; nil when the question takes the parsed path.
func (s *served) fastFor(key []byte) *prepared {
	sh := s.fast.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[string(key)]
	sh.mu.RUnlock()
	if ok {
		return e.p
	}
	e = s.build(key)
	s.fast.putIn(sh, string(key), e)
	return e.p
}

// build prepares the A, AAAA or SRV answers of a question straight from
// the records of the zone that answers the name, the nearest enclosing
// one, which is what the index answers for it.
func (s *served) build(key []byte) fastEntry {
	wireName, qt := key[:len(key)-2], binary.BigEndian.Uint16(key[len(key)-2:])
	name, ok := textName(wireName)
	if !ok {
		return fastEntry{}
	}
	var z *directory.Zone
	for _, c := range s.zones {
		if (name == c.Name || strings.HasSuffix(name, "."+c.Name)) && (z == nil || len(c.Name) > len(z.Name)) {
			z = c
		}
	}
	if z == nil {
		return fastEntry{}
	}
	e := fastEntry{zone: z}
	if qt != dns.TypeA && qt != dns.TypeAAAA && qt != dns.TypeSRV {
		return e
	}
	recs := z.Records
	// Records are in canonical order: by name, then type.
	i := sort.Search(len(recs), func(i int) bool {
		return recs[i].Name > name || recs[i].Name == name && recs[i].Type >= qt
	})
	j := i
	for j < len(recs) && recs[j].Name == name && recs[j].Type == qt {
		j++
	}
	if j == i || j-i > maxFastAnswers {
		return e
	}
	var wire [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), wire[:], 0, nil, false)
	if err != nil || string(wire[:n]) != string(wireName) {
		return e // the name's text form does not spell the question exactly
	}
	buf := make([]byte, 65535)
	p := &prepared{}
	for k := i; k < j; k++ {
		m, err := dns.PackRR(recs[k].RR(), buf, 0, nil, false)
		if err != nil || m <= n {
			return e
		}
		block := make([]byte, 0, 2+m-n)
		block = append(block, 0xC0, 0x0C)
		block = append(block, buf[n:m]...)
		p.answers = append(p.answers, block)
		p.size += len(block)
	}
	e.p = p
	return e
}

// textName is the text form (lower case, no trailing dot) of a wire-format
// name made of plain labels; ok is false for anything else.
func textName(wire []byte) (string, bool) {
	var b strings.Builder
	for off := 0; off < len(wire); {
		l := int(wire[off])
		if l == 0 {
			return b.String(), off == len(wire)-1
		}
		if off+1+l > len(wire) {
			return "", false
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		for _, c := range wire[off+1 : off+1+l] {
			if c <= ' ' || c > '~' || c == '.' || c == '\\' {
				return "", false
			}
			b.WriteByte(c)
		}
		off += 1 + l
	}
	return "", false
}

// AnswerFast implements dnsserver.Handler.
func (h *Handler) AnswerFast(q, out []byte, network dnsserver.Network) (int, bool) {
	s := h.served.Load()
	if len(s.zones) == 0 || len(q) < 12+5 {
		return 0, false
	}
	// Header: a standard query (QR=0, opcode 0) with one question, no
	// answers or authority, at most one additional (the OPT).
	if q[2]&0xf8 != 0 || q[4] != 0 || q[5] != 1 || q[6]|q[7]|q[8]|q[9] != 0 || q[10] != 0 || q[11] > 1 {
		return 0, false
	}
	var key [255 + 2]byte
	off, n := 12, 0
	for {
		if off >= len(q) {
			return 0, false
		}
		l := int(q[off])
		if l == 0 {
			key[n] = 0
			n++
			off++
			break
		}
		if l > 63 || off+1+l > len(q) || n+1+l+1 > 255 {
			return 0, false
		}
		key[n] = byte(l)
		n++
		for _, c := range q[off+1 : off+1+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			key[n] = c
			n++
		}
		off += 1 + l
	}
	if off+4 > len(q) || q[off+2] != 0 || q[off+3] != byte(dns.ClassINET) {
		return 0, false
	}
	key[n], key[n+1] = q[off], q[off+1]
	qEnd := off + 4
	limit := 512
	edns := q[11] == 1
	if edns {
		// The OPT RR: root owner, type 41, class = UDP size, TTL = ext
		// rcode, version 0 and flags (DO clear), no options.
		o := q[qEnd:]
		if len(o) != 11 || o[0] != 0 || o[1] != 0 || o[2] != 41 || o[5] != 0 || o[6] != 0 || o[7]&0x80 != 0 || o[9] != 0 || o[10] != 0 {
			return 0, false
		}
		if size := int(o[3])<<8 | int(o[4]); size > limit {
			limit = size
		}
	} else if qEnd != len(q) {
		return 0, false
	}
	p := s.fastFor(key[:n+2])
	if p == nil {
		return 0, false
	}
	if network == dnsserver.TCP {
		limit = 65535
	}
	size := qEnd + p.size
	if edns {
		size += 11
	}
	if size > limit || size > len(out) {
		return 0, false
	}
	// Header: the client's ID; QR and AA set; RD and CD copied; RA clear;
	// NOERROR; one question, N answers, the OPT when the query had one.
	nAns := len(p.answers)
	out[0], out[1] = q[0], q[1]
	out[2] = 0x84 | q[2]&0x01
	out[3] = q[3] & 0x10
	out[4], out[5] = 0, 1
	out[6], out[7] = byte(nAns>>8), byte(nAns)
	out[8], out[9], out[10], out[11] = 0, 0, 0, q[11]
	// The question as the client spelled it; answers point at it.
	copy(out[12:qEnd], q[12:qEnd])
	off = qEnd
	id := int(q[0])<<8 | int(q[1])
	k := id % nAns
	for i := range nAns {
		off += copy(out[off:], p.answers[(k+i)%nAns])
	}
	if edns {
		// OPT: root owner, type 41, our UDP size, ext rcode 0, version 0,
		// DO clear, no options (what the parsed path adds).
		off += copy(out[off:], []byte{0, 0, 41, byte(ednsSize >> 8), byte(ednsSize & 0xff), 0, 0, 0, 0, 0, 0})
	}
	return off, true
}
