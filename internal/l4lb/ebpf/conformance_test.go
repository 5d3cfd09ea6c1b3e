package ebpf

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
	"github.com/sextantdc/sextant/internal/testutil"
)

var (
	_ l4lb.Dataplane     = (*Plane)(nil)
	_ l4lb.StatsReporter = (*Plane)(nil)
	_ Remote             = l4lb.Dataplane(nil)
)

// The helper process runs the suite in a network namespace of its own
// (unshare --net: only lo, no route off the machine) and in a cgroup the
// test creates (clone into it), where the plane attaches its programs;
// the backends are on the namespace's loopback, the clients dial the
// real VIP addresses (11.x, fd01:c::), which only the programs turn into
// backend addresses.
const (
	netnsHelperEnv = "SEXTANT_L4LB_EBPF_NETNS_HELPER"
	cgroupEnv      = "SEXTANT_L4LB_EBPF_CGROUP"
)

// runHelper runs the test named run of this binary inside a new network
// namespace and cgroup, and fails unless it passes.
func runHelper(t *testing.T, run string) {
	t.Helper()
	if os.Getenv(netnsHelperEnv) != "" {
		t.Skip("running as the helper")
	}
	cg := testCgroup(t)
	unshare := testutil.NeedTool(t, "unshare")
	dir, err := os.Open(cg)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--", os.Args[0],
		"-test.run=^"+run+"$", "-test.v", "-test.count=1", "-test.timeout=220s")
	cmd.Env = append(os.Environ(), netnsHelperEnv+"=1", cgroupEnv+"="+cg)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("helper output:\n%s", out.String())
	if strings.Contains(out.String(), "cannot create a network namespace") {
		t.Skip("unshare --net is not permitted here")
	}
	if s := "SKIP: " + run; strings.Contains(out.String(), "--- "+s) {
		t.Skipf("helper skipped: %s", out.String())
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: "+run) {
		t.Fatalf("helper failed: %v", err)
	}
}

// helperEnv is the helper's side: it checks it runs where it should and
// returns the cgroup the plane attaches to.
func helperEnv(t *testing.T) string {
	t.Helper()
	if os.Getenv(netnsHelperEnv) == "" {
		t.Skip("helper; runs only inside the namespace its parent test creates")
	}
	// A last check before anything is sent: the namespace has only lo.
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("namespace has links %v (%v), want only lo: refusing to run", ifs, err)
	}
	links, err := link.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer links.Close()
	if err := links.SetUp("lo"); err != nil {
		t.Fatal(err)
	}
	return os.Getenv(cgroupEnv)
}

func newPlane(t *testing.T, cg string) *Plane {
	t.Helper()
	p, err := New(Options{CgroupPath: cg, Ranges: []netip.Prefix{netip.MustParsePrefix("11.0.0.0/8"), netip.MustParsePrefix("fd01:c::/64")}})
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("the kernel does not take the programs: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformanceNetns(t *testing.T) { runHelper(t, "TestConformanceNetnsHelper") }

// TestConformanceNetnsHelper runs only inside the namespace.
func TestConformanceNetnsHelper(t *testing.T) {
	cg := helperEnv(t)
	l4lbtest.Run(t, l4lbtest.Env{
		New:      func(t *testing.T) l4lb.Dataplane { return newPlane(t, cg) },
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 14, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 15: byte(i)}) },
		Isolated: true,
	})
}
