package gossip

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"slices"
	"unicode/utf8"
)

// Wire format. Every message carried in a memberlist user message or in the
// push/pull user state starts with a 4-byte header:
//
//	'S' 'X' codecVersion msgType
//
// followed by the type's body. All integers are big-endian. Strings are a
// uint16 length and that many bytes of UTF-8 (1..maxNameLen). Every length
// read from a peer is checked against what is left of the buffer (and
// against a fixed bound) before anything is allocated, and a message must
// end exactly where its last field ends.
//
// Zone message (msgZone): one whole version of one zone.
//
//	version   uint64   leader-assigned, only increases per name
//	origin    string   name of the member that published it
//	name      string   zone name
//	published int64    publisher's wall clock, Unix ns; only for the
//	                   convergence-lag metric, never for ordering
//	flags     uint8    bit 0: data is raw DEFLATE (RFC 1951); others 0
//	rawLen    uint32   payload length after decompression (≤ MaxPayload)
//	crc       uint32   CRC-32 (IEEE) of the decompressed payload
//	dataLen   uint32   then dataLen bytes of data
//
// Digest (msgDigest): the push/pull anti-entropy state.
//
//	sender    string   member name of the sender
//	count     uint32   then count × (name string, version uint64, origin string)
//
// Node metadata (memberlist NodeMeta, ≤ 512 bytes) has its own small
// format: version (1 or 2), role (1 master, 2 agent), ipLen (4 or 16), ip;
// version 2 adds hostLen uint8 and that many bytes of UTF-8 hostname
// (0..MaxHostnameLen), then count uint8 (0..MaxPublicIPs) and count ×
// (ipLen, ip) public IPs. Version 1 is still written when a node has no
// hostname and no public IPs, so older members read it.
const (
	magic0       = 'S'
	magic1       = 'X'
	codecVersion = 1

	msgZone   = 1
	msgDigest = 2

	headerLen  = 4
	maxNameLen = 255

	flagDeflate = 1 << 0

	metaVersion  = 1
	metaVersion2 = 2
)

// Bounds of the optional node metadata: with them the encoded metadata
// stays below memberlist's 512-byte limit.
const (
	MaxHostnameLen = 253
	MaxPublicIPs   = 8
)

// DecodeError says which field of which message was bad.
type DecodeError struct {
	Msg   string // "zone", "digest", "meta", "header"
	Field string
	Why   string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("gossip %s message: field %s: %s", e.Msg, e.Field, e.Why)
}

// ZoneMsg is one decoded zone message. Data is still compressed when
// Flags has flagDeflate; call Payload for the bytes the publisher passed in.
type ZoneMsg struct {
	Name      string
	Origin    string
	Version   uint64
	Published int64
	Flags     uint8
	RawLen    uint32
	CRC       uint32
	Data      []byte
}

// Stamp returns the ordering key of the message.
func (z *ZoneMsg) Stamp() Stamp { return Stamp{Version: z.Version, Origin: z.Origin} }

// DigestEntry is one (zone, stamp) pair in a digest.
type DigestEntry struct {
	Name string
	Stamp
}

// Digest is what a node tells a peer it holds during push/pull.
type Digest struct {
	Sender  string
	Entries []DigestEntry
}

