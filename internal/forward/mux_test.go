package forward

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	tu "github.com/sextantdc/sextant/internal/testutil"
)

// txtPeer answers every query with a TXT record holding the question name
// after delay(name), and records what it received and from which port.
type txtPeer struct {
	addr  string
	mu    sync.Mutex
	got   []*dns.Msg
	ports map[int]bool
}

func startTXTPeer(t *testing.T, delay func(name string) time.Duration) *txtPeer {
	t.Helper()
	p := &txtPeer{ports: map[int]bool{}}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		p.mu.Lock()
		p.got = append(p.got, r)
		p.ports[w.RemoteAddr().(*net.UDPAddr).Port] = true
		p.mu.Unlock()
		if d := delay(r.Question[0].Name); d > 0 {
			time.Sleep(d)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1},
			Txt: []string{strings.ToLower(r.Question[0].Name)}})
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	p.addr = pc.LocalAddr().String()
	return p
}

func txtOf(m *dns.Msg) string {
	if m == nil || len(m.Answer) != 1 {
		return ""
	}
	if t, ok := m.Answer[0].(*dns.TXT); ok && len(t.Txt) == 1 {
		return t.Txt[0]
	}
	return ""
}

// TestMuxRepliesReachTheirQueries: many concurrent queries share the
// sockets, answered out of order; each gets its own reply with its own
// ID, and the upstream sees the client's message apart from the ID.
func TestMuxRepliesReachTheirQueries(t *testing.T) {
	p := startTXTPeer(t, func(string) time.Duration { return time.Duration(rand.IntN(20)) * time.Millisecond })
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{p.addr}, Timeout: 5 * time.Second}, nil)
	defer r.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			q := query(fmt.Sprintf("Q%d.Example", i), dns.TypeTXT)
			q.Id = uint16(i) // many queries share IDs across rounds
			q.CheckingDisabled = true
			q.SetEdns0(1232, true)
			m, err := r.Forward(t.Context(), q, "udp")
			switch {
			case err != nil:
				errs <- err
			case m.Id != q.Id || txtOf(m) != fmt.Sprintf("q%d.example.", i):
				errs <- fmt.Errorf("query %d (id %d) got id %d, %q", i, q.Id, m.Id, txtOf(m))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.got {
		if !m.CheckingDisabled || !strings.HasPrefix(m.Question[0].Name, "Q") || m.IsEdns0() == nil ||
			m.IsEdns0().UDPSize() != 1232 || !m.IsEdns0().Do() {
			t.Fatalf("upstream saw a changed message: %v", m)
		}
	}
	if len(p.ports) > muxSockets {
		t.Fatalf("200 queries used %d source ports, want at most %d", len(p.ports), muxSockets)
	}
}

// TestMuxRawRelayed: ForwardRaw sends the client's bytes (apart from the
// ID) and answers with the client's ID.
func TestMuxRawRelayed(t *testing.T) {
	p := startTXTPeer(t, func(string) time.Duration { return 0 })
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{p.addr}, Timeout: 5 * time.Second}, nil)
	defer r.Close()
	q := query("raw.example", dns.TypeTXT)
	q.Id = 777
	raw, _ := q.Pack()
	keep := append([]byte(nil), raw...)
	// The parsed message says another name: the raw bytes must be what
	// goes out (the reply's question is checked against req, so keep them
	// consistent apart from case).
	req := query("RAW.example", dns.TypeTXT)
	req.Id = 777
	m, err := r.ForwardRaw(t.Context(), req, raw, "udp")
	if err != nil || m.Id != 777 || txtOf(m) != "raw.example." {
		t.Fatalf("got %v, %v", m, err)
	}
	if string(raw) != string(keep) {
		t.Fatal("the caller's raw bytes were modified")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) != 1 || p.got[0].Question[0].Name != "raw.example." {
		t.Fatalf("upstream got %v", p.got)
	}
}

// TestMuxLateRepliesNeverAnswerOthers: a reply that arrives after its
// query timed out is dropped, and never answers a later query, even one
// with the same client ID.
func TestMuxLateRepliesNeverAnswerOthers(t *testing.T) {
	p := startTXTPeer(t, func(name string) time.Duration {
		if strings.HasPrefix(name, "slow") {
			return 300 * time.Millisecond
		}
		return 0
	})
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{p.addr}, Timeout: 100 * time.Millisecond}, nil)
	defer r.Close()
	q1 := query("slow.example", dns.TypeTXT)
	if _, err := r.Forward(t.Context(), q1, "udp"); err == nil {
		t.Fatal("first query should time out")
	}
	deadline := time.Now().Add(600 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		q := query(fmt.Sprintf("next%d.example", i), dns.TypeTXT)
		q.Id = q1.Id
		m, err := r.Forward(t.Context(), q, "udp")
		if err != nil || txtOf(m) != q.Question[0].Name {
			t.Fatalf("query %d got %v, %v", i, m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMuxSocketsRetire: a socket is replaced after its share of queries,
// so source ports keep changing, and retired sockets are closed.
func TestMuxSocketsRetire(t *testing.T) {
	p := startTXTPeer(t, func(string) time.Duration { return 0 })
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{p.addr}, Timeout: 5 * time.Second}, nil)
	defer r.Close()
	u := r.mux[p.addr]
	u.retireAfter = 3
	var first []*muxSock
	for i := range 40 {
		q := query(fmt.Sprintf("r%d.example", i), dns.TypeTXT)
		m, err := r.Forward(t.Context(), q, "udp")
		if err != nil || txtOf(m) != q.Question[0].Name {
			t.Fatalf("query %d: %v, %v", i, m, err)
		}
		if i == muxSockets-1 {
			u.mu.Lock()
			first = append(first, u.socks[:]...)
			u.mu.Unlock()
		}
	}
	p.mu.Lock()
	ports := len(p.ports)
	p.mu.Unlock()
	if ports < 40/3 {
		t.Fatalf("40 queries with retirement after 3 used only %d source ports", ports)
	}
	for _, s := range first {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if !closed {
			t.Fatal("a retired socket was left open")
		}
	}
}

// TestMuxCancelAndClose: a cancelled caller returns at once (not charged
// to the upstream); after Close queries fail and nothing is left waiting.
func TestMuxCancelAndClose(t *testing.T) {
	hole := blackhole(t)
	met, _ := NewMetrics(nil, "")
	r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{hole}, Timeout: 5 * time.Second}, met)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	m, err := r.Forward(ctx, query("a.example", dns.TypeA), "udp")
	if err == nil || m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("got %v, %v", m, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancelled query took %v", el)
	}
	if f := met.Failures(hole); f != 0 {
		t.Fatalf("a cancelled attempt was charged: %v", f)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Forward(t.Context(), query("b.example", dns.TypeA), "udp")
		done <- err
	}()
	tu.Eventually(t, 5*time.Second, "query waiting", func() bool {
		u := r.mux[hole]
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, s := range u.socks {
			if s != nil {
				s.mu.Lock()
				n := len(s.pending)
				s.mu.Unlock()
				if n > 0 {
					return true
				}
			}
		}
		return false
	})
	r.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a query waiting at Close succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a query waiting at Close was not failed")
	}
	if _, err := r.Forward(t.Context(), query("c.example", dns.TypeA), "udp"); err == nil {
		t.Fatal("a query after Close succeeded")
	}
}
