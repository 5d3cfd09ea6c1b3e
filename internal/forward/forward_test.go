package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	tu "github.com/sextantdc/sextant/internal/testutil"
)

// peer is a real DNS server on loopback (UDP and TCP on one port).
type peer struct {
	addr  string
	calls atomic.Int64
	nets  sync.Map // network → true
}

type behaviour struct {
	ip    string        // answer A with this IP
	delay time.Duration // wait before answering
	rcode int           // reply rcode (no answer unless RcodeSuccess)
	ttl   uint32
}

func startPeer(t testing.TB, b behaviour) *peer {
	t.Helper()
	p := &peer{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		p.calls.Add(1)
		p.nets.Store(w.LocalAddr().Network(), true)
		if b.delay > 0 {
			time.Sleep(b.delay)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Rcode = b.rcode
		if b.rcode == dns.RcodeSuccess && b.ip != "" && r.Question[0].Qtype == dns.TypeA {
			ttl := b.ttl
			if ttl == 0 {
				ttl = 60
			}
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(b.ip)})
		}
		if b.rcode == dns.RcodeNameError || (b.rcode == dns.RcodeSuccess && b.ip == "") {
			m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 30},
				Ns: "ns.example.", Mbox: "h.example.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 10})
		}
		_ = w.WriteMsg(m)
	})
	p.addr = tu.ServeDNS(t, h)
	return p
}

// deadAddr is a loopback port with nothing listening (bound, then closed).
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().String()
	pc.Close()
	return a
}

