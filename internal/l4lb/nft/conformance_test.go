package nft

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
	"github.com/sextantdc/sextant/internal/testutil"
)

var (
	_ l4lb.Dataplane     = (*Plane)(nil)
	_ l4lb.StatsReporter = (*Plane)(nil)
)

// The helper environment variable: set, the test binary runs inside a
// network namespace of its own (unshare --net), where it may program
// nftables and routes and send to VIP addresses.
const netnsEnv = "SEXTANT_L4LB_NFT_NETNS_HELPER"

// inNetns re-runs the test binary under `unshare --net` for the helper
// test named run, and fails unless it passed. The namespace has only a
// loopback link and ends with the process, whatever happens to it.
func inNetns(t *testing.T, run string) {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		t.Skip("running as the helper")
	}
	if !testutil.IsRoot() {
		t.Skip("needs root to create a network namespace and program nftables")
	}
	unshare := testutil.NeedTool(t, "unshare")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--", os.Args[0],
		"-test.run=^"+run+"$", "-test.v", "-test.count=1", "-test.timeout=230s")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("helper output:\n%s", out.String())
	if strings.Contains(out.String(), "cannot create a network namespace") {
		t.Skip("unshare --net is not permitted here")
	}
	if strings.Contains(out.String(), "--- SKIP: "+run) {
		t.Skip("the helper skipped (see its output)")
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: "+run) {
		t.Fatalf("helper failed: %v", err)
	}
}

// helperOnly skips unless inside the helper's namespace, and checks that
// the namespace holds only lo before anything is sent.
func helperOnly(t *testing.T) {
	t.Helper()
	if os.Getenv(netnsEnv) == "" {
		t.Skip("a helper: runs only inside the namespace its parent test creates")
	}
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("namespace has links %v (%v), want only lo: refusing to run", ifs, err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
}

// newPlane is a plane for a test, skipped when the kernel has no
// nftables.
func newPlane(t *testing.T, o Options) *Plane {
	t.Helper()
	p, err := New(o)
	if err != nil {
		if strings.Contains(err.Error(), "protocol not supported") || strings.Contains(err.Error(), "not supported") {
			t.Skipf("no nftables in this kernel: %v", err)
		}
		t.Fatal(err)
	}
	return p
}

func TestConformanceNetns(t *testing.T) { inNetns(t, "TestConformanceNetnsHelper") }

// TestConformanceNetnsHelper runs the suite with VIPs in the default
// ranges (11.x, fd01:c::) and backends on loopback.
func TestConformanceNetnsHelper(t *testing.T) {
	helperOnly(t)
	// Clients and backends share this namespace's lo, where Linux reuses
	// a client's TIME_WAIT port at once (tcp_tw_reuse 2); conntrack's
	// entry of the previous flow on that tuple is still dying then, and
	// the new flow's DNAT can collide with it and be dropped (EPERM on
	// connect). Real clients on other hosts, or on this node with
	// backends elsewhere, do not reuse ports that way.
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_tw_reuse", []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	l4lbtest.Run(t, l4lbtest.Env{
		New: func(t *testing.T) l4lb.Dataplane {
			return newPlane(t, Options{})
		},
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 13, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 15: byte(i)}) },
		Isolated: true,
	})
}
