package dnsserver

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// blockHandler holds every slow query for "block.test." until release is
// closed, counting how many are held; other slow queries get
// NXDOMAIN at once.
type blockHandler struct {
	release chan struct{}
	held    atomic.Int64
}

func (h *blockHandler) AnswerFast([]byte, []byte, Network) (int, bool) { return 0, false }

func (h *blockHandler) ServeDNS(_ context.Context, req *Request) *dns.Msg {
	if req.Err != nil {
		return FormErr(req.Raw)
	}
	if req.Msg.Question[0].Name == "block.test." {
		h.held.Add(1)
		<-h.release
		h.held.Add(-1)
	}
	r := new(dns.Msg)
	r.SetRcode(req.Msg, dns.RcodeNameError)
	return r
}

// sendQuery writes one A query for name with id from its own socket and
// returns that socket for reading the reply.
func sendQuery(t *testing.T, addr, name string, id uint16) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	b, _ := m.Pack()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return c
}

func readReply(c net.Conn, wait time.Duration) (*dns.Msg, error) {
	buf := make([]byte, 1024)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	return r, r.Unpack(buf[:n])
}

// TestSlowWorkersBounded: with MaxSlowInFlight 2 and one read loop, two
// blocked slow queries occupy both workers, the third runs inline and so
// holds up the read loop (a later query waits), and everything is answered
// once the handler lets go. Workers are then reused, never more than two.
func TestSlowWorkersBounded(t *testing.T) {
	h := &blockHandler{release: make(chan struct{})}
	s, _ := start(t, Config{Handler: h, UDPSockets: 1, MaxSlowInFlight: 2, NoTCP: true})
	addr := s.Addr().String()
	var held []net.Conn
	for i := range 3 {
		held = append(held, sendQuery(t, addr, "block.test.", uint16(100+i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.held.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.held.Load(); got != 3 {
		t.Fatalf("held slow queries = %d, want 3 (two workers, one inline)", got)
	}
	if got := len(s.slow); got != 2 {
		t.Fatalf("workers = %d, want 2", got)
	}
	// The read loop is inside the third query: a new one is not read yet.
	late := sendQuery(t, addr, "other.test.", 7)
	if r, err := readReply(late, 200*time.Millisecond); err == nil {
		t.Fatalf("answered while the read loop was blocked: %v", r)
	}
	close(h.release)
	for i, c := range held {
		r, err := readReply(c, 10*time.Second)
		if err != nil || r.Id != uint16(100+i) || r.Rcode != dns.RcodeNameError {
			t.Fatalf("held query %d: %v %v", i, r, err)
		}
	}
	if r, err := readReply(late, 10*time.Second); err != nil || r.Id != 7 {
		t.Fatalf("late query: %v %v", r, err)
	}
	// Sequential slow queries reuse the idle workers.
	for i := range 20 {
		c := sendQuery(t, addr, "block.test.", uint16(i))
		if r, err := readReply(c, 10*time.Second); err != nil || r.Id != uint16(i) {
			t.Fatalf("query %d: %v %v", i, r, err)
		}
	}
	if got := len(s.slow); got != 2 {
		t.Fatalf("workers after reuse = %d, want 2", got)
	}
}

// TestShutdownWaitsForSlowQueries: Serve returns only after the slow
// queries still in the handler have finished.
func TestShutdownWaitsForSlowQueries(t *testing.T) {
	h := &blockHandler{release: make(chan struct{})}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Handler: h, UDPSockets: 1, NoTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	sendQuery(t, s.Addr().String(), "block.test.", 1)
	deadline := time.Now().Add(10 * time.Second)
	for h.held.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.held.Load() != 1 {
		t.Fatal("slow query never reached the handler")
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a slow query still running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the slow query finished")
	}
}
