package balance

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
)

// lookup3.c's own self-test values for hashlittle, which the kernel's
// jhash is on little-endian machines.
func TestJHashVectors(t *testing.T) {
	tests := []struct {
		key     string
		initval uint32
		want    uint32
	}{
		{"", 0, 0xdeadbeef},
		{"", 0xdeadbeef, 0xbd5b7dde},
		{"Four score and seven years ago", 0, 0x17770551},
		{"Four score and seven years ago", 1, 0xcd628161},
	}
	for _, tc := range tests {
		if got := JHash([]byte(tc.key), tc.initval); got != tc.want {
			t.Errorf("jhash(%q, %#x) = %#x, want %#x", tc.key, tc.initval, got, tc.want)
		}
	}
}

func TestReciprocalScale(t *testing.T) {
	for _, tc := range []struct{ h, n, want uint32 }{
		{0, MaglevSize, 0}, {0xffffffff, MaglevSize, MaglevSize - 1}, {0x80000000, 10, 5}, {1 << 31, MaglevSize, MaglevSize / 2},
	} {
		if got := reciprocalScale(tc.h, tc.n); got != tc.want {
			t.Errorf("reciprocal_scale(%#x, %d) = %d, want %d", tc.h, tc.n, got, tc.want)
		}
	}
}

func TestMaglevSlotFamilies(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.7")
	if MaglevSlot(a) != MaglevSlot(netip.AddrFrom16(a.As16())) {
		t.Error("an IPv4-mapped IPv6 address must hash as its IPv4 address")
	}
	if s := MaglevSlot(netip.MustParseAddr("fd01:c::1")); s >= MaglevSize {
		t.Errorf("slot %d out of range", s)
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d:80", i/250, i%250+1)
	}
	return out
}

func ones(n int) []uint8 {
	w := make([]uint8, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func TestMaglevTableBalanced(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100} {
		tab := MaglevTable(names(n), ones(n))
		count := make([]int, n)
		for _, e := range tab {
			count[e]++
		}
		lo, hi := MaglevSize, 0
		for _, c := range count {
			lo, hi = min(lo, c), max(hi, c)
		}
		// The paper's guarantee: the shares differ by at most one slot
		// per round, so by at most 1 between any two backends.
		if hi-lo > 1 {
			t.Errorf("%d backends: slots per backend from %d to %d", n, lo, hi)
		}
	}
}

func TestMaglevTableWeights(t *testing.T) {
	if tab := MaglevTable(names(2), []uint8{0, 0}); tab != nil {
		t.Error("a table without weight")
	}
	for _, e := range MaglevTable(names(3), []uint8{0, 1, 0}) {
		if e != 1 {
			t.Fatalf("slot owned by %d, of weight 0", e)
		}
	}
	tab := MaglevTable(names(2), []uint8{1, 3})
	count := [2]int{}
	for _, e := range tab {
		count[e]++
	}
	if r := float64(count[1]) / float64(count[0]); r < 2.9 || r > 3.1 {
		t.Errorf("weights 1:3 gave slots %v (ratio %.2f)", count, r)
	}
}

// Removing one backend of N moves the slots of that backend and only a
// small share of the others' (the paper reports a few percent).
func TestMaglevMinimalDisruption(t *testing.T) {
	all := names(20)
	before := MaglevTable(all, ones(20))
	removed := 7
	rest := append(append([]string{}, all[:removed]...), all[removed+1:]...)
	after := MaglevTable(rest, ones(19))
	moved := 0
	for s := range before {
		if before[s] == uint16(removed) {
			continue
		}
		if all[before[s]] != rest[after[s]] {
			moved++
		}
	}
	if share := float64(moved) / MaglevSize; share > 0.05 {
		t.Errorf("%.1f%% of the surviving backends' slots moved", 100*share)
	}
}

// The table is a pure function of its inputs: a digest pins it, so a
// change to the algorithm (which would move every client of every
// Maglev VIP on upgrade, and split planes) cannot go unnoticed.
func TestMaglevTableGolden(t *testing.T) {
	tab := MaglevTable(names(3), ones(3))
	b := make([]byte, 2*len(tab))
	for i, e := range tab {
		binary.BigEndian.PutUint16(b[2*i:], e)
	}
	got := fmt.Sprintf("%x", sha256.Sum256(b))[:16]
	if want := maglevGolden; got != want {
		t.Errorf("table digest %s, want %s", got, want)
	}
}

const maglevGolden = "a39e0ff9ad0b0d1b"

func svc(mode Mode, ws ...uint8) Service {
	s := Service{Key: Key{Protocol: TCP, Addr: netip.MustParseAddrPort("11.0.0.1:80")}, Mode: mode}
	for i, w := range ws {
		s.Backends = append(s.Backends, Backend{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80), Weight: w})
	}
	return s
}

