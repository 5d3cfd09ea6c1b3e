package resolver

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/dnsserver"
)

// maxFastName bounds the text form of a question name the fast path reads.
const maxFastName = 256

// AnswerFast answers the common questions from prepared wire bytes
// (dnsserver.Handler). It declines (ok=false) whenever the slow path must
// decide: anything outside the domain, DS, ANY, wildcard text, escapes,
// mixed-case A/AAAA (their owner must be the lower-case key), anything
// before the first record set is loaded (SERVFAIL), unusual
// section counts or EDNS versions, and the rare replies it cannot shape
// exactly like the slow path (oversized negative answers, SRV replies past
// the reach of compression pointers). Replies over the size limit are
// truncated here by the same §6.5 rule as the slow path.
//
// Once a name's answers are built (its first question), it allocates
// nothing: the name is lower-cased into a stack buffer and the map lookups
// with string(bytes) do not copy.
func (r *Resolver) AnswerFast(q, out []byte, nw dnsserver.Network) (int, bool) {
	if len(q) < 17 || q[2]&0x80 != 0 {
		return 0, false
	}
	if binary.BigEndian.Uint16(q[4:]) != 1 || binary.BigEndian.Uint16(q[6:]) != 0 || binary.BigEndian.Uint16(q[8:]) != 0 {
		return 0, false
	}
	ar := binary.BigEndian.Uint16(q[10:])
	if ar > 1 {
		return 0, false
	}
	// Question name: plain labels only, copied lower-cased as text.
	var buf [maxFastName]byte
	n := 0
	upper := false
	p := 12
	for {
		if p >= len(q) {
			return 0, false
		}
		l := int(q[p])
		p++
		if l == 0 {
			break
		}
		if l > 63 || p+l > len(q) || n+l+1 > maxFastName {
			return 0, false
		}
		for _, c := range q[p : p+l] {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
				upper = true
			default:
				return 0, false
			}
			buf[n] = c
			n++
		}
		buf[n] = '.'
		n++
		p += l
	}
	if n == 0 || p+4 > len(q) {
		return 0, false
	}
	qt := binary.BigEndian.Uint16(q[p:])
	qend := p + 4
	// EDNS0: exactly one OPT record, version 0, ending the packet.
	hasOpt, do := false, byte(0)
	limit := 65535
	if nw == dnsserver.UDP {
		limit = 512
	}
	if ar == 1 {
		o := qend
		if o+11 > len(q) || q[o] != 0 || binary.BigEndian.Uint16(q[o+1:]) != dns.TypeOPT || q[o+6] != 0 {
			return 0, false
		}
		if o+11+int(binary.BigEndian.Uint16(q[o+9:])) != len(q) {
			return 0, false
		}
		hasOpt = true
		do = q[o+7] & 0x80
		if nw == dnsserver.UDP {
			limit = min(max(int(binary.BigEndian.Uint16(q[o+3:])), 512), r.cfg.MaxUDPSize)
		}
	} else if qend != len(q) {
		return 0, false
	}
	name := buf[:n]
	d := r.cfg.domain
	if !(n == len(d) && string(name) == d) && !(n > len(d) && string(name[n-len(d):]) == d && name[n-len(d)-1] == '.') {
		return 0, false
	}
	z := r.cur.Load()
	if !z.loaded {
		return 0, false // SERVFAIL until the first load: the slow path's
	}
	var t *tpl
	e := z.get(name)
	switch qt {
	case dns.TypeA, dns.TypeAAAA:
		if upper {
			return 0, false
		}
		if e != nil {
			if qt == dns.TypeA {
				t = e.fastA
			} else {
				t = e.fast4
			}
			if t == nil && (qt == dns.TypeA && len(e.a) > 0 || qt == dns.TypeAAAA && len(e.aaaa) > 0) {
				return 0, false // answers exist but have no template
			}
		}
	case dns.TypeSRV:
		t = &z.empty
		if e != nil && len(e.srv) > 0 {
			if t = e.fastSRV; t == nil {
				return 0, false
			}
		}
	case dns.TypeSOA:
		t = &z.nodata
	case dns.TypeNS:
		t = &z.ns
	case dns.TypeANY, dns.TypeDS:
		return 0, false
	}
	if t == nil {
		// No answer: NXDOMAIN or NODATA with the SOA.
		if e == nil {
			t = &z.nx
		} else {
			t = &z.nodata
		}
	}
	if t.rcode == 0xFF {
		return 0, false
	}
	optLen := 0
	if hasOpt {
		optLen = 11
	}
	ansEnd := int(t.chunks[len(t.chunks)-1])
	tail := t.rest[ansEnd:]
	full := qend + len(t.rest) + t.extraLen + optLen
	if len(t.extra) > 0 && full > 0x3FFF {
		return 0, false // compression pointers would not reach: slow path
	}
	// §6.5: over the limit, the additional section goes, then answers from
	// the end until the reply is strictly below the limit.
	trunc := full > limit
	if trunc && len(tail) > 0 {
		return 0, false
	}
	if full > len(out) && !trunc {
		return 0, false
	}
	var start time.Time
	sample := rand.Uint32()&63 == 0
	if sample {
		start = time.Now()
	}
	// Header: ID copied; QR, AA; opcode copied; RD and CD copied for
	// QUERY (as miekg/dns SetReply does); RA from recurseon.
	out[0], out[1] = q[0], q[1]
	op := q[2] & 0x78
	out[2] = 0x80 | 0x04 | op
	out[3] = t.rcode
	if op == 0 {
		out[2] |= q[2] & 0x01
		out[3] |= q[3] & 0x10
	}
	if trunc && r.cfg.SetTruncateBit {
		out[2] |= 0x02
	}
	if r.cfg.RecurseOn {
		out[3] |= 0x80
	}
	// The question exactly as sent (case, class).
	copy(out[12:], q[12:qend])
	budget := -1
	if trunc {
		budget = limit - qend - optLen
	}
	w, an := writeAnswers(out, qend, t, budget, !trunc && len(t.extra) > 0)
	arOut := 0
	if !trunc {
		w += copy(out[w:], tail)
		arOut = len(t.extra)
	}
	if hasOpt {
		o := out[w : w+11]
		o[0] = 0
		binary.BigEndian.PutUint16(o[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(o[3:], uint16(r.cfg.MaxUDPSize))
		o[5], o[6], o[7], o[8] = 0, 0, do, 0
		o[9], o[10] = 0, 0
		w += 11
		arOut++
	}
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], uint16(an))
	binary.BigEndian.PutUint16(out[8:], t.ns)
	binary.BigEndian.PutUint16(out[10:], uint16(arOut))
	r.m.countFast(qt, int(t.rcode))
	if sample {
		r.m.latency[pathFast].Observe(time.Since(start).Seconds())
	}
	return w, true
}

