package userspace

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
)

func tcpSvc(vip string) balance.Service {
	return balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: netip.MustParseAddrPort(vip)}}
}

func udpSvc(vip string) balance.Service {
	return balance.Service{Key: balance.Key{Protocol: balance.UDP, Addr: netip.MustParseAddrPort(vip)}}
}

// With Links, an address is added once for all the services on it and
// removed with the last of them; an address that was there already is
// used and left. Real listening needs the address to be local, so the
// map puts the VIPs on loopback and the fake link records what would be
// added.
func TestPlaneAddressesFollowServices(t *testing.T) {
	fake := link.NewFake()
	if err := fake.AddAddr("lo", netip.MustParsePrefix("127.88.0.9/32")); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Map: LoopbackMap(), Links: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	port := freePort(t, "127.88.0.1", "127.88.0.9")
	a := func(host string) string { return netip.AddrPortFrom(netip.MustParseAddr(host), port).String() }
	both := []balance.Service{tcpSvc(a("11.88.0.1")), udpSvc(a("11.88.0.1")), tcpSvc(a("11.88.0.9"))}
	if err := p.Sync(t.Context(), both); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(t.Context(), both[1:]); err != nil { // the TCP service on .1 goes; UDP stays
		t.Fatal(err)
	}
	if err := p.Sync(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, c := range fake.Calls() {
		calls = append(calls, c.String())
	}
	want := []string{"AddAddr lo 127.88.0.9/32", "AddAddr lo 127.88.0.1/32", "AddAddr lo 127.88.0.9/32", "DelAddr lo 127.88.0.1/32"}
	if !slices.Equal(calls, want) {
		t.Errorf("link calls:\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}

func freePort(t *testing.T, hosts ...string) uint16 {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", hosts[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		ok := true
		for _, h := range hosts {
			a := netip.AddrPortFrom(netip.MustParseAddr(h), port)
			l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(a))
			if err != nil {
				ok = false
				break
			}
			l.Close()
			u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// A service that cannot be served is reported and the others are; the
// next Sync tries it again.
func TestPlaneSyncPartialFailure(t *testing.T) {
	p, err := New(Options{Map: LoopbackMap()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	port := freePort(t, "127.88.0.2")
	good := tcpSvc(netip.AddrPortFrom(netip.MustParseAddr("11.88.0.2"), port).String())
	unmapped := tcpSvc("12.0.0.1:80")
	err = p.Sync(t.Context(), []balance.Service{good, unmapped})
	if err == nil || !strings.Contains(err.Error(), "12.0.0.1") {
		t.Fatalf("sync error = %v, want one naming 12.0.0.1", err)
	}
	if st := p.Stats(); len(st) != 1 || st[0].Key != good.Key {
		t.Errorf("serving %+v, want only %s", st, good.Key)
	}
	if a, ok := p.ListenAddr(good.Addr); !ok || a.Addr() != netip.MustParseAddr("127.88.0.2") {
		t.Errorf("ListenAddr = %s %v", a, ok)
	}
}

func TestPlaneClose(t *testing.T) {
	fake := link.NewFake()
	p, err := New(Options{Map: LoopbackMap(), Links: fake})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "127.88.0.3")
	svc := tcpSvc(netip.AddrPortFrom(netip.MustParseAddr("11.88.0.3"), port).String())
	if err := p.Sync(t.Context(), []balance.Service{svc}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := p.Sync(t.Context(), []balance.Service{svc}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("sync after close = %v", err)
	}
	if len(p.Stats()) != 0 {
		t.Error("stats after close")
	}
	lo, _ := fake.Link("lo")
	if slices.Contains(lo.Addrs, netip.MustParsePrefix("127.88.0.3/32")) {
		t.Error("address left on lo after close")
	}
	// The listener is gone.
	if c, err := net.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.88.0.3"), port).String()); err == nil {
		c.Close()
		t.Error("listener still accepting after close")
	}
}

func TestNewRejectsBadMap(t *testing.T) {
	if _, err := New(Options{Map: AddrMap{{VIP: netip.MustParsePrefix("11.0.0.0/8"), Local: netip.MustParsePrefix("10.0.0.0/8")}}}); err == nil {
		t.Error("a map onto a non-loopback prefix accepted")
	}
}

// A UDP flow ends after UDPIdleTimeout without a datagram; the client's
// next datagram starts a new flow.
func TestUDPIdleTimeout(t *testing.T) {
	p, err := New(Options{Map: LoopbackMap(), UDPIdleTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	be := l4lbtest.StartUDPBackend(t, netip.MustParseAddr("127.0.0.1"), "u0")
	port := freePort(t, "127.88.0.4")
	svc := udpSvc(netip.AddrPortFrom(netip.MustParseAddr("11.88.0.4"), port).String())
	svc.Backends = []balance.Backend{{Addr: be.Addr, Weight: 1}}
	if err := p.Sync(t.Context(), []balance.Service{svc}); err != nil {
		t.Fatal(err)
	}
	addr, _ := p.ListenAddr(svc.Addr)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func() {
		t.Helper()
		if _, err := c.Write([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "u0:hi" {
			t.Fatalf("reply %q, %v", buf[:n], err)
		}
	}
	backend := func() balance.BackendStats { return p.Stats()[0].Backends[0] }
	ask()
	if b := backend(); b.Active != 1 || b.Connections != 1 || b.BytesToBackend != 2 || b.BytesFromBackend != 5 {
		t.Errorf("after one datagram: %+v", b)
	}
	deadline := time.Now().Add(2 * time.Second)
	for backend().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle flow still open after 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ask()
	if b := backend(); b.Connections != 2 || b.Active != 1 {
		t.Errorf("after the flow timed out and a new datagram: %+v", b)
	}
}

// Close ends open connections and flows and leaves no goroutine behind.
func TestPlaneCloseEndsConnections(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	tb := l4lbtest.StartTCPBackend(t, lo, "b0")
	ub := l4lbtest.StartUDPBackend(t, lo, "u0")
	before := runtime.NumGoroutine()
	p, err := New(Options{Map: LoopbackMap()})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "127.88.0.5")
	vip := netip.AddrPortFrom(netip.MustParseAddr("11.88.0.5"), port)
	tcp, udp := tcpSvc(vip.String()), udpSvc(vip.String())
	tcp.Backends = []balance.Backend{{Addr: tb.Addr, Weight: 1}}
	udp.Backends = []balance.Backend{{Addr: ub.Addr, Weight: 1}}
	if err := p.Sync(t.Context(), []balance.Service{tcp, udp}); err != nil {
		t.Fatal(err)
	}
	addr, _ := p.ListenAddr(vip)
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 16)
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "b0\n" {
		t.Fatalf("banner %q, %v", buf[:n], err)
	}
	u, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	_, _ = u.Write([]byte("x"))
	_ = u.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := u.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err == nil {
		t.Error("connection still open after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
