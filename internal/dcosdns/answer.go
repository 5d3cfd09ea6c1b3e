package dcosdns

import (
	"strings"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds CNAME chasing inside the local zones.
const maxCNAMEChain = 8

// ednsSize is the UDP payload size we advertise in replies to EDNS0
// queries (the DNS flag day 2020 value, which avoids IP fragmentation).
const ednsSize = 1232

// answerLocal resolves the first question of req from the local zones the
// way dcos-dns' embedded authoritative server did (spec §A.3 "Internal
// resolution"): AA set, RA clear; records of the nearest enclosing zone;
// CNAME chains inside the local zones followed, CNAMEs first; NXDOMAIN or
// NODATA with the zone SOA in authority; no enclosing zone → NOERROR and an
// empty answer (a dcos-dns quirk we keep); RRSIG → REFUSED. Answers other
// than CNAMEs are rotated left by (ID mod N), dcos-dns' default
// "round_robin" order. qname is the lower-case name to resolve (already
// rewritten by an alias rule).
func answerLocal(req *dns.Msg, qname string, zones *Zones) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = false
	if len(req.Question) == 0 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	if q.Qtype == dns.TypeRRSIG {
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
		return m
	}
	z := zones.Find(qname)
	if z == nil {
		return m
	}
	name := qname
	var cnames []dns.RR
	for hop := 0; ; hop++ {
		rrs, exists := z.Lookup(name)
		if !exists {
			if len(cnames) == 0 {
				m.Rcode = dns.RcodeNameError
			}
			m.Answer = cnames
			m.Ns = []dns.RR{z.SOA()}
			return m
		}
		var matched []dns.RR
		var cname dns.RR
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			switch {
			case t == q.Qtype || q.Qtype == dns.TypeANY:
				matched = append(matched, rr)
			case t == dns.TypeCNAME:
				cname = rr
			}
		}
		if len(matched) > 0 {
			m.Answer = append(cnames, rotate(matched, req.Id)...)
			return m
		}
		if cname == nil || hop >= maxCNAMEChain {
			m.Answer = cnames
			m.Ns = []dns.RR{z.SOA()}
			return m
		}
		cnames = append(cnames, cname)
		target := strings.ToLower(cname.(*dns.CNAME).Target)
		nz := zones.Find(target)
		if nz == nil {
			// The chain leaves the local zones: return what we have, as
			// an authoritative server without recursion does.
			m.Answer = cnames
			return m
		}
		z, name = nz, target
	}
}

// rotate returns rrs rotated left by id mod len (a copy when rotated).
func rotate(rrs []dns.RR, id uint16) []dns.RR {
	n := len(rrs)
	if n < 2 {
		return rrs
	}
	k := int(id) % n
	if k == 0 {
		return rrs
	}
	out := make([]dns.RR, 0, n)
	out = append(out, rrs[k:]...)
	return append(out, rrs[:k]...)
}

// fitReply applies the transport's size limit to a reply (spec §A.3):
// over UDP the client's EDNS0 payload size when it sent an OPT record,
// else 512 bytes; over TCP 65535. An oversize reply is truncated with TC
// set so the client retries over TCP. Replies to EDNS0 queries carry an
// OPT record (erldns answered EDNS0 with EDNS0).
func fitReply(req, m *dns.Msg, network string) {
	limit := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		if opt.UDPSize() > dns.MinMsgSize {
			limit = int(opt.UDPSize())
		}
		if m.IsEdns0() == nil {
			m.SetEdns0(ednsSize, opt.Do())
		}
	}
	if strings.HasPrefix(network, "tcp") {
		limit = dns.MaxMsgSize
	}
	m.Truncate(limit)
}

// rewriteSuffix returns name with suffix from replaced by to, when name
// ends with from (both lower-case FQDNs; name compared case-insensitively).
func rewriteSuffix(name, from, to string) string {
	ln := strings.ToLower(name)
	if ln == from[1:] {
		return to[1:]
	}
	if strings.HasSuffix(ln, from) {
		return name[:len(name)-len(from)] + to
	}
	return name
}

// renameReply rewrites every occurrence of the canonical suffix back to
// the alias suffix in a reply: question, owner names of every section,
// and the names inside CNAME, NS, SOA and SRV data (spec §A.2 aliasing).
// The reply's records are copies, so the shared zone data is untouched.
func renameReply(m *dns.Msg, canonical, alias string) {
	for i := range m.Question {
		m.Question[i].Name = rewriteSuffix(m.Question[i].Name, canonical, alias)
	}
	for _, sec := range []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra} {
		for i, rr := range *sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			h := rr.Header()
			h.Name = rewriteSuffix(h.Name, canonical, alias)
			switch v := rr.(type) {
			case *dns.CNAME:
				v.Target = rewriteSuffix(v.Target, canonical, alias)
			case *dns.NS:
				v.Ns = rewriteSuffix(v.Ns, canonical, alias)
			case *dns.SOA:
				v.Ns = rewriteSuffix(v.Ns, canonical, alias)
				v.Mbox = rewriteSuffix(v.Mbox, canonical, alias)
			case *dns.SRV:
				v.Target = rewriteSuffix(v.Target, canonical, alias)
			}
			(*sec)[i] = rr
		}
	}
}
