package nft

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func svc(proto balance.Protocol, vip string, mode balance.Mode, backends ...string) balance.Service {
	s := balance.Service{Key: balance.Key{Protocol: proto, Addr: ap(vip)}, Mode: mode}
	for _, b := range backends {
		w := uint8(1)
		if a, ok := strings.CutSuffix(b, "/0"); ok {
			b, w = a, 0
		} else if a, ok := strings.CutSuffix(b, "/3"); ok {
			b, w = a, 3
		}
		s.Backends = append(s.Backends, balance.Backend{Addr: ap(b), Weight: w})
	}
	slices.SortFunc(s.Backends, func(a, b balance.Backend) int { return a.Addr.Compare(b.Addr) })
	return s
}

// The VIPs of the golden and tracer tests: a named VIP with a drained
// backend and a weight, a Maglev VIP, a UDP VIP, an IP VIP outside the
// ranges, a VIP with no backend taking new flows, an IPv6 VIP.
func goldenServices() []balance.Service {
	return []balance.Service{
		svc(balance.TCP, "11.215.13.222:80", balance.Random, "10.0.1.1:31000", "10.0.1.2:31000/0", "10.0.1.3:31001/3"),
		svc(balance.TCP, "11.138.58.156:9092", balance.Maglev, "10.0.2.1:9092", "10.0.2.2:9092", "10.0.2.3:9092"),
		svc(balance.UDP, "11.215.13.222:53", balance.Random, "10.0.1.1:31053", "10.0.1.2:31053"),
		svc(balance.TCP, "1.2.3.4:5000", balance.Random, "10.0.3.1:5000"),
		svc(balance.TCP, "11.0.0.37:8080", balance.Random, "10.0.4.1:8080/0"),
		svc(balance.TCP, "[fd01:c::621e:db48:bbc5:ef03]:80", balance.Random, "[fd00:1::1]:80", "[fd00:1::2]:80"),
		svc(balance.TCP, "11.0.0.39:443", balance.Random, "10.0.2.2:9092", "10.0.5.5:8443"),
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		services []balance.Service
	}{
		{"empty", nil},
		{"vips", goldenServices()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(tc.services, DefaultVIPRanges).String()
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("ruleset differs from %s (go test -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// Rendering is deterministic: the input order of services does not
// matter beyond their keys, and two renders are equal.
func TestRenderDeterministic(t *testing.T) {
	s := goldenServices()
	a := Render(s, DefaultVIPRanges).String()
	slices.Reverse(s)
	if b := Render(s, DefaultVIPRanges).String(); a != b {
		t.Error("render depends on the order of services")
	}
}

func TestTrace(t *testing.T) {
	rs := Render(goldenServices(), DefaultVIPRanges)
	node := []netip.Addr{netip.MustParseAddr("10.0.0.9")}
	bs := func(s ...string) []netip.AddrPort {
		var out []netip.AddrPort
		for _, x := range s {
			out = append(out, ap(x))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		p    Packet
		want Outcome
	}{
		{"local client, random VIP: drained backend gets no slot", Packet{Src: ap("11.215.13.222:40000"), Dst: ap("11.215.13.222:80"), Proto: balance.TCP, Local: true},
			Outcome{Kind: "dnat", Backends: bs("10.0.1.1:31000", "10.0.1.3:31001"), Masquerade: true}},
		{"local client with its own address: no masquerade", Packet{Src: ap("10.0.0.9:40000"), Dst: ap("1.2.3.4:5000"), Proto: balance.TCP, Local: true, LocalAddrs: node},
			Outcome{Kind: "dnat", Backends: bs("10.0.3.1:5000"), Counters: []string{backendName("be", balance.Key{Protocol: balance.TCP, Addr: ap("1.2.3.4:5000")}, ap("10.0.3.1:5000")), backendName("bt", balance.Key{Protocol: balance.TCP, Addr: ap("1.2.3.4:5000")}, ap("10.0.3.1:5000"))}}},
		{"from another host: masqueraded", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("11.215.13.222:80"), Proto: balance.TCP, LocalAddrs: node},
			Outcome{Kind: "dnat", Backends: bs("10.0.1.1:31000", "10.0.1.3:31001"), Masquerade: true}},
		{"hairpin: a container reaching itself through the VIP", Packet{Src: ap("10.0.3.1:40000"), Dst: ap("1.2.3.4:5000"), Proto: balance.TCP, LocalAddrs: node},
			Outcome{Kind: "dnat", Backends: bs("10.0.3.1:5000"), Masquerade: true, Counters: []string{backendName("be", balance.Key{Protocol: balance.TCP, Addr: ap("1.2.3.4:5000")}, ap("10.0.3.1:5000")), backendName("bt", balance.Key{Protocol: balance.TCP, Addr: ap("1.2.3.4:5000")}, ap("10.0.3.1:5000"))}}},
		{"UDP VIP", Packet{Src: ap("10.9.9.9:5353"), Dst: ap("11.215.13.222:53"), Proto: balance.UDP, LocalAddrs: node},
			Outcome{Kind: "dnat", Backends: bs("10.0.1.1:31053", "10.0.1.2:31053"), Masquerade: true}},
		{"TCP to the UDP-only port of a VIP", Packet{Src: ap("10.9.9.9:5353"), Dst: ap("11.215.13.222:53"), Proto: balance.TCP, LocalAddrs: node},
			Outcome{Kind: "reject"}},
		{"VIP whose only backend is drained", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("11.0.0.37:8080"), Proto: balance.TCP},
			Outcome{Kind: "reject", Counters: []string{refuseName(balance.Key{Protocol: balance.TCP, Addr: ap("11.0.0.37:8080")})}}},
		{"VIP range address no VIP holds, local", Packet{Src: ap("11.9.9.9:40000"), Dst: ap("11.9.9.9:80"), Proto: balance.TCP, Local: true},
			Outcome{Kind: "reject"}},
		{"VIP range address no VIP holds, from another host", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("11.9.9.9:80"), Proto: balance.UDP},
			Outcome{Kind: "reject"}},
		{"another port of an IP VIP", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("1.2.3.4:22"), Proto: balance.TCP},
			Outcome{Kind: "reject"}},
		{"IPv6 range address no VIP holds", Packet{Src: ap("[fd00::9]:40000"), Dst: ap("[fd01:c::1]:80"), Proto: balance.TCP},
			Outcome{Kind: "reject"}},
		{"IPv6 VIP", Packet{Src: ap("[fd00::9]:40000"), Dst: ap("[fd01:c::621e:db48:bbc5:ef03]:80"), Proto: balance.TCP},
			Outcome{Kind: "dnat", Backends: bs("[fd00:1::1]:80", "[fd00:1::2]:80"), Masquerade: true}},
		{"not a VIP: untouched", Packet{Src: ap("10.0.0.9:40000"), Dst: ap("10.0.1.1:31000"), Proto: balance.TCP, Local: true, LocalAddrs: node},
			Outcome{Kind: "accept"}},
		{"forwarded non-VIP traffic: untouched", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("8.8.8.8:53"), Proto: balance.UDP, LocalAddrs: node},
			Outcome{Kind: "accept"}},
		{"established flow to a drained backend: conntrack keeps it", Packet{Src: ap("10.9.9.9:40000"), Dst: ap("11.0.0.37:8080"), Proto: balance.TCP, Established: true},
			Outcome{Kind: "conntrack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Trace(rs, tc.p)
			if got.Kind != tc.want.Kind || !slices.Equal(got.Backends, tc.want.Backends) || got.Masquerade != tc.want.Masquerade ||
				(tc.want.Counters != nil && !slices.Equal(got.Counters, tc.want.Counters)) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// The kernel's choice for a Maglev VIP, as the tracer computes it from
// the ruleset (jhash of the source with the seed, mod 65537, slot map),
// is balance.Picker's for every source: IPv4 and IPv6.
func TestTraceMaglevIsPicker(t *testing.T) {
	for _, s := range []balance.Service{
		svc(balance.TCP, "11.138.58.156:9092", balance.Maglev, "10.0.2.1:9092", "10.0.2.2:9092/0", "10.0.2.3:9092/3", "10.0.2.4:9092"),
		svc(balance.TCP, "[fd01:c::5]:80", balance.Maglev, "[fd00:1::1]:80", "[fd00:1::2]:80", "[fd00:1::3]:80"),
	} {
		rs := Render([]balance.Service{s}, DefaultVIPRanges)
		p := balance.NewPicker(s)
		seen := map[netip.AddrPort]int{}
		for i := range 2000 {
			var src netip.Addr
			if s.Addr.Addr().Is4() {
				src = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 7})
			} else {
				src = netip.AddrFrom16([16]byte{0xfd, 14: byte(i >> 8), 15: byte(i)})
			}
			got := Trace(rs, Packet{Src: netip.AddrPortFrom(src, 40000), Dst: s.Addr, Proto: s.Protocol})
			want, _ := p.Pick(src)
			if got.Kind != "dnat" || len(got.Backends) != 1 || got.Backends[0] != want.Addr {
				t.Fatalf("%s from %s: traced %+v, picker %s", s.Key, src, got, want.Addr)
			}
			seen[want.Addr]++
		}
		if len(seen) < 3 {
			t.Errorf("%s: 2000 sources reached %v", s.Key, seen)
		}
	}
}

// Weighted random: a backend of weight w owns w slots.
func TestRenderWeights(t *testing.T) {
	s := svc(balance.TCP, "11.0.0.1:80", balance.Random, "10.0.0.1:80", "10.0.0.2:80/3", "10.0.0.3:80/0")
	rs := Render([]balance.Service{s}, DefaultVIPRanges)
	per := map[netip.AddrPort]int{}
	for _, e := range rs.Sets[slotSet(s.Key)].Elems {
		per[e.Backend]++
	}
	if per[ap("10.0.0.1:80")] != 1 || per[ap("10.0.0.2:80")] != 3 || per[ap("10.0.0.3:80")] != 0 || len(per) != 2 {
		t.Errorf("slots per backend: %v", per)
	}
	if r := rs.Chains[svcChain(s.Key)].Rules[0][0]; r.Op != opNumgenDNAT || r.Mod != 4 {
		t.Errorf("service rule %v, want numgen mod 4", r)
	}
}

func TestValid(t *testing.T) {
	good := svc(balance.TCP, "11.0.0.1:80", balance.Random, "10.0.0.1:80")
	badProto := good
	badProto.Protocol = 1
	noPort := svc(balance.TCP, "11.0.0.2:0", balance.Random, "10.0.0.1:80")
	badBackend := svc(balance.UDP, "11.0.0.3:53", balance.Random, "10.0.0.1:53")
	badBackend.Backends = append(badBackend.Backends, balance.Backend{Weight: 1})
	out, err := valid([]balance.Service{good, badProto, noPort, badBackend})
	if len(out) != 2 || out[0].Key != good.Key || len(out[1].Backends) != 1 {
		t.Errorf("kept %+v", out)
	}
	for _, want := range []string{"proto-1", "11.0.0.2:0", "backend invalid AddrPort"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

func TestLastPlusOne(t *testing.T) {
	for in, want := range map[string]string{"11.0.0.0/8": "12.0.0.0", "fd01:c::/64": "fd01:c:0:1::", "10.0.0.5/32": "10.0.0.6"} {
		got, ok := lastPlusOne(netip.MustParsePrefix(in))
		if !ok || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := lastPlusOne(netip.MustParsePrefix("255.0.0.0/8")); ok {
		t.Error("255.0.0.0/8 has an end")
	}
}

func BenchmarkRenderMaglev(b *testing.B) {
	s := []balance.Service{svc(balance.TCP, "11.138.58.156:9092", balance.Maglev, "10.0.2.1:9092", "10.0.2.2:9092", "10.0.2.3:9092")}
	for b.Loop() {
		Render(s, DefaultVIPRanges)
	}
}

// FuzzRenderTrace: for any set of services, every VIP sends a new flow
// to one of its backends taking new flows (Maglev: the one
// balance.Picker picks) or refuses it, and an address no VIP holds is
// refused.
func FuzzRenderTrace(f *testing.F) {
	f.Add([]byte{0, 1, 80, 2, 1, 0}, byte(9))
	f.Add([]byte{1, 0, 53, 3, 0, 0, 3, 1, 1}, byte(200))
	f.Add([]byte{0, 1, 1, 1, 0, 0, 2, 2, 1, 1}, byte(0))
	f.Fuzz(func(t *testing.T, data []byte, srcByte byte) {
		var svcs []balance.Service
		seen := map[balance.Key]bool{}
		for len(data) >= 4 && len(svcs) < 4 {
			proto := balance.TCP
			if data[0]&1 == 1 {
				proto = balance.UDP
			}
			mode := balance.Mode(data[1] & 1)
			k := balance.Key{Protocol: proto, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, 0, 0, data[2]}), 1000+uint16(data[2]))}
			n := int(data[3]%4) + 1
			data = data[4:]
			s := balance.Service{Key: k, Mode: mode}
			for i := range n {
				w := uint8(1)
				if len(data) > 0 {
					w, data = data[0]%4, data[1:]
				}
				s.Backends = append(s.Backends, balance.Backend{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), 1}), 8000), Weight: w})
			}
			if !seen[k] {
				seen[k] = true
				svcs = append(svcs, s)
			}
		}
		rs := Render(svcs, DefaultVIPRanges)
		if rs.String() != Render(svcs, DefaultVIPRanges).String() {
			t.Fatal("render is not deterministic")
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 200, 0, srcByte}), 40000)
		for _, s := range svcs {
			got := Trace(rs, Packet{Src: src, Dst: s.Addr, Proto: s.Protocol})
			p := balance.NewPicker(s)
			want, ok := p.Pick(src.Addr())
			switch {
			case !ok:
				if got.Kind != "reject" {
					t.Fatalf("%s without a backend taking flows: %+v", s.Key, got)
				}
			case got.Kind != "dnat":
				t.Fatalf("%s: %+v", s.Key, got)
			case s.Mode == balance.Maglev && (len(got.Backends) != 1 || got.Backends[0] != want.Addr):
				t.Fatalf("%s Maglev: %v, picker %v", s.Key, got.Backends, want.Addr)
			case len(got.Backends) != p.Len() && s.Mode == balance.Random:
				t.Fatalf("%s: candidates %v, %d backends take flows", s.Key, got.Backends, p.Len())
			}
		}
		if got := Trace(rs, Packet{Src: src, Dst: netip.MustParseAddrPort("11.255.0.1:1"), Proto: balance.TCP}); got.Kind != "reject" {
			t.Fatalf("unheld VIP address: %+v", got)
		}
	})
}