func TestPickRandomSkipsDraining(t *testing.T) {
	p := NewPicker(svc(Random, 1, 0, 1))
	seen := map[netip.AddrPort]int{}
	for range 3000 {
		b, ok := p.Pick(netip.Addr{})
		if !ok {
			t.Fatal("no pick")
		}
		seen[b.Addr]++
	}
	if seen[netip.MustParseAddrPort("10.0.0.2:80")] != 0 {
		t.Error("a backend of weight 0 got a new flow")
	}
	for _, a := range []string{"10.0.0.1:80", "10.0.0.3:80"} {
		if n := seen[netip.MustParseAddrPort(a)]; n < 1200 || n > 1800 {
			t.Errorf("%s got %d of 3000", a, n)
		}
	}
}

func TestPickRefuses(t *testing.T) {
	for _, mode := range []Mode{Random, Maglev} {
		for _, s := range []Service{svc(mode), svc(mode, 0, 0)} {
			if b, ok := NewPicker(s).Pick(netip.MustParseAddr("1.2.3.4")); ok {
				t.Errorf("%v with weights %v picked %v", mode, s.Backends, b)
			}
		}
	}
}

func TestPickMaglevStableAndAvoiding(t *testing.T) {
	p := NewPicker(svc(Maglev, 1, 1, 1))
	used := map[netip.AddrPort]bool{}
	for i := range 200 {
		src := netip.AddrFrom4([4]byte{192, 168, byte(i / 200), byte(i)})
		b, _ := p.Pick(src)
		again, _ := NewPicker(svc(Maglev, 1, 1, 1)).Pick(src)
		if b != again {
			t.Fatalf("%s: %v then %v", src, b, again)
		}
		used[b.Addr] = true
		r, ok := p.PickAvoiding(src, func(a netip.AddrPort) bool { return a == b.Addr })
		if !ok || r.Addr == b.Addr {
			t.Fatalf("%s: retry avoiding %v got %v %v", src, b, r, ok)
		}
		if _, ok := p.PickAvoiding(src, func(netip.AddrPort) bool { return true }); ok {
			t.Fatal("picked while avoiding everything")
		}
	}
	if len(used) != 3 {
		t.Errorf("200 clients used %d of 3 backends", len(used))
	}
	// Draining one backend moves its own clients and few others: slots
	// are placed by backend names, not by indexes.
	drained := NewPicker(svc(Maglev, 1, 0, 1))
	moved := 0
	for i := range 200 {
		src := netip.AddrFrom4([4]byte{192, 168, 0, byte(i)})
		b, _ := p.Pick(src)
		d, _ := drained.Pick(src)
		if d.Addr == netip.MustParseAddrPort("10.0.0.2:80") {
			t.Fatalf("%s went to the drained backend", src)
		}
		if b.Addr != netip.MustParseAddrPort("10.0.0.2:80") && b != d {
			moved++
		}
	}
	if moved > 20 {
		t.Errorf("draining one of 3 backends moved %d of the others' 200 clients", moved)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Random, "random": Random, "MAGLEV": Maglev, " maglev ": Maglev} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMode("wlc"); err == nil {
		t.Error("wlc accepted")
	}
}

func BenchmarkMaglevTable(b *testing.B) {
	for _, n := range []int{3, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ns, ws := names(n), ones(n)
			b.ReportAllocs()
			for b.Loop() {
				MaglevTable(ns, ws)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	src := netip.MustParseAddr("192.168.1.9")
	for _, mode := range []Mode{Random, Maglev} {
		b.Run(mode.String(), func(b *testing.B) {
			p := NewPicker(svc(mode, 1, 1, 1, 1, 1))
			b.ReportAllocs()
			for b.Loop() {
				p.Pick(src)
			}
		})
	}
}