// reader reads fields from untrusted bytes, remembering the first error.
type reader struct {
	msg string
	b   []byte
	err error
}

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &DecodeError{Msg: r.msg, Field: field, Why: fmt.Sprintf(format, args...)}
	}
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(field, "needs %d bytes, %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(field string) uint8 {
	b := r.take(field, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(field string) uint16 {
	b := r.take(field, 2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32(field string) uint32 {
	b := r.take(field, 4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64(field string) uint64 {
	b := r.take(field, 8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *reader) str(field string) string {
	n := int(r.u16(field + " length"))
	if r.err != nil {
		return ""
	}
	if n == 0 || n > maxNameLen {
		r.fail(field, "length %d, want 1..%d", n, maxNameLen)
		return ""
	}
	b := r.take(field, n)
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.fail(field, "not valid UTF-8")
		return ""
	}
	return string(b)
}

func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("end", "%d trailing bytes", len(r.b))
	}
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func checkName(msg, field, s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return &DecodeError{Msg: msg, Field: field, Why: fmt.Sprintf("length %d, want 1..%d", len(s), maxNameLen)}
	}
	if !utf8.ValidString(s) {
		return &DecodeError{Msg: msg, Field: field, Why: "not valid UTF-8"}
	}
	return nil
}

// PeekType checks the header and returns the message type.
func PeekType(b []byte) (uint8, error) {
	if len(b) < headerLen {
		return 0, &DecodeError{Msg: "header", Field: "header", Why: fmt.Sprintf("%d bytes, want at least %d", len(b), headerLen)}
	}
	if b[0] != magic0 || b[1] != magic1 {
		return 0, &DecodeError{Msg: "header", Field: "magic", Why: fmt.Sprintf("%q, want \"SX\"", b[:2])}
	}
	if b[2] != codecVersion {
		return 0, &DecodeError{Msg: "header", Field: "codec version", Why: fmt.Sprintf("%d, this node speaks %d", b[2], codecVersion)}
	}
	switch b[3] {
	case msgZone, msgDigest:
		return b[3], nil
	}
	return 0, &DecodeError{Msg: "header", Field: "type", Why: fmt.Sprintf("unknown message type %d", b[3])}
}

// compressMin: payloads smaller than this are sent raw; DEFLATE's framing
// would eat most of the gain.
const compressMin = 256

// EncodeZone builds a zone message for payload, compressing it with DEFLATE
// when that makes it smaller.
func EncodeZone(name, origin string, version uint64, published int64, payload []byte) ([]byte, error) {
	if err := checkName("zone", "name", name); err != nil {
		return nil, err
	}
	if err := checkName("zone", "origin", origin); err != nil {
		return nil, err
	}
	if uint64(len(payload)) > 1<<32-1 {
		return nil, errors.New("gossip zone message: payload larger than 4 GiB")
	}
	data, flags := payload, uint8(0)
	if len(payload) >= compressMin {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed) // level is valid: no error
		_, _ = w.Write(payload)                        // bytes.Buffer never fails
		_ = w.Close()
		if buf.Len() < len(payload) {
			data, flags = buf.Bytes(), flagDeflate
		}
	}
	return encodeZoneRaw(&ZoneMsg{
		Name: name, Origin: origin, Version: version, Published: published,
		Flags: flags, RawLen: uint32(len(payload)), CRC: crc32.ChecksumIEEE(payload), Data: data,
	}), nil
}

func encodeZoneRaw(z *ZoneMsg) []byte {
	b := make([]byte, 0, headerLen+8+2+len(z.Origin)+2+len(z.Name)+8+1+12+len(z.Data))
	b = append(b, magic0, magic1, codecVersion, msgZone)
	b = binary.BigEndian.AppendUint64(b, z.Version)
	b = appendStr(b, z.Origin)
	b = appendStr(b, z.Name)
	b = binary.BigEndian.AppendUint64(b, uint64(z.Published))
	b = append(b, z.Flags)
	b = binary.BigEndian.AppendUint32(b, z.RawLen)
	b = binary.BigEndian.AppendUint32(b, z.CRC)
	b = binary.BigEndian.AppendUint32(b, uint32(len(z.Data)))
	return append(b, z.Data...)
}

// DecodeZone parses a zone message without decompressing it. Data aliases b.
// maxPayload bounds the declared decompressed length.
func DecodeZone(b []byte, maxPayload int) (*ZoneMsg, error) {
	t, err := PeekType(b)
	if err != nil {
		return nil, err
	}
	if t != msgZone {
		return nil, &DecodeError{Msg: "zone", Field: "type", Why: fmt.Sprintf("type %d is not a zone message", t)}
	}
	r := &reader{msg: "zone", b: b[headerLen:]}
	z := &ZoneMsg{}
	z.Version = r.u64("version")
	z.Origin = r.str("origin")
	z.Name = r.str("name")
	z.Published = int64(r.u64("published"))
	z.Flags = r.u8("flags")
	if r.err == nil && z.Flags&^flagDeflate != 0 {
		r.fail("flags", "unknown bits %#x", z.Flags&^flagDeflate)
	}
	z.RawLen = r.u32("raw length")
	if r.err == nil && uint64(z.RawLen) > uint64(maxPayload) {
		r.fail("raw length", "%d bytes exceeds the %d-byte limit", z.RawLen, maxPayload)
	}
	z.CRC = r.u32("crc")
	n := r.u32("data length")
	if r.err == nil && z.Flags&flagDeflate == 0 && n != z.RawLen {
		r.fail("data length", "%d, uncompressed data must equal raw length %d", n, z.RawLen)
	}
	z.Data = r.take("data", int(n))
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return z, nil
}

// Payload returns the decompressed payload, checking its length and CRC.
// Decompression stops at RawLen+1 bytes, so a peer cannot make us inflate
// more than it declared (and DecodeZone already bounded what it declared).
func (z *ZoneMsg) Payload() ([]byte, error) {
	var out []byte
	if z.Flags&flagDeflate == 0 {
		out = append([]byte(nil), z.Data...)
	} else {
		fr := flate.NewReader(bytes.NewReader(z.Data))
		defer fr.Close()
		buf := bytes.NewBuffer(make([]byte, 0, z.RawLen))
		if _, err := io.Copy(buf, io.LimitReader(fr, int64(z.RawLen)+1)); err != nil {
			return nil, &DecodeError{Msg: "zone", Field: "data", Why: "bad DEFLATE stream: " + err.Error()}
		}
		out = buf.Bytes()
	}
	if uint32(len(out)) != z.RawLen || len(out) != int(z.RawLen) {
		return nil, &DecodeError{Msg: "zone", Field: "raw length", Why: fmt.Sprintf("declared %d, data holds %d", z.RawLen, len(out))}
	}
	if crc32.ChecksumIEEE(out) != z.CRC {
		return nil, &DecodeError{Msg: "zone", Field: "crc", Why: "payload checksum mismatch"}
	}
	return out, nil
}

// minDigestEntry is the smallest encoded digest entry (two 1-byte strings
// and a version); it bounds the entry count a peer may claim.
const minDigestEntry = 2 + 1 + 8 + 2 + 1

// EncodeDigest builds a digest message.
func EncodeDigest(d *Digest) ([]byte, error) {
	if err := checkName("digest", "sender", d.Sender); err != nil {
		return nil, err
	}
	b := make([]byte, 0, headerLen+2+len(d.Sender)+4+len(d.Entries)*48)
	b = append(b, magic0, magic1, codecVersion, msgDigest)
	b = appendStr(b, d.Sender)
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.Entries)))
	for _, e := range d.Entries {
		if err := checkName("digest", "entry name", e.Name); err != nil {
			return nil, err
		}
		if err := checkName("digest", "entry origin", e.Origin); err != nil {
			return nil, err
		}
		b = appendStr(b, e.Name)
		b = binary.BigEndian.AppendUint64(b, e.Version)
		b = appendStr(b, e.Origin)
	}
	return b, nil
}

