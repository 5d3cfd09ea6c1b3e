package directory

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// TTLs and SOA values every zone built by dcos-net carries (§A.4).
const (
	TTL    = 5    // A, AAAA, SRV, CNAME
	SOATTL = 5    // apex SOA
	NSTTL  = 3600 // apex NS
	// NameServer is the SOA mname and NS target of every zone.
	NameServer = "ns.spartan"
	// Hostmaster is the SOA rname.
	Hostmaster = "support.mesosphere.com"
)

// Record is one resource record of a zone. Names are lower case, fully
// qualified, without the trailing dot.
type Record struct {
	Name string
	Type uint16 // dns.TypeA, TypeAAAA, TypeSRV, TypeCNAME, TypeNS or TypeSOA
	TTL  uint32
	// Addr is the address of an A or AAAA record.
	Addr netip.Addr
	// Target is the CNAME/NS/SRV target or the SOA mname.
	Target string
	// SRV fields.
	Priority, Weight, Port uint16
	// SOA holds the SOA fields besides mname (nil for other types).
	SOA *SOA
}

// SOA is the data of an SOA record besides its mname (Record.Target).
type SOA struct {
	Rname                                   string
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// Value renders the record's data as /v1/records shows it: the address,
// "target:port" for SRV, the target otherwise.
func (r *Record) Value() string {
	switch r.Type {
	case dns.TypeA, dns.TypeAAAA:
		return r.Addr.String()
	case dns.TypeSRV:
		return r.Target + ":" + strconv.Itoa(int(r.Port))
	}
	return r.Target
}

// RR converts the record to a miekg/dns RR.
func (r *Record) RR() dns.RR {
	h := dns.RR_Header{Name: dns.Fqdn(r.Name), Rrtype: r.Type, Class: dns.ClassINET, Ttl: r.TTL}
	switch r.Type {
	case dns.TypeA:
		return &dns.A{Hdr: h, A: r.Addr.AsSlice()}
	case dns.TypeAAAA:
		return &dns.AAAA{Hdr: h, AAAA: r.Addr.AsSlice()}
	case dns.TypeSRV:
		return &dns.SRV{Hdr: h, Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: dns.Fqdn(r.Target)}
	case dns.TypeCNAME:
		return &dns.CNAME{Hdr: h, Target: dns.Fqdn(r.Target)}
	case dns.TypeNS:
		return &dns.NS{Hdr: h, Ns: dns.Fqdn(r.Target)}
	case dns.TypeSOA:
		return &dns.SOA{Hdr: h, Ns: dns.Fqdn(r.Target), Mbox: dns.Fqdn(r.SOA.Rname), Serial: r.SOA.Serial,
			Refresh: r.SOA.Refresh, Retry: r.SOA.Retry, Expire: r.SOA.Expire, Minttl: r.SOA.Minimum}
	}
	return nil
}

func compareRecords(a, b Record) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if a.Type != b.Type {
		return cmp.Compare(a.Type, b.Type)
	}
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if c := strings.Compare(a.Target, b.Target); c != 0 {
		return c
	}
	if a.Port != b.Port || a.Priority != b.Priority || a.Weight != b.Weight || a.TTL != b.TTL {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Priority, b.Priority),
			cmp.Compare(a.Weight, b.Weight), cmp.Compare(a.TTL, b.TTL))
	}
	switch {
	case a.SOA == nil && b.SOA == nil:
		return 0
	case a.SOA == nil:
		return -1
	case b.SOA == nil:
		return 1
	}
	x, y := a.SOA, b.SOA
	return cmp.Or(strings.Compare(x.Rname, y.Rname), cmp.Compare(x.Serial, y.Serial), cmp.Compare(x.Refresh, y.Refresh),
		cmp.Compare(x.Retry, y.Retry), cmp.Compare(x.Expire, y.Expire), cmp.Compare(x.Minimum, y.Minimum))
}

// Zone is one whole zone as built and distributed: dcos-net replaces a
// zone as a unit (never merges records), so a node either has a zone
// version completely or not at all.
type Zone struct {
	// Name is the apex, e.g. "dcos.thisdcos.directory".
	Name string
	// Version is set by the publisher and only increases for a zone name.
	Version uint64
	// Records are in canonical order (name, type, data) without duplicates;
	// the apex SOA and NS are among them.
	Records []Record
}

