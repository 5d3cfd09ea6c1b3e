package dcosdns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Record constants of every zone dcos-net builds (spec §A.4).
const (
	// DataTTL is the TTL of every A, AAAA, SRV and CNAME record.
	DataTTL = 5
	soaTTL  = 5
	nsTTL   = 3600
	nsName  = "ns.spartan."
	soaMbox = "support.mesosphere.com."
)

// Zone is one immutable DNS zone served from memory. Build it with
// NewZone; never change it afterwards (readers share it without locks).
type Zone struct {
	// Name is the lower-case FQDN of the apex, e.g. "dcos.thisdcos.directory.".
	Name string
	// Version is the publisher's version (gossip), or 0 for local zones.
	Version uint64

	// byName maps lower-case owner names to their records, apex SOA and NS
	// included. Owner names inside the map are already lower-case.
	byName map[string][]dns.RR
	// parents holds every proper ancestor of an owner name inside the zone
	// (empty non-terminals), so that they answer NODATA, not NXDOMAIN.
	parents map[string]bool
	soa     *dns.SOA
	count   int
}

// ApexRecords returns the SOA and NS records dcos-net puts at the apex of
// every zone it builds (spec §A.4).
func ApexRecords(zone string) []dns.RR {
	zone = dns.Fqdn(strings.ToLower(zone))
	return []dns.RR{
		&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
			Ns: nsName, Mbox: soaMbox, Serial: 1, Refresh: 60, Retry: 180, Expire: 86400, Minttl: 1},
		&dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL}, Ns: nsName},
	}
}

// NewZone builds a zone from its records. Records outside the zone are
// dropped and reported; the apex SOA and NS of §A.4 are added unless the
// records already carry an SOA. Duplicate records are kept once.
func NewZone(name string, version uint64, rrs []dns.RR) (*Zone, error) {
	name = dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("zone %q: not a domain name", name)
	}
	z := &Zone{Name: name, Version: version, byName: map[string][]dns.RR{}, parents: map[string]bool{}}
	hasSOA := false
	for _, rr := range rrs {
		if rr != nil && rr.Header().Rrtype == dns.TypeSOA {
			hasSOA = true
		}
	}
	if !hasSOA {
		rrs = append(ApexRecords(name), rrs...)
	}
	var errs []error
	seen := map[string]bool{}
	for _, rr := range rrs {
		if rr == nil {
			continue
		}
		rr = dns.Copy(rr)
		h := rr.Header()
		h.Name = strings.ToLower(dns.Fqdn(h.Name))
		if !dns.IsSubDomain(name, h.Name) {
			errs = append(errs, fmt.Errorf("zone %s: record %q is outside the zone; skipped", name, rr.String()))
			continue
		}
		if h.Rrtype == dns.TypeSOA && h.Name != name {
			errs = append(errs, fmt.Errorf("zone %s: SOA %q not at the apex; skipped", name, rr.String()))
			continue
		}
		if h.Class == 0 {
			h.Class = dns.ClassINET
		}
		key := rr.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		if soa, ok := rr.(*dns.SOA); ok {
			if z.soa != nil {
				continue
			}
			z.soa = soa
		}
		z.byName[h.Name] = append(z.byName[h.Name], rr)
		z.count++
		for n := h.Name; n != name; {
			i, end := dns.NextLabel(n, 0)
			if end {
				break
			}
			n = n[i:]
			if !dns.IsSubDomain(name, n) || n == name {
				break
			}
			z.parents[n] = true
		}
	}
	return z, errors.Join(errs...)
}

// Len returns the number of records, apex included.
func (z *Zone) Len() int { return z.count }

// SOA returns the apex SOA.
func (z *Zone) SOA() *dns.SOA { return z.soa }

// Lookup returns the records at a lower-case FQDN (shared: do not modify)
// and whether the name exists (it has records or is an empty non-terminal).
func (z *Zone) Lookup(name string) ([]dns.RR, bool) {
	rrs, ok := z.byName[name]
	if ok {
		return rrs, true
	}
	return nil, z.parents[name]
}