// DecodeDigest parses a digest message.
func DecodeDigest(b []byte) (*Digest, error) {
	t, err := PeekType(b)
	if err != nil {
		return nil, err
	}
	if t != msgDigest {
		return nil, &DecodeError{Msg: "digest", Field: "type", Why: fmt.Sprintf("type %d is not a digest", t)}
	}
	r := &reader{msg: "digest", b: b[headerLen:]}
	d := &Digest{Sender: r.str("sender")}
	n := r.u32("count")
	if r.err == nil && uint64(n) > uint64(len(r.b)/minDigestEntry) {
		r.fail("count", "%d entries cannot fit in %d bytes", n, len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	d.Entries = make([]DigestEntry, 0, n)
	for i := range int(n) {
		var e DigestEntry
		e.Name = r.str(fmt.Sprintf("entry %d name", i))
		e.Version = r.u64(fmt.Sprintf("entry %d version", i))
		e.Origin = r.str(fmt.Sprintf("entry %d origin", i))
		if r.err != nil {
			return nil, r.err
		}
		d.Entries = append(d.Entries, e)
	}
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// Meta is what a node advertises about itself in memberlist metadata.
type Meta struct {
	Role Role
	IP   netip.Addr
	// Hostname and PublicIPs are the node metadata of dcos-net's
	// [dcos_net, nodes] key (GET /v1/nodes); both optional.
	Hostname  string
	PublicIPs []netip.Addr
}

// Equal reports whether two metadata are the same.
func (m Meta) Equal(o Meta) bool {
	return m.Role == o.Role && m.IP == o.IP && m.Hostname == o.Hostname && slices.Equal(m.PublicIPs, o.PublicIPs)
}

// EncodeMeta encodes node metadata (always far below memberlist's 512-byte
// limit: a hostname longer than MaxHostnameLen bytes is left out, and only
// the first MaxPublicIPs public IPs are written).
func EncodeMeta(m Meta) []byte {
	role := byte(0)
	switch m.Role {
	case RoleMaster:
		role = 1
	case RoleAgent:
		role = 2
	}
	ip := m.IP.Unmap().AsSlice()
	host := m.Hostname
	if len(host) > MaxHostnameLen || !utf8.ValidString(host) {
		host = ""
	}
	pubs := m.PublicIPs[:min(len(m.PublicIPs), MaxPublicIPs)]
	version := byte(metaVersion)
	if host != "" || len(pubs) > 0 {
		version = metaVersion2
	}
	b := []byte{version, role, byte(len(ip))}
	b = append(b, ip...)
	if version == metaVersion {
		return b
	}
	b = append(b, byte(len(host)))
	b = append(b, host...)
	b = append(b, byte(len(pubs)))
	for _, p := range pubs {
		a := p.Unmap().AsSlice()
		b = append(b, byte(len(a)))
		b = append(b, a...)
	}
	return b
}

// DecodeMeta parses node metadata from a peer.
func DecodeMeta(b []byte) (Meta, error) {
	r := &reader{msg: "meta", b: b}
	var m Meta
	v := r.u8("version")
	if r.err == nil && v != metaVersion && v != metaVersion2 {
		r.fail("version", "%d, this node speaks %d and %d", v, metaVersion, metaVersion2)
	}
	switch role := r.u8("role"); {
	case r.err != nil:
	case role == 1:
		m.Role = RoleMaster
	case role == 2:
		m.Role = RoleAgent
	default:
		r.fail("role", "unknown role %d", role)
	}
	m.IP = r.ip("ip")
	if v == metaVersion2 {
		n := int(r.u8("hostname length"))
		if r.err == nil && n > MaxHostnameLen {
			r.fail("hostname length", "%d, want 0..%d", n, MaxHostnameLen)
		}
		if hb := r.take("hostname", n); r.err == nil {
			if !utf8.Valid(hb) {
				r.fail("hostname", "not valid UTF-8")
			}
			m.Hostname = string(hb)
		}
		c := int(r.u8("public ip count"))
		if r.err == nil && c > MaxPublicIPs {
			r.fail("public ip count", "%d, want 0..%d", c, MaxPublicIPs)
		}
		for i := 0; i < c && r.err == nil; i++ {
			m.PublicIPs = append(m.PublicIPs, r.ip("public ip"))
		}
	}
	r.end()
	if r.err != nil {
		return Meta{}, r.err
	}
	return m, nil
}

// ip reads a length-prefixed (4 or 16 bytes) IP address.
func (r *reader) ip(field string) netip.Addr {
	n := r.u8(field + " length")
	if r.err == nil && n != 4 && n != 16 {
		r.fail(field+" length", "%d, want 4 or 16", n)
	}
	ipb := r.take(field, int(n))
	if r.err != nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ipb) // length is 4 or 16: always ok
	return a.Unmap()
}