// Apex returns the SOA and NS records dcos-net adds at every zone's apex.
func Apex(zone string) []Record {
	return []Record{
		{Name: zone, Type: dns.TypeSOA, TTL: SOATTL, Target: NameServer,
			SOA: &SOA{Rname: Hostmaster, Serial: 1, Refresh: 60, Retry: 180, Expire: 86400, Minimum: 1}},
		{Name: zone, Type: dns.TypeNS, TTL: NSTTL, Target: NameServer},
	}
}

// NewZone validates records and returns the zone in canonical form:
// sorted, duplicates removed (several tasks with the same name and address
// give one record, which stays while any of them runs — dcos-net's
// reference counting). The zone must hold exactly one SOA, at its apex.
// The records slice is not retained.
func NewZone(name string, version uint64, records []Record) (*Zone, error) {
	return newZone(name, version, records, true, true)
}

// newZone is NewZone; check false skips the per-record validation for
// records the caller has just validated, clone false takes ownership of
// records.
func newZone(name string, version uint64, records []Record, check, clone bool) (*Zone, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("zone %q: name: %w", name, err)
	}
	recs := records
	if clone {
		recs = slices.Clone(records)
	}
	soas := 0
	for i := range recs {
		r := &recs[i]
		r.Name = strings.ToLower(strings.TrimSuffix(r.Name, "."))
		r.Target = strings.ToLower(strings.TrimSuffix(r.Target, "."))
		if r.SOA != nil {
			soa := *r.SOA
			soa.Rname = strings.ToLower(strings.TrimSuffix(soa.Rname, "."))
			r.SOA = &soa
		}
		if check {
			if err := checkRecord(name, r); err != nil {
				return nil, fmt.Errorf("zone %q: record %d (%s): %w", name, i, r.Name, err)
			}
		}
		if r.Type == dns.TypeSOA {
			soas++
		}
	}
	if soas != 1 {
		return nil, fmt.Errorf("zone %q: soa: want exactly one SOA at the apex, have %d", name, soas)
	}
	slices.SortFunc(recs, compareRecords)
	recs = slices.CompactFunc(recs, func(a, b Record) bool { return compareRecords(a, b) == 0 })
	return &Zone{Name: name, Version: version, Records: recs}, nil
}

// within reports whether name is zone or below it.
func within(name, zone string) bool {
	return name == zone || (len(name) > len(zone) && strings.HasSuffix(name, zone) && name[len(name)-len(zone)-1] == '.')
}

// checkName accepts lower-case names of 1–63 byte labels of [a-z0-9_-]
// (underscores appear in SRV owner names), 253 bytes at most.
func checkName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 253 {
		return fmt.Errorf("name longer than 253 bytes")
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" {
			return fmt.Errorf("name %q has an empty label", s)
		}
		if len(l) > 63 {
			return fmt.Errorf("name %q has a label longer than 63 bytes", s)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_') {
				return fmt.Errorf("name %q has byte %q outside [a-z0-9_-]", s, c)
			}
		}
	}
	return nil
}

