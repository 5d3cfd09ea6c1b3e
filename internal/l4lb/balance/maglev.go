package balance

import (
	"crypto/sha256"
	"encoding/binary"
)

// MaglevSize is the number of slots of a Maglev lookup table: a prime, so
// every skip visits every slot, and large against the number of backends
// (the paper asks for M ≫ N: with 100 backends the shares differ by about
// 1 %).
const MaglevSize = 65537

// MaxMaglevBackends is the most backends with a weight above 0 a Maglev
// table holds (entries are 16-bit); more are left out of the table.
const MaxMaglevBackends = 1<<16 - 1

// maglevPermutation returns a backend's offset and skip: the first 16
// bytes of SHA-256 of its address ("ip:port"). Any plane that builds the
// table itself must use the same derivation.
func maglevPermutation(name string) (offset, skip uint32) {
	h := sha256.Sum256([]byte(name))
	offset = uint32(binary.BigEndian.Uint64(h[0:8]) % MaglevSize)
	skip = uint32(binary.BigEndian.Uint64(h[8:16])%(MaglevSize-1)) + 1
	return offset, skip
}

// MaglevTable fills a lookup table for backends with the given names
// (their "ip:port" strings, in the order of the service's backends) and
// weights: the population loop of the Maglev paper (§3.4,
// Pseudocode 1), where in each round a backend claims as many slots as
// its weight. Entry i is the index of the backend that owns slot i; a
// backend of weight 0 owns none. The result depends only on the names,
// their order and the weights; it is nil when no weight is above 0.
func MaglevTable(names []string, weights []uint8) []uint16 {
	n := min(len(names), len(weights), MaxMaglevBackends)
	total := 0
	for _, w := range weights[:n] {
		total += int(w)
	}
	if total == 0 {
		return nil
	}
	const empty = 0xffff
	entry := make([]uint16, MaglevSize)
	for i := range entry {
		entry[i] = empty
	}
	pos := make([]uint32, n)  // the next slot each backend tries
	skip := make([]uint32, n) // its step through the permutation
	for i := range n {
		pos[i], skip[i] = maglevPermutation(names[i])
	}
	filled := 0
	for {
		for i := range n {
			for range weights[i] {
				c := pos[i]
				for entry[c] != empty {
					c += skip[i]
					if c >= MaglevSize {
						c -= MaglevSize
					}
				}
				entry[c] = uint16(i)
				c += skip[i]
				if c >= MaglevSize {
					c -= MaglevSize
				}
				pos[i] = c
				filled++
				if filled == MaglevSize {
					return entry
				}
			}
		}
	}
}
