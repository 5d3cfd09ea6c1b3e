package vip

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
)

// hconst is lookup2's golden ratio; OTP's make_hash2 seeds a binary's hash
// with 13 × hconst (mod 2³²) = 0x08d12e65.
const (
	hconst   = 0x9e3779b9
	hconst13 = 0x08d12e65
)

// Phash2 returns Erlang's erlang:phash2(Bin, Range) for a binary term:
// OTP's make_hash2 (Bob Jenkins' lookup2 block hash with initval
// 13·0x9e3779b9) reduced modulo rng. dcos-net derives named VIP addresses
// from it, so matching it keeps VIP addresses identical to a DC/OS cluster's.
// rng 0 means 2²⁷, as phash2/1.
func Phash2(b []byte, rng uint32) uint32 {
	h := blockHash(b, hconst13)
	if rng == 0 {
		return h & (1<<27 - 1)
	}
	return h % rng
}

func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= b
	a -= c
	a ^= c >> 13
	b -= c
	b -= a
	b ^= a << 8
	c -= a
	c -= b
	c ^= b >> 13
	a -= b
	a -= c
	a ^= c >> 12
	b -= c
	b -= a
	b ^= a << 16
	c -= a
	c -= b
	c ^= b >> 5
	a -= b
	a -= c
	a ^= c >> 3
	b -= c
	b -= a
	b ^= a << 10
	c -= a
	c -= b
	c ^= b >> 15
	return a, b, c
}

func blockHash(k []byte, initval uint32) uint32 {
	a, b, c := uint32(hconst), uint32(hconst), initval
	length := len(k)
	for len(k) >= 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a, b, c = mix(a, b, c)
		k = k[12:]
	}
	c += uint32(length)
	// The tail switch of lookup2, cases falling through from 11 down to 1;
	// the lowest byte of c is reserved for the length.
	n := len(k)
	if n >= 11 {
		c += uint32(k[10]) << 24
	}
	if n >= 10 {
		c += uint32(k[9]) << 16
	}
	if n >= 9 {
		c += uint32(k[8]) << 8
	}
	if n >= 8 {
		b += uint32(k[7]) << 24
	}
	if n >= 7 {
		b += uint32(k[6]) << 16
	}
	if n >= 6 {
		b += uint32(k[5]) << 8
	}
	if n >= 5 {
		b += uint32(k[4])
	}
	if n >= 4 {
		a += uint32(k[3]) << 24
	}
	if n >= 3 {
		a += uint32(k[2]) << 16
	}
	if n >= 2 {
		a += uint32(k[1]) << 8
	}
	if n >= 1 {
		a += uint32(k[0])
	}
	_, _, c = mix(a, b, c)
	return c
}

// Range is an inclusive address range for named VIPs of one family.
type Range struct {
	Min, Max netip.Addr
}

// Default ranges (§B.3). DefaultMaxIPv4 is dcos-net's compiled default;
// DC/OS itself configures DCOSMaxIPv4 (dcos_l4lb_max_named_ip), which
// shifts every hash result.
var (
	DefaultMinIPv4 = netip.AddrFrom4([4]byte{11, 0, 0, 0})
	DefaultMaxIPv4 = netip.AddrFrom4([4]byte{11, 255, 255, 254})
	DCOSMaxIPv4    = netip.AddrFrom4([4]byte{11, 255, 255, 255})
	DefaultMinIPv6 = netip.MustParseAddr("fd01:c::")
	DefaultMaxIPv6 = netip.MustParseAddr("fd01:c::ffff:ffff:ffff:ffff")
)

// ErrOutOfIPs is returned when a range has no free address left.
var ErrOutOfIPs = errors.New("out of named VIP addresses")

func (r Range) validate() error {
	if !r.Min.IsValid() || !r.Max.IsValid() {
		return errors.New("range bounds must be set")
	}
	if r.Min.Is4() != r.Max.Is4() {
		return fmt.Errorf("range %s-%s mixes address families", r.Min, r.Max)
	}
	if r.Max.Compare(r.Min) <= 0 {
		return fmt.Errorf("range %s-%s: max must be above min", r.Min, r.Max)
	}
	return nil
}

func addrInt(a netip.Addr) *big.Int {
	b := a.As16()
	if a.Is4() {
		return new(big.Int).SetBytes(b[12:])
	}
	return new(big.Int).SetBytes(b[:])
}

func intAddr(i *big.Int, v4 bool) netip.Addr {
	if v4 {
		var b [4]byte
		i.FillBytes(b[:])
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	i.FillBytes(b[:])
	return netip.AddrFrom16(b)
}

// Ideal returns the address dcos-net hashes key to in r, before collision
// handling: min + phash2(key, max−min) for IPv4, min + SHA-1(key) mod
// (max−min) for IPv6 (the range size is max−min, not +1, as upstream).
func (r Range) Ideal(key string) (netip.Addr, error) {
	if err := r.validate(); err != nil {
		return netip.Addr{}, err
	}
	q := new(big.Int).Sub(addrInt(r.Max), addrInt(r.Min))
	var off *big.Int
	if r.Min.Is4() {
		off = big.NewInt(int64(Phash2([]byte(key), uint32(q.Uint64()))))
	} else {
		sum := sha1.Sum([]byte(key))
		off = new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), q)
	}
	return intAddr(off.Add(off, addrInt(r.Min)), r.Min.Is4()), nil
}

// Allocate gives every key an address in r. Each key starts at its Ideal
// address; when that is taken it tries the next one, wrapping from max to
// min. Keys are processed in sorted order, so every node that sees the same
// set of keys computes the same mapping whatever order the keys arrived in
// (dcos-net processed them in arrival order, so colliding names could get
// different addresses on different nodes). Keys that find no free address
// are left out and reported in the error.
func (r Range) Allocate(keys []string) (map[string]netip.Addr, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	out := make(map[string]netip.Addr, len(sorted))
	taken := make(map[netip.Addr]bool, len(sorted))
	var errs []error
	for _, k := range sorted {
		a, _ := r.Ideal(k)
		// The probe visits each address of the range at most once; only a
		// range smaller than the key set can exhaust it, and then it stops
		// after len(taken)+1 steps because every taken address is skipped
		// once.
		ok := false
		for range len(taken) + 1 {
			if !taken[a] {
				ok = true
				break
			}
			if a == r.Max {
				a = r.Min
			} else {
				a = a.Next()
			}
		}
		if !ok {
			errs = append(errs, fmt.Errorf("named VIP %q: %w in %s-%s", k, ErrOutOfIPs, r.Min, r.Max))
			continue
		}
		taken[a] = true
		out[k] = a
	}
	return out, errors.Join(errs...)
}
