package dcosdns

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
)

// The fast path answers the common local query — one A, AAAA or SRV
// question for a name that has such records in a local zone, no EDNS or
// plain EDNS0 without options and DO — from replies prepared when the
// zones are installed, without parsing the query into a message or
// allocating. Everything else (aliases, NXDOMAIN, NODATA, CNAMEs, DO,
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

// fastTable maps the lower-case wire-format question name followed by
// the big-endian qtype to prepared answers.
type fastTable map[string]*prepared

// served is what the handler answers from: the index and its fast table.
type served struct {
	ix   *directory.Index
	fast fastTable
}

// prepareZone prepares the A, AAAA and SRV answers of one zone's names
// straight from its records, which is what the index answers for them:
// a name inside a zone is answered by the nearest enclosing zone, so names
// that a more specific installed zone shadows are skipped.
func prepareZone(ix *directory.Index, z *directory.Zone) fastTable {
	var children []string
	for _, o := range ix.Zones() {
		if o.Name != z.Name && dns.IsSubDomain(z.Name+".", o.Name+".") {
			children = append(children, o.Name+".")
		}
	}
	t := make(fastTable, len(z.Records))
	wire := make([]byte, 256)
	buf := make([]byte, 65535)
	recs := z.Records
	for i := 0; i < len(recs); {
		// Records are in canonical order: one run per (name, type).
		j := i + 1
		for j < len(recs) && recs[j].Name == recs[i].Name && recs[j].Type == recs[i].Type {
			j++
		}
		run := recs[i:j]
		i = j
		qt := run[0].Type
		if qt != dns.TypeA && qt != dns.TypeAAAA && qt != dns.TypeSRV || len(run) > maxFastAnswers {
			continue
		}
		owner := dns.Fqdn(run[0].Name)
		shadowed := false
		for _, c := range children {
			if dns.IsSubDomain(c, owner) {
				shadowed = true
			}
		}
		if shadowed {
			continue
		}
		n, err := dns.PackDomainName(owner, wire, 0, nil, false)
		if err != nil {
			continue
		}
		p := &prepared{}
		ok := true
		for k := range run {
			m, err := dns.PackRR(run[k].RR(), buf, 0, nil, false)
			if err != nil || m <= n {
				ok = false
				break
			}
			block := make([]byte, 0, 2+m-n)
			block = append(block, 0xC0, 0x0C)
			block = append(block, buf[n:m]...)
			p.answers = append(p.answers, block)
			p.size += len(block)
		}
		if !ok {
			continue
		}
		key := binary.BigEndian.AppendUint16(append([]byte(nil), wire[:n]...), qt)
		t[string(key)] = p
	}
	return t
}

// AnswerFast implements dnsserver.Handler.
func (h *Handler) AnswerFast(q, out []byte, network dnsserver.Network) (int, bool) {
	s := h.served.Load()
	if len(s.fast) == 0 || len(q) < 12+5 {
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
	p := s.fast[string(key[:n+2])]
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
