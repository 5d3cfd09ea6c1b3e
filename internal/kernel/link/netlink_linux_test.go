//go:build linux

package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// inNewNetns moves the calling goroutine, for the rest of its life, onto
// a thread of its own in a new, empty network namespace, or skips the
// test. The thread is never unlocked: the Go runtime then ends it with
// the goroutine instead of running other code on it (and new threads are
// started from a template thread, not cloned from this one). The
// namespace goes away with the thread and the last socket in it. Only
// this goroutine may touch the kernel; subtests need their own call.
func inNewNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	runtime.LockOSThread()
	host, err := threadNetns()
	if err != nil {
		t.Skipf("cannot tell the network namespace: %v", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	ns, err := threadNetns()
	if err != nil || ns == host {
		t.Fatalf("still in namespace %s after unshare (%v)", host, err)
	}
	// A new namespace holds only a loopback link: a last check, before
	// anything changes, that no host interface is in reach.
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("new namespace has links %v (%v), want only lo", ifs, err)
	}
}

func threadNetns() (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
}

// kernelState reads a link from the kernel through the standard library
// (on the calling thread, so in its namespace), not through Netlink.
func kernelState(t *testing.T, name string) (exists, up bool, addrs []netip.Prefix) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		if ifc.Name != name {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, _ := netip.AddrFromSlice(n.IP)
			bits, _ := n.Mask.Size()
			addrs = append(addrs, netip.PrefixFrom(ip.Unmap(), bits))
		}
		return true, ifc.Flags&net.FlagUp != 0, addrs
	}
	return false, false, nil
}

// hasDummy probes, in a namespace of its own, whether the kernel can
// make dummy links (this decides which conformance cases apply).
func hasDummy(t *testing.T) bool {
	t.Helper()
	var dummy bool
	t.Run("probe dummy driver", func(t *testing.T) {
		inNewNetns(t)
		nl, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		switch err := nl.AddDummy("sx-probe"); {
		case err == nil:
			dummy = true
		case errors.Is(err, ErrNoDummy):
		default:
			t.Fatalf("probe: %v", err)
		}
		t.Logf("dummy driver: %v", dummy)
	})
	return dummy
}

// TestNetlinkConformance runs the conformance steps against the kernel,
// each case in a network namespace of its own.
func TestNetlinkConformance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	dummy := hasDummy(t)
	if t.Failed() {
		return
	}
	for _, c := range conformanceCases(dummy) {
		t.Run(c.name, func(t *testing.T) {
			inNewNetns(t)
			nl, err := Open()
			if err != nil {
				t.Fatal(err)
			}
			defer nl.Close()
			runConformance(t, nl, kernelState, c.steps)
		})
	}
}

// TestNetlinkErrno: kernel errors come back as the errno, so callers can
// still tell them apart beyond the sentinels.
func TestNetlinkErrno(t *testing.T) {
	inNewNetns(t)
	nl, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if err := nl.SetUp("sx-missing"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("missing link: got %v, want ENODEV", err)
	}
}
