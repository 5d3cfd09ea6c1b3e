package ebpf

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
	"github.com/sextantdc/sextant/internal/testutil"
)

// The conformance suite with the backends in three network namespaces
// of their own, each behind a veth link from the client's namespace (the
// helper's), so a connection the programs send on crosses a real link.
// The backend namespaces have no link but their veth end: nothing routes
// off the machine.
const nsPrefixEnv = "SEXTANT_L4LB_EBPF_NS_PREFIX"

func TestConformanceVeth(t *testing.T) {
	if os.Getenv(netnsHelperEnv) != "" {
		t.Skip("running as the helper")
	}
	ip := testutil.NeedTool(t, "ip")
	prefix := fmt.Sprintf("sxt-ebpf-%d-", os.Getpid())
	t.Setenv(nsPrefixEnv, prefix)
	// The helper removes its namespaces; this catches a helper that died.
	t.Cleanup(func() {
		for k := range 3 {
			_ = exec.Command(ip, "netns", "del", fmt.Sprint(prefix, k)).Run()
		}
	})
	runHelper(t, "TestConformanceVethHelper")
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs f on a thread switched into the namespace at path; the
// sockets f opens stay in that namespace.
func inNetns(path string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with its goroutine: it must
		// never run other goroutines in the wrong namespace.
		return err
	}
	runtime.UnlockOSThread()
	return ferr
}

func TestConformanceVethHelper(t *testing.T) {
	cg := helperEnv(t)
	prefix := os.Getenv(nsPrefixEnv)
	if prefix == "" {
		t.Fatal("no namespace prefix")
	}
	var ns [3]string
	for k := range ns {
		ns[k] = fmt.Sprint(prefix, k)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns[k]).Run() })
		ipCmd(t, "netns", "add", ns[k])
		veth := fmt.Sprint("sxv", k)
		ipCmd(t, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns[k])
		ipCmd(t, "addr", "add", fmt.Sprintf("10.232.%d.1/24", k), "dev", veth)
		ipCmd(t, "addr", "add", fmt.Sprintf("fd00:232:%d::1/64", k), "dev", veth, "nodad")
		ipCmd(t, "link", "set", veth, "up")
		ipCmd(t, "-n", ns[k], "addr", "add", fmt.Sprintf("10.232.%d.2/24", k), "dev", "eth0")
		ipCmd(t, "-n", ns[k], "addr", "add", fmt.Sprintf("fd00:232:%d::2/64", k), "dev", "eth0", "nodad")
		ipCmd(t, "-n", ns[k], "link", "set", "lo", "up")
		ipCmd(t, "-n", ns[k], "link", "set", "eth0", "up")
		// The maglev scenario's clients bind addresses of 10.233.0.0/24.
		ipCmd(t, "-n", ns[k], "route", "add", "10.233.0.0/24", "via", fmt.Sprintf("10.232.%d.1", k))
	}
	ipCmd(t, "addr", "add", "10.233.0.0/24", "dev", "lo")
	addr := func(i int, v6 bool) netip.AddrPort {
		k := i % len(ns)
		if v6 {
			return netip.MustParseAddrPort(fmt.Sprintf("[fd00:232:%d::2]:0", k))
		}
		return netip.MustParseAddrPort(fmt.Sprintf("10.232.%d.2:0", k))
	}
	backends := &l4lbtest.Backends{
		ListenTCP: func(i int, v6 bool) (ln *net.TCPListener, err error) {
			err = inNetns("/run/netns/"+ns[i%len(ns)], func() error {
				ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr(i, v6)))
				return err
			})
			return ln, err
		},
		ListenUDP: func(i int, v6 bool) (pc *net.UDPConn, err error) {
			err = inNetns("/run/netns/"+ns[i%len(ns)], func() error {
				pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr(i, v6)))
				return err
			})
			return pc, err
		},
		Source: func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 233, 0, byte(10 + i)}) },
	}
	l4lbtest.Run(t, l4lbtest.Env{
		New:      func(t *testing.T) l4lb.Dataplane { return newPlane(t, cg) },
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 16, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 14: 0x16, 15: byte(i)}) },
		Backends: backends,
		Isolated: true,
	})
}
