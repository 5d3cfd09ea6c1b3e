package balance

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// jhashInitval is the kernel's JHASH_INITVAL.
const jhashInitval = 0xdeadbeef

// JHash is the Linux kernel's jhash(key, length, initval)
// (include/linux/jhash.h, Bob Jenkins' lookup3 hashlittle), as nftables'
// `jhash` expression computes it over the bytes of its source registers.
// Words are read little-endian, as on the x86 and arm64 kernels Sextant
// targets.
func JHash(k []byte, initval uint32) uint32 {
	n := uint32(len(k))
	a := jhashInitval + n + initval
	b, c := a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a, b, c = jhashMix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	_, _, c = jhashFinal(a, b, c)
	return c
}

func jhashMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func jhashFinal(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return a, b, c
}

// reciprocalScale maps a 32-bit hash onto [0, n) the way the kernel's
// reciprocal_scale does (and so nft_hash's `mod`): (h × n) >> 32.
func reciprocalScale(h, n uint32) uint32 { return uint32(uint64(h) * uint64(n) >> 32) }

// MaglevSeed is the jhash seed of Maglev slots. It is a constant so that
// every node, and every plane, puts a client address in the same slot.
const MaglevSeed uint32 = 0x53585401

// MaglevSlot is the lookup-table slot of a client address: its 4 (IPv4)
// or 16 (IPv6) bytes in network order, hashed with JHash and MaglevSeed,
// scaled onto MaglevSize. For IPv4 this is what
// `jhash ip saddr mod 65537 seed 0x53585401` yields in nftables.
func MaglevSlot(src netip.Addr) uint32 {
	src = src.Unmap()
	var h uint32
	if src.Is4() {
		b := src.As4()
		h = JHash(b[:], MaglevSeed)
	} else {
		b := src.As16()
		h = JHash(b[:], MaglevSeed)
	}
	return reciprocalScale(h, MaglevSize)
}
