package directory

import (
	"cmp"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Options configure an Index.
type Options struct {
	// ClusterID is this cluster's crypto id, the <cryptoid> of
	// *.<label>.<cryptoid>.dcos.directory (§A.2 rule 4): the z-base-32
	// public key. Empty disables that alias.
	ClusterID string
}

// Index answers queries from a set of zones. It is immutable: build a new
// one (With) when a zone changes and swap it atomically; readers never
// lock. The RRs it returns are shared between queries and must not be
// modified (copy before mutating, as with any cached DNS data).
type Index struct {
	opts  Options
	zones map[string]*zoneIndex
}

type zoneIndex struct {
	zone  *Zone
	soa   []dns.RR
	nodes map[string]node
	// ents are empty non-terminals: names with no records that have
	// records below them (NODATA rather than NXDOMAIN).
	ents map[string]bool
}

// node locates one owner's records in the zone's records, which are in
// canonical order (by name, then type). Their RRs are made when a query
// asks for them: an index over a zone of a large cluster's hundreds of
// thousands of names would otherwise hold an RR per record beside the
// records themselves (twice, while a new zone version replaces the old).
type node struct{ lo, hi int32 }

// rrs returns the owner's records of type t as RRs (fresh, owned by the
// caller).
func (zi *zoneIndex) rrs(n node, t uint16) []dns.RR {
	recs := zi.zone.Records[n.lo:n.hi]
	i, _ := slices.BinarySearchFunc(recs, t, func(r Record, t uint16) int { return cmp.Compare(r.Type, t) })
	var out []dns.RR
	for ; i < len(recs) && recs[i].Type == t; i++ {
		out = append(out, recs[i].RR())
	}
	return out
}

// all returns every record of the owner as RRs.
func (zi *zoneIndex) all(n node) []dns.RR {
	recs := zi.zone.Records[n.lo:n.hi]
	out := make([]dns.RR, 0, len(recs))
	for i := range recs {
		out = append(out, recs[i].RR())
	}
	return out
}

func newZoneIndex(z *Zone) *zoneIndex {
	zi := &zoneIndex{zone: z, nodes: make(map[string]node, len(z.Records)/2+1), ents: map[string]bool{}}
	for i := 0; i < len(z.Records); {
		r := &z.Records[i]
		j := i + 1
		for j < len(z.Records) && z.Records[j].Name == r.Name {
			j++
		}
		zi.nodes[r.Name] = node{lo: int32(i), hi: int32(j)}
		zi.addENTs(r.Name)
		i = j
	}
	for i := range z.Records {
		if r := &z.Records[i]; r.Type == dns.TypeSOA {
			zi.soa = []dns.RR{r.RR()}
		}
	}
	return zi
}

// addENTs records the names between name and the apex as empty
// non-terminals (those that have records are found as nodes first).
func (zi *zoneIndex) addENTs(name string) {
	for p := name; p != zi.zone.Name; {
		i := strings.IndexByte(p, '.')
		if i < 0 {
			return
		}
		p = p[i+1:]
		if p == zi.zone.Name || zi.ents[p] {
			return
		}
		zi.ents[p] = true
	}
}

// NewIndex indexes zones (the later of two zones with one name wins).
func NewIndex(opts Options, zones ...*Zone) *Index {
	ix := &Index{opts: opts, zones: make(map[string]*zoneIndex, len(zones))}
	for _, z := range zones {
		if z != nil {
			ix.zones[z.Name] = newZoneIndex(z)
		}
	}
	return ix
}

// With returns a new index where the given zones replace those of the same
// name; the other zones' indexes are shared, so installing one gossiped
// zone costs only that zone's indexing.
func (ix *Index) With(zones ...*Zone) *Index {
	out := &Index{opts: ix.opts, zones: maps.Clone(ix.zones)}
	for _, z := range zones {
		if z != nil {
			out.zones[z.Name] = newZoneIndex(z)
		}
	}
	return out
}

// Without returns a new index without the named zones.
func (ix *Index) Without(names ...string) *Index {
	out := &Index{opts: ix.opts, zones: maps.Clone(ix.zones)}
	for _, n := range names {
		delete(out.zones, n)
	}
	return out
}

// Zone returns the zone with the given name, or nil.
func (ix *Index) Zone(name string) *Zone {
	if zi := ix.zones[name]; zi != nil {
		return zi.zone
	}
	return nil
}

// Zones returns the indexed zones sorted by name.
func (ix *Index) Zones() []*Zone {
	out := make([]*Zone, 0, len(ix.zones))
	for _, k := range slices.Sorted(maps.Keys(ix.zones)) {
		out = append(out, ix.zones[k].zone)
	}
	return out
}

// Names returns every owner name of every zone, sorted (for preparing
// answers per name, or listing).
func (ix *Index) Names() []string {
	var out []string
	for _, zi := range ix.zones {
		for n := range zi.nodes {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Alias is a suffix rewrite of §A.2 rules 1–4: a query under From is
// answered as the same name under To, and To is rewritten back to From in
// the answer.
type Alias struct{ From, To string }

// Canonical applies the aliases of §A.2 rules 1–4 to a lower-case name
// without trailing dot:
//  1. *.dclb.thisdcos.directory → *.l4lb.thisdcos.directory
//  2. *.dclb.thisdcos.global → *.l4lb.thisdcos.directory
//  3. *.<label>.thisdcos.global → *.<label>.thisdcos.directory
//  4. *.<label>.<cryptoid>.dcos.directory → *.<label>.thisdcos.directory
//     when <cryptoid> is this cluster's id.
//
// It returns the canonical name and the alias used (zero when none).
func (ix *Index) Canonical(name string) (string, Alias) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	try := func(n, from, to string) (string, Alias, bool) {
		if n == from || strings.HasSuffix(n, "."+from) {
			return n[:len(n)-len(from)] + to, Alias{From: from, To: to}, true
		}
		return n, Alias{}, false
	}
	if c, a, ok := try(name, "dclb.thisdcos.directory", "l4lb.thisdcos.directory"); ok {
		return c, a
	}
	if c, a, ok := try(name, "dclb.thisdcos.global", "l4lb.thisdcos.directory"); ok {
		return c, a
	}
	labels := strings.Split(name, ".")
	n := len(labels)
	if n >= 3 && labels[n-2] == "thisdcos" && labels[n-1] == "global" {
		from := labels[n-3] + ".thisdcos.global"
		c, a, _ := try(name, from, labels[n-3]+".thisdcos.directory")
		return c, a
	}
	if ix.opts.ClusterID != "" && n >= 4 && labels[n-3] == strings.ToLower(ix.opts.ClusterID) && labels[n-2] == "dcos" && labels[n-1] == "directory" {
		from := labels[n-4] + "." + labels[n-3] + ".dcos.directory"
		to := labels[n-4] + ".thisdcos.directory"
		if labels[n-4] == "dclb" {
			to = "l4lb.thisdcos.directory"
		}
		c, a, _ := try(name, from, to)
		return c, a
	}
	return name, Alias{}
}

// Result is the answer to one question.
type Result struct {
	Rcode int
	// Authoritative is set for every answer from the local zones.
	Authoritative bool
	// Answer holds CNAMEs of a chain first, then the records of the type.
	Answer []dns.RR
	// Ns holds the zone's SOA on NXDOMAIN and NODATA.
	Ns []dns.RR
	// Zone is the zone that answered ("" when none covers the name).
	Zone string
}

// maxChain bounds CNAME chains inside the local zones.
const maxChain = 8

// Lookup answers (qname, qtype) from the local zones as dcos-dns's
// embedded authoritative server does (§A.3), after the aliases of §A.2:
//   - name exists with records of the type → NOERROR, AA, the records;
//     CNAMEs are followed inside the local zones and come first;
//   - name exists (or has names below it) but not the type → NOERROR with
//     the zone's SOA in authority (NODATA);
//   - name absent from an existing zone → NXDOMAIN with the SOA;
//   - no zone covers the name → NOERROR, AA, empty (dcos-dns's QUIRK: no
//     root hints);
//   - RRSIG → REFUSED; ANY → every record of the name.
func (ix *Index) Lookup(qname string, qtype uint16) Result {
	canon, alias := ix.Canonical(qname)
	res := ix.lookup(canon, qtype)
	if alias.From != "" {
		res.Answer = renameAll(res.Answer, alias)
		res.Ns = renameAll(res.Ns, alias)
		if res.Zone != "" {
			res.Zone = rename(res.Zone+".", alias)
			res.Zone = strings.TrimSuffix(res.Zone, ".")
		}
	}
	return res
}

func (ix *Index) findZone(name string) *zoneIndex {
	for n := name; ; {
		if zi := ix.zones[n]; zi != nil {
			return zi
		}
		i := strings.IndexByte(n, '.')
		if i < 0 {
			return nil
		}
		n = n[i+1:]
	}
}

func (ix *Index) lookup(name string, qtype uint16) Result {
	if qtype == dns.TypeRRSIG {
		return Result{Rcode: dns.RcodeRefused}
	}
	res := Result{Rcode: dns.RcodeSuccess, Authoritative: true}
	for hop := 0; hop <= maxChain; hop++ {
		zi := ix.findZone(name)
		if zi == nil {
			if hop == 0 {
				return res
			}
			return res // chain leaves the local zones: the CNAMEs are the answer
		}
		res.Zone = zi.zone.Name
		n, ok := zi.nodes[name]
		if !ok {
			res.Ns = zi.soa
			if !zi.ents[name] {
				res.Rcode = dns.RcodeNameError
			}
			return res
		}
		if qtype == dns.TypeANY {
			res.Answer = append(res.Answer, zi.all(n)...)
			return res
		}
		if rrs := zi.rrs(n, qtype); len(rrs) > 0 {
			res.Answer = append(res.Answer, rrs...)
			return res
		}
		cn := zi.rrs(n, dns.TypeCNAME)
		if len(cn) == 0 {
			res.Ns = zi.soa
			return res
		}
		res.Answer = append(res.Answer, cn[0])
		name = strings.TrimSuffix(cn[0].(*dns.CNAME).Target, ".")
	}
	return res
}

func rename(s string, a Alias) string {
	to, from := a.To+".", a.From+"."
	if s == to {
		return from
	}
	if strings.HasSuffix(s, "."+to) {
		return s[:len(s)-len(to)] + from
	}
	return s
}

func renameAll(rrs []dns.RR, a Alias) []dns.RR {
	if len(rrs) == 0 {
		return rrs
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Name = rename(c.Header().Name, a)
		switch v := c.(type) {
		case *dns.CNAME:
			v.Target = rename(v.Target, a)
		case *dns.NS:
			v.Ns = rename(v.Ns, a)
		case *dns.SRV:
			v.Target = rename(v.Target, a)
		case *dns.SOA:
			v.Ns = rename(v.Ns, a)
			v.Mbox = rename(v.Mbox, a)
		}
		out[i] = c
	}
	return out
}

// Reply answers the first question of req from the local zones and returns
// the reply: QR and AA set, RA clear, the question echoed, answers rotated
// left by (message id mod count) after the leading CNAMEs (dcos-dns's
// round_robin load balancing). A request without a question gets FORMERR.
// The caller applies EDNS0 and truncation for its transport (e.g.
// reply.Truncate(size)); the RRs in the reply are shared, never modify
// them.
func (ix *Index) Reply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if len(req.Question) == 0 {
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	m.SetReply(req)
	m.RecursionAvailable = false
	q := req.Question[0]
	res := ix.Lookup(q.Name, q.Qtype)
	m.Rcode = res.Rcode
	m.Authoritative = res.Authoritative
	m.Answer = Rotate(res.Answer, req.Id)
	m.Ns = res.Ns
	return m
}

// Rotate returns the records with the leading CNAMEs kept first and the
// rest rotated left by id mod their count. The input is not modified.
func Rotate(rrs []dns.RR, id uint16) []dns.RR {
	c := 0
	for c < len(rrs) && rrs[c].Header().Rrtype == dns.TypeCNAME {
		c++
	}
	rest := len(rrs) - c
	if rest < 2 {
		return rrs
	}
	k := int(id) % rest
	if k == 0 {
		return rrs
	}
	out := make([]dns.RR, 0, len(rrs))
	out = append(out, rrs[:c]...)
	out = append(out, rrs[c+k:]...)
	return append(out, rrs[c:c+k]...)
}

// APIRecord is one element of GET /v1/records.
type APIRecord struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	RType string `json:"rtype"`
}

// Records returns every A, AAAA and SRV record of every zone (SOA, NS and
// CNAME skipped), zones in name order, records in canonical order.
func (ix *Index) Records() []APIRecord {
	var out []APIRecord
	for _, z := range ix.Zones() {
		for i := range z.Records {
			r := &z.Records[i]
			switch r.Type {
			case dns.TypeA, dns.TypeAAAA, dns.TypeSRV:
				out = append(out, APIRecord{Name: r.Name, Host: r.Value(), RType: dns.TypeToString[r.Type]})
			}
		}
	}
	return out
}

// WriteRecords streams /v1/records as dcos-net does: a JSON array whose
// elements are separated by ",\n".
func (ix *Index) WriteRecords(w io.Writer) error {
	var b []byte
	b = append(b, '[')
	first := true
	for _, z := range ix.Zones() {
		for i := range z.Records {
			r := &z.Records[i]
			switch r.Type {
			case dns.TypeA, dns.TypeAAAA, dns.TypeSRV:
			default:
				continue
			}
			if !first {
				b = append(b, ",\n"...)
			}
			first = false
			b = append(b, `{"name":`...)
			b = strconv.AppendQuote(b, r.Name)
			b = append(b, `,"host":`...)
			b = strconv.AppendQuote(b, r.Value())
			b = append(b, `,"rtype":`...)
			b = strconv.AppendQuote(b, dns.TypeToString[r.Type])
			b = append(b, '}')
			if len(b) > 32<<10 {
				if _, err := w.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
	}
	b = append(b, ']')
	_, err := w.Write(b)
	return err
}

// APIHost is one element of GET /v1/hosts/<name>.
type APIHost struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
}

// Hosts answers GET /v1/hosts/<name>: the A records of name in the local
// zones (no forwarding, no AAAA), each with its owner name; [] when none.
func (ix *Index) Hosts(name string) []APIHost {
	out := []APIHost{}
	for _, rr := range ix.Lookup(name, dns.TypeA).Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, APIHost{Host: strings.TrimSuffix(a.Hdr.Name, "."), IP: a.A.String()})
		}
	}
	return out
}

// APIService is one element of GET /v1/services/<name>.
type APIService struct {
	Service string `json:"service"`
	Host    string `json:"host"`
	Port    uint16 `json:"port"`
	// IP is the target's first A record in the local zones, omitted when
	// it has none.
	IP string `json:"ip,omitempty"`
}

// Services answers GET /v1/services/<name>: the SRV records of name in the
// local zones, each target A-resolved locally; [] when none.
func (ix *Index) Services(name string) []APIService {
	out := []APIService{}
	for _, rr := range ix.Lookup(name, dns.TypeSRV).Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		s := APIService{Service: strings.TrimSuffix(srv.Hdr.Name, "."), Host: strings.TrimSuffix(srv.Target, "."), Port: srv.Port}
		for _, a := range ix.Lookup(srv.Target, dns.TypeA).Answer {
			if a, ok := a.(*dns.A); ok {
				s.IP = a.A.String()
				break
			}
		}
		out = append(out, s)
	}
	return out
}
