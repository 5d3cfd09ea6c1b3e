package nft

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
)

// backendHosts are network namespaces joined to the test's namespace
// (the client's, where the plane runs) by veth pairs: host i is
// 10.79.i.2 and fd79:i::2, the client's side 10.79.i.1 and fd79:i::1.
// The namespaces are anonymous: they end with the process.
type backendHosts struct{ ns []netns.NsHandle }

// inNS runs f on a thread moved into ns; the thread is discarded after.
func inNS(ns netns.NsHandle, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its netns changed
		if err := netns.Set(ns); err != nil {
			panic(err)
		}
		f()
	}()
	<-done
}

func newNS(t *testing.T) netns.NsHandle {
	var h netns.NsHandle
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return
		}
		h, err = netns.Get()
	}()
	<-done
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func addr(t *testing.T, h *netlink.Handle, l netlink.Link, p string) {
	t.Helper()
	a, err := netlink.ParseAddr(p)
	if err != nil {
		t.Fatal(err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("address %s on %s: %v", p, l.Attrs().Name, err)
	}
}

func newBackendHosts(t *testing.T, n int) *backendHosts {
	t.Helper()
	bh := &backendHosts{}
	here, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	for i := range n {
		ns := newNS(t)
		bh.ns = append(bh.ns, ns)
		name := fmt.Sprintf("sxh%d", i)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
		if err := here.LinkAdd(veth); err != nil {
			t.Fatalf("veth: %v", err)
		}
		l, err := here.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		addr(t, here, l, fmt.Sprintf("10.79.%d.1/24", i))
		addr(t, here, l, fmt.Sprintf("fd79:%d::1/64", i))
		if i == 0 {
			for s := range 24 {
				addr(t, here, l, fmt.Sprintf("10.79.0.%d/32", 10+s))
			}
		}
		if err := here.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		there, err := netlink.NewHandleAt(ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range []string{"lo", "eth0"} {
			l, err := there.LinkByName(ln)
			if err != nil {
				t.Fatal(err)
			}
			if ln == "eth0" {
				addr(t, there, l, fmt.Sprintf("10.79.%d.2/24", i))
				addr(t, there, l, fmt.Sprintf("fd79:%d::2/64", i))
			}
			if err := there.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
		}
		eth, _ := there.LinkByName("eth0")
		for _, gw := range []string{fmt.Sprintf("10.79.%d.1", i), fmt.Sprintf("fd79:%d::1", i)} {
			ip := net.ParseIP(gw)
			if err := there.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: ip}); err != nil {
				t.Fatalf("default route via %s: %v", gw, err)
			}
		}
		there.Close()
	}
	return bh
}

func (bh *backendHosts) addr(i int, v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd79:%d::2", i))
	}
	return netip.MustParseAddr(fmt.Sprintf("10.79.%d.2", i))
}

func TestConformanceHostsNetns(t *testing.T) { inNetns(t, "TestConformanceHostsNetnsHelper") }

// TestConformanceHostsNetnsHelper runs the suite with the client (and
// the plane) in the test's namespace and the backends on three other
// hosts: the DNAT leaves the node, and the client's VIP source address
// is masqueraded on the way out.
func TestConformanceHostsNetnsHelper(t *testing.T) {
	helperOnly(t)
	hosts := newBackendHosts(t, 3)
	listen := func(i int, f func()) { inNS(hosts.ns[i%len(hosts.ns)], f) }
	l4lbtest.Run(t, l4lbtest.Env{
		New:      func(t *testing.T) l4lb.Dataplane { return newPlane(t, Options{}) },
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 14, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 14: 1, 15: byte(i)}) },
		Isolated: true,
		Backends: &l4lbtest.Backends{
			ListenTCP: func(i int, v6 bool) (ln *net.TCPListener, err error) {
				listen(i, func() {
					ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(hosts.addr(i%len(hosts.ns), v6), 0)))
				})
				return ln, err
			},
			ListenUDP: func(i int, v6 bool) (pc *net.UDPConn, err error) {
				listen(i, func() {
					pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hosts.addr(i%len(hosts.ns), v6), 0)))
				})
				return pc, err
			},
			Source: func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 79, 0, byte(10 + i)}) },
		},
	})
}

func TestRemoteClientNetns(t *testing.T) { inNetns(t, "TestRemoteClientNetnsHelper") }

// TestRemoteClientNetnsHelper: this namespace is a node that forwards;
// a client on host 0 reaches a VIP through it (prerouting DNAT, then
// masquerade towards the backend on host 1), and is refused at once for
// a VIP range address that no VIP holds and for a VIP without a backend
// taking new connections.
func TestRemoteClientNetnsHelper(t *testing.T) {
	helperOnly(t)
	hosts := newBackendHosts(t, 2)
	for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := newPlane(t, Options{})
	defer p.Close()
	var b4, b6 *l4lbtest.TCPBackend
	inNS(hosts.ns[1], func() {
		b4 = l4lbtest.StartTCPBackend(t, hosts.addr(1, false), "b4")
		b6 = l4lbtest.StartTCPBackend(t, hosts.addr(1, true), "b6")
	})
	vip4, vip6 := ap("11.215.15.1:80"), ap("[fd01:c::15:1]:80")
	drained := ap("11.215.15.2:80")
	if err := p.Sync(t.Context(), []balance.Service{
		{Key: balance.Key{Protocol: balance.TCP, Addr: vip4}, Backends: []balance.Backend{{Addr: b4.Addr, Weight: 1}}},
		{Key: balance.Key{Protocol: balance.TCP, Addr: vip6}, Backends: []balance.Backend{{Addr: b6.Addr, Weight: 1}}},
		{Key: balance.Key{Protocol: balance.TCP, Addr: drained}, Backends: []balance.Backend{{Addr: b4.Addr, Weight: 0}}},
	}); err != nil {
		t.Fatal(err)
	}
	dial := func(a netip.AddrPort) (string, error) {
		var c net.Conn
		var err error
		inNS(hosts.ns[0], func() { c, err = net.DialTimeout("tcp", a.String(), 3*time.Second) })
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line), err
	}
	for vip, want := range map[netip.AddrPort]string{vip4: "b4", vip6: "b6"} {
		if got, err := dial(vip); err != nil || got != want {
			t.Errorf("from another host to %s: %q, %v (want %s)", vip, got, err, want)
		}
	}
	for _, a := range []netip.AddrPort{ap("11.215.15.99:80"), drained, ap("[fd01:c::15:99]:80")} {
		start := time.Now()
		_, err := dial(a)
		if err == nil || !errors.Is(err, unix.ECONNREFUSED) {
			t.Errorf("from another host to %s: %v, want connection refused", a, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v to refuse", a, d)
		}
	}
	st := p.Stats()
	for _, s := range st {
		if s.Key.Addr == vip4 && (len(s.Backends) != 1 || s.Backends[0].Connections != 1 || s.Backends[0].BytesFromBackend == 0) {
			out, _ := exec.Command("nft", "list", "counters").CombinedOutput()
			out2, _ := exec.Command("nft", "list", "chain", "inet", TableName, "filter-forward").CombinedOutput()
			t.Errorf("counters of %s: %+v\n%s\n%s", vip4, s, out, out2)
		}
		if s.Key.Addr == drained && s.Refused != 1 {
			t.Errorf("refusals of %s: %d", drained, s.Refused)
		}
	}
}