// Records returns every record sorted by owner name, then type, then text.
func (z *Zone) Records() []dns.RR {
	out := make([]dns.RR, 0, z.count)
	names := make([]string, 0, len(z.byName))
	for n := range z.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rrs := append([]dns.RR(nil), z.byName[n]...)
		sort.SliceStable(rrs, func(i, j int) bool {
			if rrs[i].Header().Rrtype != rrs[j].Header().Rrtype {
				return rrs[i].Header().Rrtype < rrs[j].Header().Rrtype
			}
			return rrs[i].String() < rrs[j].String()
		})
		out = append(out, rrs...)
	}
	return out
}

// Zones is an immutable set of zones keyed by apex name.
type Zones struct {
	byName map[string]*Zone
}

// NewZones builds a set; a later zone with the same name replaces an
// earlier one.
func NewZones(zs ...*Zone) *Zones {
	s := &Zones{byName: make(map[string]*Zone, len(zs))}
	for _, z := range zs {
		if z != nil {
			s.byName[z.Name] = z
		}
	}
	return s
}

// With returns a new set with z added or replaced.
func (s *Zones) With(z *Zone) *Zones {
	n := &Zones{byName: make(map[string]*Zone, len(s.byName)+1)}
	for k, v := range s.byName {
		n.byName[k] = v
	}
	n.byName[z.Name] = z
	return n
}

// Get returns the zone with the apex name (lower-case FQDN).
func (s *Zones) Get(name string) *Zone { return s.byName[name] }

// All returns the zones sorted by name.
func (s *Zones) All() []*Zone {
	out := make([]*Zone, 0, len(s.byName))
	for _, z := range s.byName {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Find returns the nearest enclosing zone of a lower-case FQDN, or nil.
func (s *Zones) Find(name string) *Zone {
	for n := name; ; {
		if z, ok := s.byName[n]; ok {
			return z
		}
		i, end := dns.NextLabel(n, 0)
		if end || n == "." {
			return nil
		}
		n = n[i:]
		if n == "" {
			n = "."
		}
	}
}

// Zone payload codec: how a zone travels in a gossip message. The payload
// is
//
//	"SXZ1" count:uint32 then count × (len:uint16, one RR in DNS wire format, uncompressed)
//
// Wire format reuses the DNS parser (fuzzed upstream and here) instead of
// inventing a record syntax; the zone name and version travel in the
// gossip envelope.
const (
	payloadMagic = "SXZ1"
	// maxPayloadRecords bounds what a peer can make us allocate.
	maxPayloadRecords = 1 << 20
)

// EncodeZone serialises a zone's records (the apex SOA/NS included).
func EncodeZone(z *Zone) ([]byte, error) {
	rrs := z.Records()
	b := make([]byte, 0, 8+len(rrs)*48)
	b = append(b, payloadMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(rrs)))
	buf := make([]byte, 65535)
	for _, rr := range rrs {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("encode zone %s: record %q: %w", z.Name, rr.String(), err)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = append(b, buf[:n]...)
	}
	return b, nil
}

// DecodeZone parses a payload into a zone. A record that does not parse
// stops decoding (the framing is lost); a record outside the zone is
// skipped and reported through the returned error while the zone is still
// returned.
func DecodeZone(name string, version uint64, b []byte) (*Zone, error) {
	if len(b) < 8 || string(b[:4]) != payloadMagic {
		return nil, fmt.Errorf("zone %s payload: field magic: not a zone payload", name)
	}
	count := binary.BigEndian.Uint32(b[4:8])
	if count > maxPayloadRecords || int(count) > (len(b)-8)/2 {
		return nil, fmt.Errorf("zone %s payload: field count: %d records cannot fit in %d bytes", name, count, len(b))
	}
	rest := b[8:]
	rrs := make([]dns.RR, 0, count)
	for i := range count {
		if len(rest) < 2 {
			return nil, fmt.Errorf("zone %s payload: record %d: field length: truncated", name, i)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if n > len(rest) {
			return nil, fmt.Errorf("zone %s payload: record %d: field length: %d bytes, %d left", name, i, n, len(rest))
		}
		rr, off, err := dns.UnpackRR(rest[:n], 0)
		if err != nil || off != n || rr == nil {
			return nil, fmt.Errorf("zone %s payload: record %d: field rdata: %v", name, i, err)
		}
		rrs = append(rrs, rr)
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("zone %s payload: field trailer: %d extra bytes", name, len(rest))
	}
	return NewZone(name, version, rrs)
}
