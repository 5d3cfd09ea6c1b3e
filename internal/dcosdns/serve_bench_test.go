package dcosdns

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/dnsserver"
)

// fastUpstream answers every query from wire bytes with one A record
// (10.0.0.1, TTL 60), like a Mesos-DNS answering from prepared data; it
// keeps the upstream's own cost small in the forwarding benchmarks.
type fastUpstream struct{}

func (fastUpstream) AnswerFast(q, out []byte, _ dnsserver.Network) (int, bool) {
	if len(q) < 17 || q[5] != 1 || len(q)+16 > len(out) {
		return 0, false
	}
	// The question ends at the first root label after offset 12, plus 4.
	off := 12
	for off < len(q) && q[off] != 0 {
		off += 1 + int(q[off])
	}
	end := off + 5
	if end > len(q) {
		return 0, false
	}
	n := copy(out, q[:end])
	out[2] |= 0x80 // QR
	out[3] = 0x80  // RA
	out[6], out[7], out[8], out[9], out[10], out[11] = 0, 1, 0, 0, 0, 0
	n += copy(out[n:], []byte{0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1})
	return n, true
}

func (fastUpstream) ServeDNS(_ context.Context, req *dnsserver.Request) *dns.Msg {
	return dnsserver.FormErr(req.Raw)
}

// serve runs a dnsserver with h on a free loopback port until the
// benchmark ends.
func serve(b *testing.B, h dnsserver.Handler) string {
	b.Helper()
	s, err := dnsserver.Listen(dnsserver.Config{Addr: "127.0.0.1:0", Handler: h, UDPSockets: 2})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return s.Addr().String()
}

// benchServe asks addr for name over UDP from parallel clients (each with
// its own socket, 8 per core) and fails on any error.
func benchServe(b *testing.B, addr, name string) {
	q := query(name, dns.TypeA)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		raw, _ := q.Pack()
		buf := make([]byte, 2048)
		for pb.Next() {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(raw); err != nil {
				b.Error(err)
				return
			}
			n, err := c.Read(buf)
			if err != nil {
				b.Error(err)
				return
			}
			if n < 12 || buf[0] != raw[0] || buf[1] != raw[1] || buf[3]&0x0f != 0 {
				b.Errorf("bad reply %x", buf[:n])
				return
			}
		}
	})
}

// BenchmarkServeMesosForwarded: a .mesos query through the whole role
// path (dnsserver → Handler → forwarder → upstream dnsserver and back)
// over loopback UDP. Profile with -cpuprofile to see the forwarding cost.
func BenchmarkServeMesosForwarded(b *testing.B) {
	up := serve(b, fastUpstream{})
	h := testHandler(b, fastTasks(), []string{up}, nil, nil, false)
	benchServe(b, serve(b, h), "app0.marathon.mesos")
}

// BenchmarkServeUpstreamDirect: the same client against the upstream
// alone (the floor a forwarded query cannot beat).
func BenchmarkServeUpstreamDirect(b *testing.B) {
	benchServe(b, serve(b, fastUpstream{}), "app0.marathon.mesos")
}

// BenchmarkServeLocal: a local name through dnsserver and the fast path.
func BenchmarkServeLocal(b *testing.B) {
	h := testHandler(b, fastTasks(), nil, nil, nil, false)
	benchServe(b, serve(b, h), "web.marathon.containerip.dcos.thisdcos.directory")
}
