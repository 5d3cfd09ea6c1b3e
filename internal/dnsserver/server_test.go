package dnsserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testHandler answers "fast.test." on the fast path with 10.0.0.1 (by
// flipping the query into a reply in place), "panic.test." by panicking,
// and everything else on the slow path with NXDOMAIN.
type testHandler struct{ slow, fast atomic.Int64 }

func (h *testHandler) AnswerFast(q, out []byte, _ Network) (int, bool) {
	m := new(dns.Msg) // tests only: the real handlers do not allocate
	if m.Unpack(q) != nil || len(m.Question) != 1 || m.Question[0].Name != "fast.test." {
		return 0, false
	}
	h.fast.Add(1)
	r := new(dns.Msg)
	r.SetReply(m)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "fast.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 0, 0, 1)}}
	b, err := r.PackBuffer(out)
	if err != nil {
		return 0, false
	}
	return copy(out, b), true
}

func (h *testHandler) ServeDNS(_ context.Context, req *Request) *dns.Msg {
	h.slow.Add(1)
	if req.Err != nil {
		return FormErr(req.Raw)
	}
	if len(req.Msg.Question) > 0 && req.Msg.Question[0].Name == "panic.test." {
		panic("boom")
	}
	r := new(dns.Msg)
	r.SetRcode(req.Msg, dns.RcodeNameError)
	return r
}

func start(t *testing.T, cfg Config) (*Server, *testHandler) {
	t.Helper()
	h := &testHandler{}
	if cfg.Handler == nil {
		cfg.Handler = h
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop")
		}
	})
	return s, h
}

func exchange(t *testing.T, net, addr, name string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", net, name, err)
	}
	return r
}

func TestServeUDPAndTCP(t *testing.T) {
	s, h := start(t, Config{UDPSockets: 2})
	addr := s.Addr().String()
	if s.Addr().Port() == 0 {
		t.Fatal("no port bound")
	}
	for _, nw := range []string{"udp", "tcp"} {
		if r := exchange(t, nw, addr, "fast.test."); len(r.Answer) != 1 {
			t.Errorf("%s fast: %v", nw, r)
		}
		if r := exchange(t, nw, addr, "slow.test."); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s slow: %v", nw, r)
		}
		if r := exchange(t, nw, addr, "panic.test."); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s panic: %v", nw, r)
		}
	}
	if h.fast.Load() != 2 || h.slow.Load() != 4 {
		t.Errorf("fast %d slow %d", h.fast.Load(), h.slow.Load())
	}
}

// TestTCPManyQueriesOneConnection checks there is no per-connection query
// limit (miekg/dns servers stop after 128 by default) and that pipelined
// queries are all answered.
func TestTCPManyQueriesOneConnection(t *testing.T) {
	s, _ := start(t, Config{})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 500
	m := new(dns.Msg)
	m.SetQuestion("fast.test.", dns.TypeA)
	var buf []byte
	for i := 0; i < n; i++ {
		m.Id = uint16(i)
		b, _ := m.Pack()
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(b)))
		buf = append(buf, b...)
	}
	go func() { _, _ = c.Write(buf) }()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < n; i++ {
		var l [2]byte
		if _, err := readFull(c, l[:]); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := readFull(c, b); err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil || r.Id != uint16(i) {
			t.Fatalf("reply %d: id %d err %v", i, r.Id, err)
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestDropsRepliesAndRunts(t *testing.T) {
	s, h := start(t, Config{NoTCP: true})
	c, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("slow.test.", dns.TypeA)
	m.Response = true
	b, _ := m.Pack()
	_, _ = c.Write(b)
	_, _ = c.Write([]byte{1, 2, 3})
	// A normal query after them is answered, and it is the only one.
	r := exchange(t, "udp", s.Addr().String(), "slow.test.")
	if r.Rcode != dns.RcodeNameError || h.slow.Load() != 1 {
		t.Fatalf("slow calls %d: %v", h.slow.Load(), r)
	}
}

func TestFormErr(t *testing.T) {
	s, _ := start(t, Config{})
	c, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 512)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b[:n]); err != nil || r.Id != 0x1234 || r.Rcode != dns.RcodeFormatError || !r.RecursionDesired {
		t.Fatalf("%v %v", r, err)
	}
}

func TestPortTakenNamesAddress(t *testing.T) {
	s, _ := start(t, Config{})
	addr := s.Addr().String()
	_, err := Listen(Config{Addr: addr, Handler: &testHandler{}})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("want an error naming %s, got %v", addr, err)
	}
	if _, err := Listen(Config{Addr: "nonsense", Handler: &testHandler{}}); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("bad address: %v", err)
	}
}

func TestShutdownClosesIdleConnections(t *testing.T) {
	h := &testHandler{}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Handler: h, TCPIdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exchange(t, "udp", s.Addr().String(), "fast.test.")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return with an idle TCP connection open")
	}
	// The port is free again.
	s2, err := Listen(Config{Addr: s.Addr().String(), Handler: h})
	if err != nil {
		t.Fatalf("rebinding after shutdown: %v", err)
	}
	s2.closeAll()
}

// TestUDPBurst sends many queries from several sockets without waiting,
// so the server reads and answers them in batches; every one is answered
// to the socket that asked.
func TestUDPBurst(t *testing.T) {
	s, _ := start(t, Config{UDPSockets: 2})
	const clients, per = 4, 100
	errc := make(chan error, clients)
	for c := 0; c < clients; c++ {
		go func() {
			conn, err := net.Dial("udp", s.Addr().String())
			if err != nil {
				errc <- err
				return
			}
			defer conn.Close()
			_ = conn.(*net.UDPConn).SetReadBuffer(1 << 20)
			m := new(dns.Msg)
			m.SetQuestion("fast.test.", dns.TypeA)
			for i := 0; i < per; i++ {
				m.Id = uint16(c*1000 + i)
				b, _ := m.Pack()
				if _, err := conn.Write(b); err != nil {
					errc <- err
					return
				}
			}
			seen := map[uint16]bool{}
			buf := make([]byte, 1024)
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			for len(seen) < per {
				n, err := conn.Read(buf)
				if err != nil {
					errc <- fmt.Errorf("client %d got %d of %d replies: %w", c, len(seen), per, err)
					return
				}
				r := new(dns.Msg)
				if err := r.Unpack(buf[:n]); err != nil || r.Id/1000 != uint16(c) || len(r.Answer) != 1 {
					errc <- fmt.Errorf("client %d: bad reply %v %v", c, r, err)
					return
				}
				seen[r.Id] = true
			}
			errc <- nil
		}()
	}
	for c := 0; c < clients; c++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