// blackhole is a UDP socket that reads queries and never answers, and a
// TCP listener that accepts and never answers (a hung server).
func blackhole(t *testing.T) string {
	t.Helper()
	// The UDP and TCP ports must be the same.
	pc, l := tu.ListenBoth(t)
	t.Cleanup(func() { pc.Close(); l.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return pc.LocalAddr().String()
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

func answerIP(t *testing.T, m *dns.Msg) string {
	t.Helper()
	if m == nil || len(m.Answer) == 0 {
		t.Fatalf("no answer: %v", m)
	}
	return m.Answer[0].(*dns.A).A.String()
}

func TestNormalizeUpstream(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "10.0.0.2", want: "10.0.0.2:53"},
		{in: "10.0.0.3:5353", want: "10.0.0.3:5353"},
		{in: " 10.0.0.3:5353 ", want: "10.0.0.3:5353"},
		{in: "::1", want: "[::1]:53"},
		{in: "[::1]:54", want: "[::1]:54"},
		{in: "", bad: true},
		{in: "dns.example:53", bad: true},
		{in: "10.0.0.1:0", bad: true},
		{in: "10.0.0.1:70000", bad: true},
		{in: "10.0.0.1:x", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeUpstream(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("want error, got %q", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSequential(t *testing.T) {
	ans := startPeer(t, behaviour{ip: "10.0.0.1"})
	ans2 := startPeer(t, behaviour{ip: "10.0.0.2"})
	slow := startPeer(t, behaviour{ip: "10.0.0.9", delay: 2 * time.Second})
	sf := startPeer(t, behaviour{rcode: dns.RcodeServerFailure})
	dead := deadAddr(t)
	hole := blackhole(t)
	ctx := t.Context()

	t.Run("first answers", func(t *testing.T) {
		s, err := NewSequential([]string{ans.addr, ans2.addr}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "udp")
		if err != nil || answerIP(t, r) != "10.0.0.1" {
			t.Fatalf("got %v, %v", r, err)
		}
	})
	t.Run("dead then answer, in order", func(t *testing.T) {
		s, _ := NewSequential([]string{dead, ans2.addr}, time.Second)
		start := time.Now()
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "udp")
		if err != nil || answerIP(t, r) != "10.0.0.2" {
			t.Fatalf("got %v, %v", r, err)
		}
		// A closed UDP port is refused at once (ICMP), not timed out.
		if el := time.Since(start); el > 900*time.Millisecond {
			t.Fatalf("dead upstream took %v", el)
		}
	})
	t.Run("slow times out, next answers", func(t *testing.T) {
		s, _ := NewSequential([]string{slow.addr, ans2.addr}, 200*time.Millisecond)
		start := time.Now()
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "udp")
		if err != nil || answerIP(t, r) != "10.0.0.2" {
			t.Fatalf("got %v, %v", r, err)
		}
		if el := time.Since(start); el < 200*time.Millisecond || el > 1500*time.Millisecond {
			t.Fatalf("took %v, want about one timeout", el)
		}
	})
	t.Run("servfail from upstream is a reply", func(t *testing.T) {
		s, _ := NewSequential([]string{sf.addr, ans.addr}, time.Second)
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "udp")
		if err != nil || r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("got %v, %v", r, err)
		}
	})
	t.Run("all fail", func(t *testing.T) {
		s, _ := NewSequential([]string{dead, hole}, 150*time.Millisecond)
		q := query("app.example", dns.TypeA)
		r, err := s.Forward(ctx, q, "udp")
		if !errors.Is(err, ErrAllFailed) || r.Rcode != dns.RcodeServerFailure || !r.Response || r.Id != q.Id {
			t.Fatalf("got %v, %v", r, err)
		}
	})
	t.Run("none", func(t *testing.T) {
		s, _ := NewSequential(nil, time.Second)
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "udp")
		if !errors.Is(err, ErrNoUpstreams) || r.Rcode != dns.RcodeRefused || !r.Response {
			t.Fatalf("got %v, %v", r, err)
		}
	})
	t.Run("tcp over tcp", func(t *testing.T) {
		p := startPeer(t, behaviour{ip: "10.0.0.5"})
		s, _ := NewSequential([]string{p.addr}, time.Second)
		r, err := s.Forward(ctx, query("app.example", dns.TypeA), "tcp")
		if err != nil || answerIP(t, r) != "10.0.0.5" {
			t.Fatalf("got %v, %v", r, err)
		}
		if _, ok := p.nets.Load("tcp"); !ok {
			t.Fatal("upstream was not asked over TCP")
		}
		if _, ok := p.nets.Load("udp"); ok {
			t.Fatal("upstream was asked over UDP")
		}
	})
	t.Run("bad upstreams reported, good kept", func(t *testing.T) {
		s, err := NewSequential([]string{"nope", ans.addr}, time.Second)
		if err == nil || len(s.Upstreams()) != 1 {
			t.Fatalf("err %v, upstreams %v", err, s.Upstreams())
		}
	})
}

func TestSequentialMessageUnchanged(t *testing.T) {
	var got atomic.Pointer[dns.Msg]
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		got.Store(r)
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	s, _ := NewSequential([]string{pc.LocalAddr().String()}, time.Second)
	q := query("MiXeD.example", dns.TypeTXT)
	q.Id = 4242
	q.CheckingDisabled = true
	q.SetEdns0(1232, true)
	if _, err := s.Forward(t.Context(), q, "udp"); err != nil {
		t.Fatal(err)
	}
	r := got.Load()
	if r.Id != 4242 || !r.CheckingDisabled || r.Question[0].Name != "MiXeD.example." || r.IsEdns0() == nil ||
		r.IsEdns0().UDPSize() != 1232 || !r.IsEdns0().Do() {
		t.Fatalf("upstream saw a changed message: %v", r)
	}
}

func TestRacing(t *testing.T) {
	fast := startPeer(t, behaviour{ip: "10.0.0.1"})
	slow := startPeer(t, behaviour{ip: "10.0.0.9", delay: 400 * time.Millisecond})
	sf := startPeer(t, behaviour{rcode: dns.RcodeServerFailure, delay: 50 * time.Millisecond})
	dead := deadAddr(t)
	hole := blackhole(t)
	ctx := t.Context()

	t.Run("fastest reply wins", func(t *testing.T) {
		r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{slow.addr, fast.addr}, Timeout: 2 * time.Second}, nil)
		start := time.Now()
		m, err := r.Forward(ctx, query("a.example", dns.TypeA), "udp")
		if err != nil || answerIP(t, m) != "10.0.0.1" {
			t.Fatalf("got %v, %v", m, err)
		}
		if el := time.Since(start); el > 350*time.Millisecond {
			t.Fatalf("took %v: the slow upstream was waited for", el)
		}
		// Both were asked in parallel.
		tu.Eventually(t, 2*time.Second, "slow upstream asked", func() bool { return slow.calls.Load() > 0 })
	})
	t.Run("dead upstream costs nothing", func(t *testing.T) {
		r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{hole, fast.addr}, Timeout: 2 * time.Second}, nil)
		start := time.Now()
		m, err := r.Forward(ctx, query("a.example", dns.TypeA), "tcp")
		if err != nil || answerIP(t, m) != "10.0.0.1" {
			t.Fatalf("got %v, %v", m, err)
		}
		if el := time.Since(start); el > time.Second {
			t.Fatalf("took %v", el)
		}
	})
	t.Run("servfail is a reply", func(t *testing.T) {
		r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{sf.addr, slow.addr}, Timeout: 2 * time.Second}, nil)
		m, err := r.Forward(ctx, query("a.example", dns.TypeA), "udp")
		if err != nil || m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("all fail: SERVFAIL with QR after the attempt timeout", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		met, err := NewMetrics(reg, "")
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewRacing(RacingConfig{Zone: "mesos.", Upstreams: []string{hole, dead}, Timeout: 300 * time.Millisecond}, met)
		q := query("a.example", dns.TypeA)
		start := time.Now()
		m, err := r.Forward(ctx, q, "udp")
		el := time.Since(start)
		if !errors.Is(err, ErrAllFailed) || m.Rcode != dns.RcodeServerFailure || !m.Response || m.Id != q.Id {
			t.Fatalf("got %v, %v", m, err)
		}
		if el < 300*time.Millisecond || el > 2*time.Second {
			t.Fatalf("took %v, want about one attempt timeout", el)
		}
		if v := testutil.ToFloat64(met.failures.WithLabelValues("mesos.")); v != 1 {
			t.Fatalf("forwarder_failures_total = %v", v)
		}
		if v := testutil.ToFloat64(met.workerFailures.WithLabelValues("udp", hole, "timeout")); v != 1 {
			t.Fatalf("timeout failures = %v", v)
		}
		if v := testutil.ToFloat64(met.workerFailures.WithLabelValues("udp", dead, "refused")); v != 1 {
			t.Fatalf("refused failures = %v", v)
		}
	})
	t.Run("no upstreams", func(t *testing.T) {
		r, _ := NewRacing(RacingConfig{Zone: "."}, nil)
		m, err := r.Forward(ctx, query("a.example", dns.TypeA), "udp")
		if !errors.Is(err, ErrNoUpstreams) || m.Rcode != dns.RcodeServerFailure || !m.Response {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("loser that never answers is charged a failure", func(t *testing.T) {
		met, _ := NewMetrics(nil, "")
		r, _ := NewRacing(RacingConfig{Zone: ".", Upstreams: []string{hole, fast.addr}, Timeout: 5 * time.Second}, met)
		if _, err := r.Forward(ctx, query("a.example", dns.TypeA), "udp"); err != nil {
			t.Fatal(err)
		}
		tu.Eventually(t, 5*time.Second, "blackhole charged", func() bool { return met.Failures(hole) > 0.5 })
		if met.Failures(fast.addr) != 0 {
			t.Fatal("winner charged")
		}
	})
}

func TestRacingPick(t *testing.T) {
	now := time.Unix(1000, 0)
	met, _ := NewMetrics(nil, "")
	met.Now = func() time.Time { return now }
	ups := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}
	r, err := NewRacing(RacingConfig{Upstreams: ups}, met)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(a string, n int) {
		for range n {
			met.recordFailure(a+":53", "udp", "timeout")
		}
	}
	count := func() map[string]int {
		c := map[string]int{}
		for range 400 {
			p := r.pick()
			if len(p) != 2 || p[0] == p[1] {
				t.Fatalf("pick %v", p)
			}
			for _, a := range p {
				c[a]++
			}
		}
		return c
	}
	// All equal: any two, all used.
	if c := count(); len(c) != 4 {
		t.Fatalf("all-equal picks %v", c)
	}
	// .1 and .2 clean, .3 and .4 failing: only the clean pair.
	fail("10.0.0.3", 2)
	fail("10.0.0.4", 5)
	if c := count(); len(c) != 2 || c["10.0.0.1:53"] != 400 || c["10.0.0.2:53"] != 400 {
		t.Fatalf("picks %v", c)
	}
	// Only .1 clean: .1 always, plus the next bucket (.2 with one failure).
	fail("10.0.0.2", 1)
	if c := count(); c["10.0.0.1:53"] != 400 || c["10.0.0.2:53"] != 400 {
		t.Fatalf("picks %v", c)
	}
	// Decay: after many half-lives every score is below one again.
	now = now.Add(20 * met.HalfLife)
	if c := count(); len(c) != 4 {
		t.Fatalf("after decay picks %v", c)
	}
	// Fewer than three upstreams: all of them, duplicates kept.
	r2, _ := NewRacing(RacingConfig{Upstreams: []string{"10.0.0.1", "10.0.0.1"}}, met)
	if p := r2.pick(); len(p) != 2 || p[0] != p[1] {
		t.Fatalf("pick %v", p)
	}
}

func TestRacingNoDecay(t *testing.T) {
	now := time.Unix(1000, 0)
	met, _ := NewMetrics(nil, "")
	met.Now = func() time.Time { return now }
	met.HalfLife = 0
	met.recordFailure("10.0.0.1:53", "udp", "timeout")
	now = now.Add(1000 * time.Hour)
	if f := met.Failures("10.0.0.1:53"); f != 1 {
		t.Fatalf("lifetime count decayed to %v", f)
	}
}

// TestUnboundPeer races a real unbound against a dead upstream.
func TestUnboundPeer(t *testing.T) {
	bin := tu.NeedTool(t, "unbound")
	dir := t.TempDir()
	port := freeUDPPort(t)
	cfg := "server:\n  interface: 127.0.0.1@" + port + "\n  port: " + port + "\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n" +
		"  directory: \"" + dir + "\"\n  pidfile: \"" + filepath.Join(dir, "pid") + "\"\n  use-syslog: no\n  num-threads: 1\n" +
		"  access-control: 127.0.0.0/8 allow\n  local-zone: \"mesos.\" static\n  local-data: \"app.marathon.mesos. 60 IN A 10.0.0.1\"\n" +
		"remote-control:\n  control-enable: no\n"
	f := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", f)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + port
	tu.Eventually(t, 10*time.Second, "unbound answers", func() bool {
		m, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(query("app.marathon.mesos", dns.TypeA), addr)
		return err == nil && len(m.Answer) == 1
	})
	r, _ := NewRacing(RacingConfig{Zone: "mesos.", Upstreams: []string{deadAddr(t), addr}, Timeout: time.Second}, nil)
	c, _ := NewCache(r, CacheConfig{}, nil)
	m, err := c.Forward(t.Context(), query("app.marathon.mesos", dns.TypeA), "udp")
	if err != nil {
		t.Fatal(err)
	}
	if answerIP(t, m) != "10.0.0.1" {
		t.Fatalf("got %v", m)
	}
	m, err = c.Forward(t.Context(), query("nope.marathon.mesos", dns.TypeA), "tcp")
	if err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("got %v, %v", m, err)
	}
	if h, _ := c.Stats(); h != 0 {
		t.Fatalf("hits %d", h)
	}
	if _, err := c.Forward(t.Context(), query("app.marathon.mesos", dns.TypeA), "udp"); err != nil {
		t.Fatal(err)
	}
	if h, _ := c.Stats(); h != 1 {
		t.Fatalf("repeat was not a cache hit (hits %d)", h)
	}
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(pc.LocalAddr().String())
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			l.Close()
			return itoa(int(ap.Port()))
		}
	}
	t.Fatal("no free port")
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

var _ = context.Background

// TestPooledSocketsNeverReadLateReplies: after a timed-out exchange the
// late reply must not be taken as the answer to the next query.
func TestPooledSocketsNeverReadLateReplies(t *testing.T) {
	var n atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if n.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1}, Txt: []string{r.Question[0].Name}})
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	s, _ := NewSequential([]string{pc.LocalAddr().String()}, 100*time.Millisecond)
	defer s.Close()
	q1 := query("first.example", dns.TypeTXT)
	if _, err := s.Forward(t.Context(), q1, "udp"); err == nil {
		t.Fatal("first query should time out")
	}
	time.Sleep(400 * time.Millisecond)
	for i := range 5 {
		q := query(fmt.Sprintf("next%d.example", i), dns.TypeTXT)
		q.Id = q1.Id
		r, err := s.Forward(t.Context(), q, "udp")
		if err != nil || r.Question[0].Name != q.Question[0].Name || r.Answer[0].(*dns.TXT).Txt[0] != q.Question[0].Name {
			t.Fatalf("query %d got %v, %v", i, r, err)
		}
	}
}
