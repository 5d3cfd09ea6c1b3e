package ebpf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
)

func TestCgroup2Mount(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"hybrid", "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n" +
			"26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup/unified"},
		{"unified", "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup"},
		{"escaped", `30 1 0:26 / /mnt/my\040cg rw - cgroup2 none rw` + "\n", "/mnt/my cg"},
		{"optional fields", "30 1 0:26 / /cg rw shared:4 master:1 - cgroup2 none rw\n", "/cg"},
	} {
		got, err := cgroup2Mount(strings.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "garbage\n", "25 24 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n", "1 2 - cgroup2 x\n", " - \n"} {
		if got, err := cgroup2Mount(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: found %q", bad, got)
		}
	}
}

func FuzzCgroup2Mount(f *testing.F) {
	f.Add("26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
	f.Add(`1 1 0:1 / /a\040b\134 rw - cgroup2 x rw`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := cgroup2Mount(strings.NewReader(s))
		if err == nil && got == "" && !strings.Contains(s, "cgroup2") {
			t.Errorf("%q: empty mount point without a cgroup2 line", s)
		}
	})
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `a\134`: `a\`, `a\9`: `a\9`, `\777`: `\777`, `x\04`: `x\04`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestNewUnsupported(t *testing.T) {
	_, err := New(Options{CgroupPath: t.TempDir()}) // not a cgroup
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("attaching to a plain directory: %v, want ErrUnsupported", err)
	}
}

// recorder is a Remote that remembers what it was asked.
type recorder struct {
	syncs  [][]balance.Service
	closed int
}

func (r *recorder) Sync(_ context.Context, s []balance.Service) error {
	r.syncs = append(r.syncs, slices.Clone(s))
	return nil
}
func (r *recorder) Close() error { r.closed++; return nil }
func (r *recorder) Stats() []balance.ServiceStats {
	var out []balance.ServiceStats
	for _, s := range r.syncs[len(r.syncs)-1] {
		st := balance.ServiceStats{Key: s.Key, Refused: 1}
		for _, b := range s.Backends {
			st.Backends = append(st.Backends, balance.BackendStats{Addr: b.Addr, Connections: 10})
		}
		out = append(out, st)
	}
	return out
}

func be(a netip.AddrPort, w uint8) balance.Backend { return balance.Backend{Addr: a, Weight: w} }

// entries counts a map's keys.
func entries(t *testing.T, m *ebpf.Map) int {
	t.Helper()
	n := 0
	var k, v []byte
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSemantics(t *testing.T) { runHelper(t, "TestSemanticsHelper") }

func svc(proto balance.Protocol, vip string, mode balance.Mode, bs ...balance.Backend) balance.Service {
	return balance.Service{Key: balance.Key{Protocol: proto, Addr: netip.MustParseAddrPort(vip)}, Mode: mode, Backends: bs}
}

func banner(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var buf [64]byte
	n, err := c.Read(buf[:])
	if err != nil {
		t.Fatalf("banner: %v", err)
	}
	return strings.TrimSpace(string(buf[:n]))
}

// TestSemanticsHelper: what the conformance suite does not ask of every
// plane, run inside the helper's namespace and cgroup.
func TestSemanticsHelper(t *testing.T) {
	cg := helperEnv(t)
	lo := netip.MustParseAddr("127.0.0.1")
	b0, b1 := l4lbtest.StartTCPBackend(t, lo, "b0"), l4lbtest.StartTCPBackend(t, lo, "b1")
	u0, u1 := l4lbtest.StartUDPBackend(t, lo, "u0"), l4lbtest.StartUDPBackend(t, lo, "u1")
	rem := &recorder{}
	p := newPlane(t, cg)
	p.remote = rem
	ctx := t.Context()
	tcp := svc(balance.TCP, "11.215.15.1:80", balance.Random, balance.Backend{Addr: b0.Addr, Weight: 1}, balance.Backend{Addr: b1.Addr, Weight: 3})
	udpSvc := svc(balance.UDP, "11.215.15.1:53", balance.Random, balance.Backend{Addr: u0.Addr, Weight: 1}, balance.Backend{Addr: u1.Addr, Weight: 1})
	sticky := svc(balance.TCP, "11.215.15.2:80", balance.Maglev, balance.Backend{Addr: b0.Addr, Weight: 1}, balance.Backend{Addr: b1.Addr, Weight: 1})
	if err := p.Sync(ctx, []balance.Service{tcp, udpSvc, sticky}); err != nil {
		t.Fatal(err)
	}

	t.Run("getpeername", func(t *testing.T) {
		c, err := net.Dial("tcp", "11.215.15.1:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.RemoteAddr().String(); got != "11.215.15.1:80" {
			t.Errorf("peer %s, want the VIP", got)
		}
		banner(t, c)
	})

	t.Run("weights", func(t *testing.T) {
		seen := map[string]int{}
		const n = 400
		for range n {
			c, err := net.Dial("tcp", "11.215.15.1:80")
			if err != nil {
				t.Fatal(err)
			}
			seen[banner(t, c)]++
			c.Close()
		}
		// Weights 1:3: b1's share 0.75; 400 draws put it within ±0.07 far
		// beyond 4 standard deviations.
		if share := float64(seen["b1"]) / n; share < 0.68 || share > 0.82 {
			t.Errorf("weights 1:3 gave %v", seen)
		}
	})

	t.Run("maglev unbound sticks per namespace", func(t *testing.T) {
		first := ""
		for i := range 20 {
			c, err := net.Dial("tcp", "11.215.15.2:80")
			if err != nil {
				t.Fatal(err)
			}
			name := banner(t, c)
			c.Close()
			if i == 0 {
				first = name
			} else if name != first {
				t.Fatalf("connection %d went to %s, the first to %s", i, name, first)
			}
		}
	})

	t.Run("unconnected udp", func(t *testing.T) {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		vip := netip.MustParseAddrPort("11.215.15.1:53")
		backend := ""
		buf := make([]byte, 256)
		for i := range 5 {
			msg := fmt.Sprint("d", i)
			if _, err := pc.WriteToUDPAddrPort([]byte(msg), vip); err != nil {
				t.Fatal(err)
			}
			_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if from != vip {
				t.Errorf("reply from %s, want the VIP", from)
			}
			name, body, _ := strings.Cut(string(buf[:n]), ":")
			if body != msg || (backend != "" && name != backend) {
				t.Fatalf("datagram %q answered %q (flow on %q)", msg, buf[:n], backend)
			}
			backend = name
		}
	})

	t.Run("udp connected again", func(t *testing.T) {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		peer := func() string {
			sa, err := syscall.Getpeername(fd)
			if err != nil {
				t.Fatal(err)
			}
			a := sa.(*syscall.SockaddrInet4)
			return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
		}
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: [4]byte{11, 215, 15, 1}, Port: 53}); err != nil {
			t.Fatal(err)
		}
		if got := peer(); got != "11.215.15.1:53" {
			t.Errorf("peer %s, want the VIP", got)
		}
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 9}); err != nil {
			t.Fatal(err)
		}
		if got := peer(); got != "127.0.0.1:9" {
			t.Errorf("peer %s after connecting to 127.0.0.1:9", got)
		}
		for _, s := range p.Stats() {
			if s.Key == udpSvc.Key {
				for _, b := range s.Backends {
					if b.Active != 0 {
						t.Errorf("%s: %d active after the socket left the VIP", b.Addr, b.Active)
					}
				}
			}
		}
	})

	t.Run("active", func(t *testing.T) {
		var conns []net.Conn
		for range 3 {
			c, err := net.Dial("tcp", "11.215.15.2:80")
			if err != nil {
				t.Fatal(err)
			}
			banner(t, c)
			conns = append(conns, c)
		}
		active := func() uint64 {
			var n uint64
			for _, s := range p.Stats() {
				if s.Key == sticky.Key {
					for _, b := range s.Backends {
						n += b.Active
						if b.Connections < 10 {
							t.Errorf("%s: %d connections, the remote's 10 not added", b.Addr, b.Connections)
						}
					}
				}
			}
			return n
		}
		if n := active(); n < 3 {
			t.Errorf("%d active with 3 open", n)
		}
		for _, c := range conns {
			c.Close()
		}
		deadline := time.Now().Add(5 * time.Second)
		for active() != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := active(); n != 0 {
			t.Errorf("%d active after closing all", n)
		}
	})

	t.Run("range refused", func(t *testing.T) {
		start := time.Now()
		_, err := net.DialTimeout("tcp", "11.215.99.99:80", time.Second)
		if !errors.Is(err, syscall.EPERM) {
			t.Errorf("dial to a VIP range address no VIP holds: %v, want EPERM", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("refusal took %v", d)
		}
		if _, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); errors.Is(err, syscall.EPERM) {
			t.Error("an address outside the ranges was refused by the plane")
		}
	})

	t.Run("other namespaces untouched", func(t *testing.T) {
		// A thread of its own in a fresh network namespace (it is never
		// unlocked, so it ends with its goroutine): the plane, made in
		// the helper's namespace, must neither balance nor refuse there.
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				errc <- fmt.Errorf("unshare: %w", err)
				return
			}
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				errc <- err
				return
			}
			defer unix.Close(fd)
			errc <- unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{11, 215, 99, 99}, Port: 80})
		}()
		err := <-errc
		if errors.Is(err, syscall.EPERM) {
			t.Errorf("a VIP-range address in another namespace was refused by the plane: %v", err)
		}
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("connect in a namespace without routes: %v, want ENETUNREACH", err)
		}
	})

	t.Run("maps hold exactly the services", func(t *testing.T) {
		a, b, c := be(b0.Addr, 2), be(b1.Addr, 1), be(netip.MustParseAddrPort("127.0.0.1:9"), 0)
		steps := [][]balance.Service{
			{tcp, udpSvc, sticky},
			{svc(balance.TCP, "11.215.15.1:80", balance.Random, a, b, c), svc(balance.TCP, "11.215.15.2:80", balance.Maglev, a, c)},
			{svc(balance.TCP, "11.215.15.1:80", balance.Maglev, a, b), svc(balance.TCP, "11.215.15.2:80", balance.Random, b, c)},
			{svc(balance.TCP, "11.215.15.3:80", balance.Random, c)},
		}
		for i, step := range steps {
			if err := p.Sync(ctx, step); err != nil {
				t.Fatal(err)
			}
			var nb, slots, tables int
			for _, s := range step {
				nb += len(s.Backends)
				if s.Mode == balance.Maglev {
					tables++
					continue
				}
				for _, b := range s.Backends {
					slots += int(b.Weight)
				}
			}
			got := [4]int{entries(t, p.objs.Services), entries(t, p.objs.Backends), entries(t, p.objs.Slots), entries(t, p.objs.Maglev)}
			if want := [4]int{len(step), nb, slots, tables}; got != want {
				t.Errorf("step %d: services, backends, slots, Maglev tables %v, want %v", i, got, want)
			}
		}
		if err := p.Sync(ctx, []balance.Service{tcp, udpSvc, sticky}); err != nil {
			t.Fatal(err)
		}
	})

	if len(rem.syncs) != 6 || len(rem.syncs[0]) != 3 {
		t.Errorf("remote plane got syncs %v", rem.syncs)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil || rem.closed != 1 {
		t.Errorf("second close: %v; remote closed %d times", err, rem.closed)
	}
	if err := p.Sync(ctx, nil); err == nil {
		t.Error("sync after close")
	}
}
