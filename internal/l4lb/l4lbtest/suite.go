package l4lbtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// Env is the plane under test and where it runs.
type Env struct {
	// New returns a new plane; the suite closes it when the scenario
	// ends.
	New func(t *testing.T) l4lb.Dataplane
	// Client returns the address a client connects to for a VIP address
	// and port: the VIP itself, or where the plane maps it.
	Client func(vip netip.AddrPort) netip.AddrPort
	// VIP4 and VIP6 return the i-th IPv4 and IPv6 VIP address to use
	// (scenarios use distinct ones). VIP6 nil skips the IPv6 scenario.
	VIP4, VIP6 func(i int) netip.Addr
	// Backends, if set, places the backends (default: on the client's
	// loopback, 127.0.0.1 and ::1).
	Backends *Backends
	// Isolated says the test runs in a network namespace of its own with
	// no route off the machine: only then may a client send to an
	// address that is not loopback.
	Isolated bool
}

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.IPv6Loopback()
)

// Run runs every scenario against planes from env.
func Run(t *testing.T, env Env) {
	h := &harness{env: env, port: 20000}
	for _, sc := range []struct {
		name string
		f    func(*testing.T, *harness)
	}{
		{"spread", spread}, {"maglev", maglev}, {"drain", drain}, {"kill", kill}, {"resync", resync},
		{"ipv6", ipv6}, {"udp", udp}, {"refuse", refuse}, {"remove", remove},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.f(t, h) })
	}
}

type harness struct {
	env      Env
	backends atomic.Int32
	vips     atomic.Int32
	port     uint16
	mu       sync.Mutex
}

// plane returns a new plane, closed when the test ends.
func (h *harness) plane(t *testing.T) l4lb.Dataplane {
	t.Helper()
	p := h.env.New(t)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

// vip returns a fresh VIP address and a port a client can use for it.
func (h *harness) vip(t *testing.T, v6 bool) netip.AddrPort {
	t.Helper()
	i := int(h.vips.Add(1))
	var a netip.Addr
	if v6 {
		a = h.env.VIP6(i)
	} else {
		a = h.env.VIP4(i)
	}
	// Inside a namespace of its own nothing else listens; on the host's
	// loopback the port must be free at the mapped address.
	for range 100 {
		h.mu.Lock()
		h.port++
		port := h.port
		h.mu.Unlock()
		vip := netip.AddrPortFrom(a, port)
		if h.env.Isolated || free(h.env.Client(vip)) {
			return vip
		}
	}
	t.Fatalf("no free port for VIP %s", a)
	return netip.AddrPort{}
}

func free(a netip.AddrPort) bool {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(a))
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

func (h *harness) sync(t *testing.T, p l4lb.Dataplane, svcs ...balance.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Sync(ctx, svcs); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// target is where a client sends for a VIP, after the safety check.
func (h *harness) target(t testing.TB, vip netip.AddrPort) netip.AddrPort {
	a := h.env.Client(vip)
	if !a.Addr().IsLoopback() && !h.env.Isolated {
		// Never send to a public address outside a namespace of our own.
		t.Fatalf("refusing to send to %s (VIP %s): not loopback and not isolated", a, vip)
	}
	return a
}

func service(proto balance.Protocol, vip netip.AddrPort, mode balance.Mode, bs ...balance.Backend) balance.Service {
	return balance.Service{Key: balance.Key{Protocol: proto, Addr: vip}, Mode: mode, Backends: sorted(bs)}
}

func sorted(bs []balance.Backend) []balance.Backend {
	out := append([]balance.Backend(nil), bs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Addr.Compare(out[i].Addr) < 0 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func (h *harness) tcpBackends(t *testing.T, v6 bool, n int) ([]*TCPBackend, []balance.Backend) {
	var bes []*TCPBackend
	var bs []balance.Backend
	for i := range n {
		b := h.tcpBackend(t, v6, fmt.Sprintf("b%d", i))
		bes = append(bes, b)
		bs = append(bs, balance.Backend{Addr: b.Addr, Weight: 1})
	}
	return bes, bs
}

func weights(bs []balance.Backend, w map[netip.AddrPort]uint8) []balance.Backend {
	out := append([]balance.Backend(nil), bs...)
	for i := range out {
		if v, ok := w[out[i].Addr]; ok {
			out[i].Weight = v
		}
	}
	return out
}

// conn is a client connection through the VIP that knows its backend.
type conn struct {
	c       *net.TCPConn
	r       *bufio.Reader
	backend string
}

// dial connects from src (invalid: any) and reads the backend's name.
func (h *harness) dial(t testing.TB, vip netip.AddrPort, src netip.Addr) (*conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	c, err := d.Dial("tcp", h.target(t, vip).String())
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(tc)
	name, err := r.ReadString('\n')
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("banner: %w", err)
	}
	return &conn{c: tc, r: r, backend: strings.TrimSuffix(name, "\n")}, nil
}

// echo sends a line and expects it back.
func (c *conn) echo(msg string) error {
	_ = c.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.c.Write([]byte(msg + "\n")); err != nil {
		return err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return fmt.Errorf("echo %q, got %q", msg, got)
	}
	return nil
}

// finish half-closes and expects the backend's close in turn.
func (c *conn) finish() error {
	defer c.c.Close()
	if err := c.c.CloseWrite(); err != nil {
		return err
	}
	_ = c.c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := c.r.ReadByte()
	if err == nil {
		return fmt.Errorf("unexpected byte %q after close", b)
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// once opens a connection, echoes, closes; it returns the backend name.
func (h *harness) once(t testing.TB, vip netip.AddrPort, src netip.Addr) (string, error) {
	c, err := h.dial(t, vip, src)
	if err != nil {
		return "", err
	}
	if err := c.echo("hello"); err != nil {
		c.c.Close()
		return c.backend, err
	}
	return c.backend, c.finish()
}

// stats returns the plane's counters of a service, if it reports any.
func stats(p l4lb.Dataplane, k balance.Key) (balance.ServiceStats, bool) {
	sr, ok := p.(l4lb.StatsReporter)
	if !ok {
		return balance.ServiceStats{}, false
	}
	for _, s := range sr.Stats() {
		if s.Key == k {
			return s, true
		}
	}
	return balance.ServiceStats{}, false
}

// refused reports whether a TCP connection to vip is refused: the dial
// fails, or the connection ends (reset or closed) before any byte.
func (h *harness) refused(t testing.TB, vip netip.AddrPort) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.Dial("tcp", h.target(t, vip).String())
	if err != nil {
		return true
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 {
		return false
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}
