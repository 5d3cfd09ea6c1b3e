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

// maxFastAnswers bounds the answers of a prepared name: each of the N
// round-robin rotations is prepared, so memory grows as N².
const maxFastAnswers = 16

// prepared holds one name/type's replies: plain[k] answers a query whose
// ID mod N is k (dcos-dns' round_robin rotation), withOPT[k] the same
// with the OPT record of an EDNS0 query.
type prepared struct {
	plain   [][]byte
	withOPT [][]byte
}

// fastTable maps the lower-case wire-format question name followed by
// the big-endian qtype to prepared replies.
type fastTable map[string]*prepared

// served is what the handler answers from: the index and its fast table.
type served struct {
	ix   *directory.Index
	fast fastTable
}

// prepareZone prepares the fast replies of one zone's names, answered by
// the whole index ix.
func prepareZone(ix *directory.Index, z *directory.Zone) fastTable {
	t := fastTable{}
	seen := map[string]bool{}
	wire := make([]byte, 256)
	for i := range z.Records {
		name := z.Records[i].Name
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, qt := range [...]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			q := new(dns.Msg)
			q.SetQuestion(dns.Fqdn(name), qt)
			q.RecursionDesired = false
			r := ix.Reply(q)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || len(r.Answer) > maxFastAnswers {
				continue
			}
			cname := false
			for _, rr := range r.Answer {
				if rr.Header().Rrtype == dns.TypeCNAME {
					cname = true
				}
			}
			if cname {
				continue
			}
			p := &prepared{}
			ok := true
			for k := range len(r.Answer) {
				q.Id = uint16(k)
				for _, opt := range []bool{false, true} {
					m := ix.Reply(q)
					if opt {
						m.SetEdns0(ednsSize, false)
					}
					m.Compress = true
					b, err := m.Pack()
					if err != nil {
						ok = false
						break
					}
					if opt {
						p.withOPT = append(p.withOPT, b)
					} else {
						p.plain = append(p.plain, b)
					}
				}
			}
			if !ok {
				continue
			}
			n, err := dns.PackDomainName(dns.Fqdn(name), wire, 0, nil, false)
			if err != nil {
				continue
			}
			key := binary.BigEndian.AppendUint16(append([]byte(nil), wire[:n]...), qt)
			t[string(key)] = p
		}
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
	variants := p.plain
	if edns {
		variants = p.withOPT
	}
	id := uint16(q[0])<<8 | uint16(q[1])
	r := variants[int(id)%len(variants)]
	if network == dnsserver.TCP {
		limit = 65535
	}
	if len(r) > limit || len(r) > len(out) {
		return 0, false
	}
	copy(out, r)
	// ID, RD and CD from the query; the question as the client spelled it
	// (same length: the names are equal but for case).
	out[0], out[1] = q[0], q[1]
	out[2] = out[2]&^0x01 | q[2]&0x01
	out[3] = out[3]&^0x10 | q[3]&0x10
	copy(out[12:qEnd], q[12:qEnd])
	return len(r), true
}
