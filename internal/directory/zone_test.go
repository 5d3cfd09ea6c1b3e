package directory

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func sampleZone(t testing.TB) *Zone {
	t.Helper()
	recs := append(Apex("example.thisdcos.directory"),
		Record{Name: "a.example.thisdcos.directory", Type: dns.TypeA, TTL: 5, Addr: netip.MustParseAddr("10.0.0.1")},
		Record{Name: "a.example.thisdcos.directory", Type: dns.TypeA, TTL: 5, Addr: netip.MustParseAddr("10.0.0.1")}, // duplicate
		Record{Name: "A.example.thisdcos.directory.", Type: dns.TypeAAAA, TTL: 5, Addr: netip.MustParseAddr("fd01:b::2")},
		Record{Name: "_a._tcp.example.thisdcos.directory", Type: dns.TypeSRV, TTL: 5, Priority: 1, Weight: 1, Port: 8080, Target: "a.example.thisdcos.directory"},
		Record{Name: "c.example.thisdcos.directory", Type: dns.TypeCNAME, TTL: 5, Target: "a.example.thisdcos.directory"},
	)
	z, err := NewZone("example.thisdcos.directory", 42, recs)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestNewZoneCanonical(t *testing.T) {
	z := sampleZone(t)
	if len(z.Records) != 6 {
		t.Fatalf("records = %d, want 6 (duplicate removed)", len(z.Records))
	}
	for i := 1; i < len(z.Records); i++ {
		if compareRecords(z.Records[i-1], z.Records[i]) >= 0 {
			t.Fatalf("not canonical at %d", i)
		}
	}
	if z.Records[0].Name != "_a._tcp.example.thisdcos.directory" {
		t.Errorf("first = %q", z.Records[0].Name)
	}
}

func TestNewZoneBad(t *testing.T) {
	const zn = "z.thisdcos.directory"
	a := func(name, ip string) Record {
		return Record{Name: name, Type: dns.TypeA, TTL: 5, Addr: netip.MustParseAddr(ip)}
	}
	tests := []struct {
		name string
		zone string
		recs []Record
		want string
	}{
		{"no soa", zn, []Record{a("x."+zn, "1.2.3.4")}, "soa"},
		{"two soas", zn, append(Apex(zn), Apex(zn)[0], Record{Name: zn, Type: dns.TypeSOA, TTL: 5, Target: "x", SOA: &SOA{Rname: "y", Serial: 2}}), "soa"},
		{"outside zone", zn, append(Apex(zn), a("x.other", "1.2.3.4")), "not in zone"},
		{"suffix but not label", zn, append(Apex(zn), a("xz.thisdcos.directory", "1.2.3.4")), "not in zone"},
		{"A with v6", zn, append(Apex(zn), a("x."+zn, "::1")), "addr"},
		{"AAAA with v4", zn, append(Apex(zn), Record{Name: "x." + zn, Type: dns.TypeAAAA, Addr: netip.MustParseAddr("1.2.3.4")}), "addr"},
		{"bad label", zn, append(Apex(zn), a("x y."+zn, "1.2.3.4")), "name"},
		{"empty label", zn, append(Apex(zn), a("x.."+zn, "1.2.3.4")), "empty label"},
		{"long label", zn, append(Apex(zn), a(strings.Repeat("x", 64)+"."+zn, "1.2.3.4")), "63"},
		{"unsupported type", zn, append(Apex(zn), Record{Name: "x." + zn, Type: dns.TypeTXT, Target: "x"}), "type"},
		{"cname without target", zn, append(Apex(zn), Record{Name: "x." + zn, Type: dns.TypeCNAME}), "target"},
		{"soa below apex", zn, []Record{{Name: "x." + zn, Type: dns.TypeSOA, Target: "a", SOA: &SOA{Rname: "b"}}}, "apex"},
		{"mixed data", zn, append(Apex(zn), Record{Name: "x." + zn, Type: dns.TypeA, Addr: netip.MustParseAddr("1.2.3.4"), Port: 3}), "data"},
		{"bad zone name", "", Apex(""), "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewZone(tc.zone, 1, tc.recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	z := sampleZone(t)
	b, err := z.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Zone
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Name != z.Name || got.Version != z.Version || len(got.Records) != len(z.Records) {
		t.Fatalf("got %+v", got)
	}
	for i := range z.Records {
		if compareRecords(z.Records[i], got.Records[i]) != 0 {
			t.Errorf("record %d: %+v != %+v", i, got.Records[i], z.Records[i])
		}
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Error("encoding is not deterministic")
	}
}

func TestUnmarshalGarbage(t *testing.T) {
	good, _ := sampleZone(t).MarshalBinary()
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"bad magic", []byte("SXZ\x02rest"), "magic"},
		{"truncated", good[:len(good)-3], "truncated"},
		{"trailing", append(bytes.Clone(good), 0), "trailing"},
		{"only magic", good[:4], "version"},
		{"huge owner count", append(append([]byte("SXZ\x01\x01\x01z"), 0xff, 0xff, 0xff, 0xff, 0x0f), make([]byte, 10)...), "owner count"},
		{"overlong varint", append([]byte("SXZ\x01"), bytes.Repeat([]byte{0xff}, 11)...), "version"},
		{"bad zone name", mutate(func(b []byte) []byte {
			i := bytes.Index(b, []byte("example"))
			b[i] = 'E'
			return b
		}), "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var z Zone
			err := z.UnmarshalBinary(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func FuzzZoneUnmarshal(f *testing.F) {
	good, _ := sampleZone(f).MarshalBinary()
	f.Add(good)
	f.Add([]byte("SXZ\x01\x00\x00\x00"))
	f.Add(good[:len(good)/2])
	local, _ := BuildLocal(Config{Masters: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, NodeIP: netip.MustParseAddr("10.0.0.7")})
	for _, z := range local {
		b, _ := z.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var z Zone
		if err := z.UnmarshalBinary(b); err != nil {
			return
		}
		// Whatever decodes is canonical: it encodes back to the same bytes,
		// and indexes and answers without panicking.
		out, err := z.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("decode/encode not identical:\n%x\n%x", b, out)
		}
		ix := NewIndex(Options{}, &z)
		for _, n := range ix.Names() {
			ix.Lookup(n, dns.TypeA)
		}
	})
}
