package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustZone(t testing.TB, name, origin string, v uint64, payload []byte) []byte {
	t.Helper()
	b, err := EncodeZone(name, origin, v, 42, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestZoneRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("web.marathon.autoip.dcos.thisdcos.directory. 5 IN A 10.0.0.7\n"), 2000)
	for _, tc := range []struct {
		name     string
		payload  []byte
		deflated bool
	}{
		{"empty", nil, false},
		{"small", []byte("hello"), false},
		{"large compressible", big, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustZone(t, "dcos.thisdcos.directory", "master-1", 7, tc.payload)
			z, err := DecodeZone(b, DefaultMaxPayload)
			if err != nil {
				t.Fatal(err)
			}
			if z.Name != "dcos.thisdcos.directory" || z.Origin != "master-1" || z.Version != 7 || z.Published != 42 {
				t.Fatalf("header fields: %+v", z)
			}
			if got := z.Flags&flagDeflate != 0; got != tc.deflated {
				t.Fatalf("deflated = %v, want %v", got, tc.deflated)
			}
			if tc.deflated && len(b) > len(tc.payload)/5 {
				t.Errorf("compressed %d bytes to %d: expected better", len(tc.payload), len(b))
			}
			p, err := z.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, tc.payload) {
				t.Fatal("payload differs after round trip")
			}
			if !bytes.Equal(encodeZoneRaw(z), b) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

// zoneBytes builds a zone message field by field so tests can corrupt any
// one of them.
type zoneFields struct {
	magic              []byte
	version, typ       byte
	ver                uint64
	origin, name       []byte
	originLen, nameLen int // -1: use len
	flags              byte
	rawLen, crc        uint32
	dataLen            int // -1: use len(data)
	data               []byte
	trailer            []byte
}

func goodFields() zoneFields {
	return zoneFields{magic: []byte("SX"), version: codecVersion, typ: msgZone, ver: 3,
		origin: []byte("m1"), name: []byte("z"), originLen: -1, nameLen: -1,
		rawLen: 3, crc: 0x352441c2, dataLen: -1, data: []byte("abc")}
}

func (f zoneFields) bytes() []byte {
	b := append([]byte{}, f.magic...)
	b = append(b, f.version, f.typ)
	b = binary.BigEndian.AppendUint64(b, f.ver)
	l := f.originLen
	if l < 0 {
		l = len(f.origin)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(l))
	b = append(b, f.origin...)
	l = f.nameLen
	if l < 0 {
		l = len(f.name)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(l))
	b = append(b, f.name...)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = append(b, f.flags)
	b = binary.BigEndian.AppendUint32(b, f.rawLen)
	b = binary.BigEndian.AppendUint32(b, f.crc)
	l = f.dataLen
	if l < 0 {
		l = len(f.data)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(l))
	b = append(b, f.data...)
	return append(b, f.trailer...)
}

func TestDecodeZoneBad(t *testing.T) {
	good := goodFields()
	if z, err := DecodeZone(good.bytes(), 100); err != nil {
		t.Fatalf("good message rejected: %v", err)
	} else if _, err := z.Payload(); err != nil {
		t.Fatalf("good payload rejected: %v", err)
	}
	full := good.bytes()
	cases := []struct {
		name  string
		mod   func(f *zoneFields)
		raw   []byte // used instead of mod when set
		field string
	}{
		{name: "empty", raw: []byte{}, field: "header"},
		{name: "short header", raw: []byte("SX"), field: "header"},
		{name: "bad magic", mod: func(f *zoneFields) { f.magic = []byte("XX") }, field: "magic"},
		{name: "future codec", mod: func(f *zoneFields) { f.version = 9 }, field: "codec version"},
		{name: "unknown type", mod: func(f *zoneFields) { f.typ = 77 }, field: "type"},
		{name: "digest type", mod: func(f *zoneFields) { f.typ = msgDigest }, field: "type"},
		{name: "truncated in version", raw: full[:8], field: "version"},
		{name: "truncated in origin", raw: full[:headerLen+8+3], field: "origin"},
		{name: "origin length beyond buffer", mod: func(f *zoneFields) { f.originLen = 5000 }, field: "origin"},
		{name: "empty origin", mod: func(f *zoneFields) { f.origin = nil }, field: "origin"},
		{name: "empty name", mod: func(f *zoneFields) { f.name = nil }, field: "name"},
		{name: "name too long", mod: func(f *zoneFields) { f.name = bytes.Repeat([]byte("a"), 300) }, field: "name"},
		{name: "name not utf8", mod: func(f *zoneFields) { f.name = []byte{0xff, 0xfe} }, field: "name"},
		{name: "unknown flags", mod: func(f *zoneFields) { f.flags = 0x80 }, field: "flags"},
		{name: "raw length over limit", mod: func(f *zoneFields) { f.rawLen = 101 }, field: "raw length"},
		{name: "raw and data length differ", mod: func(f *zoneFields) { f.rawLen = 2 }, field: "data length"},
		{name: "data length beyond buffer", mod: func(f *zoneFields) { f.flags, f.rawLen, f.dataLen = flagDeflate, 50, 50 }, field: "data"},
		{name: "data truncated", raw: full[:len(full)-1], field: "data"},
		{name: "trailing bytes", mod: func(f *zoneFields) { f.trailer = []byte{0} }, field: "end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.raw
			if b == nil {
				f := goodFields()
				tc.mod(&f)
				b = f.bytes()
			}
			_, err := DecodeZone(b, 100)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if !strings.Contains(de.Field, tc.field) {
				t.Fatalf("error %q names field %q, want %q", err, de.Field, tc.field)
			}
		})
	}
}

func TestZonePayloadBad(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 10000)
	deflated, err := DecodeZone(mustZone(t, "z", "m", 1, big), DefaultMaxPayload)
	if err != nil {
		t.Fatal(err)
	}
	if deflated.Flags&flagDeflate == 0 {
		t.Fatal("test payload was not compressed")
	}
	cases := []struct {
		name  string
		mod   func(z *ZoneMsg)
		field string
	}{
		{"crc mismatch", func(z *ZoneMsg) { z.CRC++ }, "crc"},
		{"inflates beyond raw length", func(z *ZoneMsg) { z.RawLen = 100 }, "raw length"},
		{"inflates short of raw length", func(z *ZoneMsg) { z.RawLen = 20000 }, "raw length"},
		{"corrupt deflate", func(z *ZoneMsg) { z.Data = append([]byte{0xff, 0xff}, z.Data[2:]...) }, "data"},
		{"truncated deflate", func(z *ZoneMsg) { z.Data = z.Data[:len(z.Data)/2] }, "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z := *deflated
			z.Data = bytes.Clone(z.Data)
			tc.mod(&z)
			_, err := z.Payload()
			var de *DecodeError
			if !errors.As(err, &de) || de.Field != tc.field {
				t.Fatalf("err = %v, want DecodeError on field %q", err, tc.field)
			}
		})
	}
}

