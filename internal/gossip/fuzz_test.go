package gossip

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzDecodeZone: garbage never panics, and whatever decodes re-encodes to
// the same bytes (so no field is silently dropped or reinterpreted).
func FuzzDecodeZone(f *testing.F) {
	f.Add(goodFields().bytes())
	f.Add(mustZone(f, "dcos.thisdcos.directory", "master-1", 3, bytes.Repeat([]byte("a.b. 5 IN A 10.0.0.1\n"), 100)))
	f.Add([]byte("SX\x01\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := DecodeZone(b, 1<<20)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeZoneRaw(z), b) {
			t.Fatalf("re-encoding differs")
		}
		p, err := z.Payload()
		if err == nil && len(p) != int(z.RawLen) {
			t.Fatalf("payload length %d, declared %d", len(p), z.RawLen)
		}
	})
}

// FuzzZoneRoundTrip: anything EncodeZone accepts decodes to the same fields
// and payload.
func FuzzZoneRoundTrip(f *testing.F) {
	f.Add("dcos.thisdcos.directory", "master-1", uint64(1), []byte("x"))
	f.Add("z", "m", uint64(1<<63), bytes.Repeat([]byte("abc"), 500))
	f.Fuzz(func(t *testing.T, name, origin string, v uint64, payload []byte) {
		b, err := EncodeZone(name, origin, v, 7, payload)
		if err != nil {
			return
		}
		z, err := DecodeZone(b, len(payload))
		if err != nil {
			t.Fatalf("decode of encoded message: %v", err)
		}
		if z.Name != name || z.Origin != origin || z.Version != v || z.Published != 7 {
			t.Fatalf("fields differ: %+v", z)
		}
		p, err := z.Payload()
		if err != nil || !bytes.Equal(p, payload) {
			t.Fatalf("payload differs: %v", err)
		}
	})
}

func FuzzDecodeDigest(f *testing.F) {
	b, _ := EncodeDigest(&Digest{Sender: "a", Entries: []DigestEntry{{Name: "z", Stamp: Stamp{Version: 1, Origin: "m"}}}})
	f.Add(b)
	f.Add([]byte("SX\x01\x02\x00\x01a\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDigest(b)
		if err != nil {
			return
		}
		again, err := EncodeDigest(d)
		if err != nil {
			t.Fatalf("decoded digest does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte{1, 1, 4, 10, 0, 0, 1})
	f.Add([]byte{1, 2, 16, 0xfd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(EncodeMeta(Meta{Role: RoleAgent, IP: netip.MustParseAddr("10.0.0.7"), Hostname: "ip-10-0-0-7",
		PublicIPs: []netip.Addr{netip.MustParseAddr("52.1.2.3"), netip.MustParseAddr("2001:db8::1")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		again, err := DecodeMeta(EncodeMeta(m))
		if err != nil || !again.Equal(m) {
			t.Fatalf("round trip: %v, %v", again, err)
		}
	})
}

// FuzzParseKey: key files never panic the parser, and anything accepted is
// a valid AES key length.
func FuzzParseKey(f *testing.F) {
	f.Add("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	f.Add("000102030405060708090a0b0c0d0e0f")
	f.Add("  \n")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if l := len(k); l != 16 && l != 24 && l != 32 {
			t.Fatalf("accepted a %d-byte key", l)
		}
	})
}