func checkRecord(zone string, r *Record) error {
	if err := checkName(r.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if !within(r.Name, zone) {
		return fmt.Errorf("name: %q is not in zone %q", r.Name, zone)
	}
	// Fields a type does not use must be zero so that equal records encode
	// equally.
	srvZero := r.Priority == 0 && r.Weight == 0 && r.Port == 0
	soaZero := r.SOA == nil
	switch r.Type {
	case dns.TypeA, dns.TypeAAAA:
		if r.Type == dns.TypeA && !r.Addr.Is4() {
			return fmt.Errorf("addr: A record needs an IPv4 address, have %v", r.Addr)
		}
		if r.Type == dns.TypeAAAA && (!r.Addr.Is6() || r.Addr.Is4In6() || r.Addr.Zone() != "") {
			return fmt.Errorf("addr: AAAA record needs an IPv6 address, have %v", r.Addr)
		}
		if r.Target != "" || !srvZero || !soaZero {
			return errors.New("data: address record with other data")
		}
		return nil
	case dns.TypeSRV, dns.TypeCNAME, dns.TypeNS:
		if err := checkName(r.Target); err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if r.Addr.IsValid() || !soaZero || (r.Type != dns.TypeSRV && !srvZero) {
			return errors.New("data: record with fields of another type")
		}
		return nil
	case dns.TypeSOA:
		if r.Name != zone {
			return fmt.Errorf("name: SOA %q is not at the apex %q", r.Name, zone)
		}
		if err := checkName(r.Target); err != nil {
			return fmt.Errorf("mname: %w", err)
		}
		if r.SOA == nil {
			return errors.New("soa: SOA record without SOA data")
		}
		if err := checkName(r.SOA.Rname); err != nil {
			return fmt.Errorf("rname: %w", err)
		}
		if r.Addr.IsValid() || !srvZero {
			return errors.New("data: SOA with fields of another type")
		}
		return nil
	}
	return fmt.Errorf("type: unsupported record type %d", r.Type)
}

// Encoding (all integers unsigned varints, strings a varint length then
// bytes):
//
//	magic "SXZ" 0x01
//	version, zone name
//	owner count, then per owner (in canonical order):
//	  owner relative to the zone ("" for the apex), record count (≥ 1),
//	  then per record: type, ttl, data
//	    A: 4 bytes   AAAA: 16 bytes   CNAME, NS: target
//	    SRV: priority, weight, port, target
//	    SOA: mname, rname, serial, refresh, retry, expire, minimum
//
// The canonical order makes the encoding deterministic: equal zones give
// equal bytes, so a receiver can compare digests.
var magic = [4]byte{'S', 'X', 'Z', 1}

// MarshalBinary encodes the zone compactly and deterministically.
func (z *Zone) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(z.Records)*24)
	b = append(b, magic[:]...)
	b = binary.AppendUvarint(b, z.Version)
	b = appendString(b, z.Name)
	// Count owners first.
	owners := 0
	for i := range z.Records {
		if i == 0 || z.Records[i].Name != z.Records[i-1].Name {
			owners++
		}
	}
	b = binary.AppendUvarint(b, uint64(owners))
	for i := 0; i < len(z.Records); {
		j := i
		for j < len(z.Records) && z.Records[j].Name == z.Records[i].Name {
			j++
		}
		rel := strings.TrimSuffix(strings.TrimSuffix(z.Records[i].Name, z.Name), ".")
		b = appendString(b, rel)
		b = binary.AppendUvarint(b, uint64(j-i))
		for _, r := range z.Records[i:j] {
			b = binary.AppendUvarint(b, uint64(r.Type))
			b = binary.AppendUvarint(b, uint64(r.TTL))
			switch r.Type {
			case dns.TypeA:
				a := r.Addr.As4()
				b = append(b, a[:]...)
			case dns.TypeAAAA:
				a := r.Addr.As16()
				b = append(b, a[:]...)
			case dns.TypeCNAME, dns.TypeNS:
				b = appendString(b, r.Target)
			case dns.TypeSRV:
				b = binary.AppendUvarint(b, uint64(r.Priority))
				b = binary.AppendUvarint(b, uint64(r.Weight))
				b = binary.AppendUvarint(b, uint64(r.Port))
				b = appendString(b, r.Target)
			case dns.TypeSOA:
				b = appendString(b, r.Target)
				b = appendString(b, r.SOA.Rname)
				for _, v := range []uint32{r.SOA.Serial, r.SOA.Refresh, r.SOA.Retry, r.SOA.Expire, r.SOA.Minimum} {
					b = binary.AppendUvarint(b, uint64(v))
				}
			default:
				return nil, fmt.Errorf("zone %q: record %s: type: unsupported record type %d", z.Name, r.Name, r.Type)
			}
		}
		i = j
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the encoding; every error names the field it was reading.
type decoder struct {
	b   []byte
	off int
	// Where the decoder is, for error messages (built only on error).
	owner, rec int
	ownerName  string
}

func (d *decoder) errf(field, format string, a ...any) error {
	where := ""
	switch {
	case d.rec >= 0:
		where = fmt.Sprintf("owner %d (%s) record %d ", d.owner, d.ownerName, d.rec)
	case d.owner >= 0:
		where = fmt.Sprintf("owner %d ", d.owner)
	}
	return fmt.Errorf("zone encoding: %s%s at byte %d: %s", where, field, d.off, fmt.Sprintf(format, a...))
}

func (d *decoder) uvarint(field string, max uint64) (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		return 0, d.errf(field, "truncated or overlong varint")
	}
	// Only the shortest encoding is accepted, so that one zone has exactly
	// one encoding.
	var tmp [binary.MaxVarintLen64]byte
	if binary.PutUvarint(tmp[:], v) != n {
		return 0, d.errf(field, "non-minimal varint")
	}
	if v > max {
		return 0, d.errf(field, "value %d above %d", v, max)
	}
	d.off += n
	return v, nil
}