func TestDigestRoundTripAndBad(t *testing.T) {
	d := &Digest{Sender: "agent-3", Entries: []DigestEntry{
		{Name: "dcos.thisdcos.directory", Stamp: Stamp{Version: 9, Origin: "master-1"}},
		{Name: "mesos.thisdcos.directory", Stamp: Stamp{Version: 1 << 60, Origin: "master-2"}},
	}}
	b, err := EncodeDigest(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sender != d.Sender || len(got.Entries) != 2 || got.Entries[1] != d.Entries[1] {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := EncodeDigest(&Digest{Sender: ""}); err == nil {
		t.Fatal("empty sender encoded")
	}
	hdr := []byte{'S', 'X', codecVersion, msgDigest, 0, 1, 'a'}
	for _, tc := range []struct {
		name  string
		b     []byte
		field string
	}{
		{"zone type", []byte{'S', 'X', codecVersion, msgZone}, "type"},
		{"no sender", []byte{'S', 'X', codecVersion, msgDigest}, "sender length"},
		{"no count", hdr, "count"},
		{"huge count", append(bytes.Clone(hdr), 0xff, 0xff, 0xff, 0xff), "count"},
		{"count beyond entries", append(append(bytes.Clone(hdr), 0, 0, 0, 2), make([]byte, 40)...), "entry 0 name"},
		{"truncated entry", bytes.Clone(b[:len(b)-3]), "entry 1 origin"},
		{"trailing", append(bytes.Clone(b), 1), "end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeDigest(tc.b)
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(de.Field, tc.field) {
				t.Fatalf("err = %v, want DecodeError naming %q", err, tc.field)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	for _, m := range []Meta{
		{Role: RoleMaster, IP: netip.MustParseAddr("10.0.0.1")},
		{Role: RoleAgent, IP: netip.MustParseAddr("fd01::7")},
		{Role: RoleAgent, IP: netip.MustParseAddr("10.0.0.7"), Hostname: "ip-10-0-0-7"},
		{Role: RoleMaster, IP: netip.MustParseAddr("10.0.0.1"), PublicIPs: []netip.Addr{netip.MustParseAddr("52.1.2.3"), netip.MustParseAddr("2001:db8::1")}},
		{Role: RoleAgent, IP: netip.MustParseAddr("10.0.0.8"), Hostname: "a", PublicIPs: []netip.Addr{netip.MustParseAddr("52.1.2.4")}},
	} {
		got, err := DecodeMeta(EncodeMeta(m))
		if err != nil || !got.Equal(m) {
			t.Fatalf("round trip %v: %v, %v", m, got, err)
		}
	}
	// Bounds: an over-long hostname is left out, extra public IPs dropped.
	many := make([]netip.Addr, MaxPublicIPs+3)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{52, 0, 0, byte(i)})
	}
	got, err := DecodeMeta(EncodeMeta(Meta{Role: RoleAgent, IP: many[0], Hostname: strings.Repeat("h", MaxHostnameLen+1), PublicIPs: many}))
	if err != nil || got.Hostname != "" || len(got.PublicIPs) != MaxPublicIPs {
		t.Fatalf("bounded meta: %+v, %v", got, err)
	}
	if n := len(EncodeMeta(Meta{Role: RoleAgent, IP: netip.MustParseAddr("fd01::1"), Hostname: strings.Repeat("h", MaxHostnameLen),
		PublicIPs: slices.Repeat([]netip.Addr{netip.MustParseAddr("fd01::2")}, MaxPublicIPs)})); n > 512 {
		t.Fatalf("largest meta is %d bytes, memberlist allows 512", n)
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		field string
	}{
		{"empty", nil, "version"},
		{"future version", []byte{3, 1, 4, 1, 2, 3, 4}, "version"},
		{"v2 without hostname length", []byte{2, 1, 4, 1, 2, 3, 4}, "hostname length"},
		{"v2 short hostname", []byte{2, 1, 4, 1, 2, 3, 4, 5, 'a'}, "hostname"},
		{"v2 bad hostname", []byte{2, 1, 4, 1, 2, 3, 4, 1, 0xff, 0}, "hostname"},
		{"v2 too long hostname", append([]byte{2, 1, 4, 1, 2, 3, 4, 254}, make([]byte, 254)...), "hostname length"},
		{"v2 without count", []byte{2, 1, 4, 1, 2, 3, 4, 0}, "public ip count"},
		{"v2 too many public ips", []byte{2, 1, 4, 1, 2, 3, 4, 0, 9}, "public ip count"},
		{"v2 bad public ip length", []byte{2, 1, 4, 1, 2, 3, 4, 0, 1, 3, 1, 2, 3}, "public ip length"},
		{"v2 short public ip", []byte{2, 1, 4, 1, 2, 3, 4, 0, 1, 4, 1, 2}, "public ip"},
		{"v2 trailing", []byte{2, 1, 4, 1, 2, 3, 4, 0, 0, 0}, "end"},
		{"bad role", []byte{1, 9, 4, 1, 2, 3, 4}, "role"},
		{"bad ip length", []byte{1, 1, 5, 1, 2, 3, 4, 5}, "ip length"},
		{"short ip", []byte{1, 1, 4, 1, 2}, "ip"},
		{"trailing", []byte{1, 1, 4, 1, 2, 3, 4, 0}, "end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMeta(tc.b)
			var de *DecodeError
			if !errors.As(err, &de) || de.Field != tc.field {
				t.Fatalf("err = %v, want DecodeError on %q", err, tc.field)
			}
		})
	}
}

func TestStampOrder(t *testing.T) {
	a1 := Stamp{Version: 1, Origin: "a"}
	b1 := Stamp{Version: 1, Origin: "b"}
	b2 := Stamp{Version: 2, Origin: "b"}
	switch {
	case !b2.Newer(a1), a1.Newer(b2):
		t.Fatal("higher version must win whatever the origin")
	case !a1.Newer(b1), b1.Newer(a1):
		t.Fatal("on a tie the lower origin must win")
	case a1.Newer(a1):
		t.Fatal("a stamp is not newer than itself")
	case !a1.Newer(Stamp{}):
		t.Fatal("any stamp beats the zero stamp")
	}
}

func TestParseKey(t *testing.T) {
	dir := t.TempDir()
	k32 := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // "0123456789abcdef0123456789abcdef"
	good := filepath.Join(dir, "key")
	if err := os.WriteFile(good, []byte(k32+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(good)
	if err != nil || string(k) != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("LoadKey = %q, %v", k, err)
	}
	if k, err := ParseKey("MDEyMzQ1Njc4OWFiY2RlZg"); err != nil || len(k) != 16 { // raw (unpadded) 16 bytes
		t.Fatalf("unpadded 16-byte key: %v", err)
	}
	if k, err := ParseKey(" 000102030405060708090a0b0c0d0e0f\n"); err != nil || len(k) != 16 || k[15] != 15 {
		t.Fatalf("hex 16-byte key: %x, %v", k, err)
	}
	if k, err := ParseKey(strings.Repeat("ab", 32)); err != nil || len(k) != 32 || k[0] != 0xab {
		t.Fatalf("hex 32-byte key: %x, %v", k, err)
	}
	for _, bad := range []string{"", "   ", "!!!not base64!!!", "c2hvcnQ=" /* "short" */, "MDEyMzQ1Njc4OWFiY2RlZjAx" /* 18 bytes */} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