// maxShuffle is the most answers shuffled in full; longer lists are
// rotated by a random offset (every answer still comes first equally
// often, which is what clients that take the first answer see).
const maxShuffle = 256

// writeAnswers writes the answer chunks in a random order from offset w,
// stopping before the first chunk that would bring the answers to budget
// bytes or more (budget < 0: no limit), and, when extras is set, the SRV
// additional records with owners pointing at their target in the answers.
// It returns the new offset and the number of answers written.
func writeAnswers(out []byte, w int, t *tpl, budget int, extras bool) (int, int) {
	n := int(t.an)
	if n == 0 {
		return w, 0
	}
	var perm [maxShuffle]uint16
	var where [maxShuffle]uint16 // output offset of each chunk (n <= maxShuffle)
	rot := 0
	if n <= maxShuffle {
		for i := 0; i < n; i++ {
			perm[i] = uint16(i)
		}
	} else {
		rot = rand.IntN(n)
	}
	base, used, an := w, 0, 0
	for i := 0; i < n; i++ {
		k := (i + rot) % n
		if n <= maxShuffle {
			// Fisher–Yates one step at a time: the answers written so far
			// are a uniformly random prefix of a uniformly random order,
			// and a truncated reply only pays for the answers it keeps.
			j := i + rand.IntN(n-i)
			perm[i], perm[j] = perm[j], perm[i]
			k = int(perm[i])
		}
		c := t.rest[t.chunks[k]:t.chunks[k+1]]
		if budget >= 0 && used+len(c) >= budget {
			break
		}
		if n <= maxShuffle {
			where[k] = uint16(w)
		}
		w += copy(out[w:], c)
		used += len(c)
		an++
	}
	if extras {
		end := t.chunks[n]
		for _, x := range t.extra {
			var off int
			switch {
			case n <= maxShuffle:
				off = int(where[x.chunk])
			case x.chunk >= rot:
				off = base + int(t.chunks[x.chunk]-t.chunks[rot])
			default:
				off = base + int(end-t.chunks[rot]) + int(t.chunks[x.chunk])
			}
			binary.BigEndian.PutUint16(out[w:], 0xC000|uint16(off+srvTargetOff))
			w += 2
			w += copy(out[w:], x.body)
		}
	}
	return w, an
}