func (d *decoder) str(field string) (string, error) {
	n, err := d.uvarint(field+" length", 253)
	if err != nil {
		return "", err
	}
	if uint64(len(d.b)-d.off) < n {
		return "", d.errf(field, "%d bytes wanted, %d left", n, len(d.b)-d.off)
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s, nil
}

func (d *decoder) bytes(field string, n int) ([]byte, error) {
	if len(d.b)-d.off < n {
		return nil, d.errf(field, "%d bytes wanted, %d left", n, len(d.b)-d.off)
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

// UnmarshalBinary decodes a zone encoded by MarshalBinary. Anything else is
// an error naming the field; the zone is validated as NewZone does and
// must be in canonical order without duplicates.
func (z *Zone) UnmarshalBinary(b []byte) error {
	d := &decoder{b: b, owner: -1, rec: -1}
	m, err := d.bytes("magic", 4)
	if err != nil {
		return err
	}
	if [4]byte(m) != magic {
		return d.errf("magic", "not a zone encoding (or another format version)")
	}
	version, err := d.uvarint("version", 1<<64-1)
	if err != nil {
		return err
	}
	name, err := d.str("zone name")
	if err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return d.errf("zone name", "%v", err)
	}
	// Each owner takes at least 3 bytes and each record at least 3, which
	// bounds the counts by the input size before anything is allocated.
	owners, err := d.uvarint("owner count", uint64(len(b)-d.off)/3)
	if err != nil {
		return err
	}
	recs := make([]Record, 0, min(owners+owners/2, uint64(len(b)-d.off)/3))
	soas := 0
	for o := range owners {
		d.owner, d.rec = int(o), -1
		rel, err := d.str("name")
		if err != nil {
			return err
		}
		owner := name
		if rel != "" {
			owner = rel + "." + name
			if err := checkName(owner); err != nil {
				return d.errf("name", "%v", err)
			}
		}
		n, err := d.uvarint("record count", uint64(len(b)-d.off)/3)
		if err != nil {
			return err
		}
		if n == 0 {
			return d.errf("record count", "owner without records")
		}
		d.ownerName = owner
		for i := range n {
			d.rec = int(i)
			t, err := d.uvarint("type", 0xffff)
			if err != nil {
				return err
			}
			ttl, err := d.uvarint("ttl", 1<<31-1)
			if err != nil {
				return err
			}
			r := Record{Name: owner, Type: uint16(t), TTL: uint32(ttl)}
			switch r.Type {
			case dns.TypeA:
				p, err := d.bytes("address", 4)
				if err != nil {
					return err
				}
				r.Addr = netip.AddrFrom4([4]byte(p))
			case dns.TypeAAAA:
				p, err := d.bytes("address", 16)
				if err != nil {
					return err
				}
				r.Addr = netip.AddrFrom16([16]byte(p))
			case dns.TypeCNAME, dns.TypeNS:
				if r.Target, err = d.str("target"); err != nil {
					return err
				}
			case dns.TypeSRV:
				var v [3]uint64
				for k, fn := range []string{"priority", "weight", "port"} {
					if v[k], err = d.uvarint(fn, 0xffff); err != nil {
						return err
					}
				}
				r.Priority, r.Weight, r.Port = uint16(v[0]), uint16(v[1]), uint16(v[2])
				if r.Target, err = d.str("target"); err != nil {
					return err
				}
			case dns.TypeSOA:
				if r.Target, err = d.str("mname"); err != nil {
					return err
				}
				soa := &SOA{}
				if soa.Rname, err = d.str("rname"); err != nil {
					return err
				}
				var v [5]uint64
				for k, fn := range []string{"serial", "refresh", "retry", "expire", "minimum"} {
					if v[k], err = d.uvarint(fn, 1<<32-1); err != nil {
						return err
					}
				}
				soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minimum = uint32(v[0]), uint32(v[1]), uint32(v[2]), uint32(v[3]), uint32(v[4])
				r.SOA = soa
			default:
				return d.errf("type", "unsupported record type %d", t)
			}
			if len(recs) > 0 && compareRecords(recs[len(recs)-1], r) >= 0 {
				return d.errf("order", "records out of canonical order or duplicated")
			}
			if err := checkRecord(name, &r); err != nil {
				return d.errf("data", "%v", err)
			}
			if r.Type == dns.TypeSOA {
				soas++
			}
			recs = append(recs, r)
		}
	}
	if d.off != len(b) {
		return d.errf("end", "%d trailing bytes", len(b)-d.off)
	}
	if soas != 1 {
		return fmt.Errorf("zone encoding: zone %q: soa: want exactly one SOA at the apex, have %d", name, soas)
	}
	// Names were checked lower case and the records strictly increasing, so
	// the zone is already canonical.
	*z = Zone{Name: name, Version: version, Records: recs}
	return nil
}
