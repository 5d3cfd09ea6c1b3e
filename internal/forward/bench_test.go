package forward

import (
	"testing"

	"github.com/miekg/dns"
)

func BenchmarkRacingUDP(b *testing.B) {
	p := startPeer(b, behaviour{ip: "10.0.0.1"})
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{p.addr}}, nil)
	q := query("app.example", dns.TypeA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Forward(b.Context(), q, "udp"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSequentialUDP(b *testing.B) {
	p := startPeer(b, behaviour{ip: "10.0.0.1"})
	s, _ := NewSequential([]string{p.addr}, 0)
	q := query("app.example", dns.TypeA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Forward(b.Context(), q, "udp"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
