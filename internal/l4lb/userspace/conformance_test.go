package userspace

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

	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
	"github.com/sextantdc/sextant/internal/testutil"
)

var (
	_ l4lb.Dataplane     = (*Plane)(nil)
	_ l4lb.StatsReporter = (*Plane)(nil)
)

// Rootless: VIPs 11.77.0.i listen on 127.77.0.i (LoopbackMap), the IPv6
// VIP fd01:c::77 on ::1; clients dial the mapped addresses only.
func TestConformanceLoopback(t *testing.T) {
	m := append(LoopbackMap(), PrefixMap{VIP: netip.MustParsePrefix("fd01:c::77/128"), Local: netip.MustParsePrefix("::1/128")})
	l4lbtest.Run(t, l4lbtest.Env{
		New: func(t *testing.T) l4lb.Dataplane {
			p, err := New(Options{Map: m, UDPIdleTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Client: func(vip netip.AddrPort) netip.AddrPort {
			a, ok := m.Local(vip.Addr())
			if !ok {
				t.Fatalf("VIP %s unmapped", vip)
			}
			return netip.AddrPortFrom(a, vip.Port())
		},
		VIP4: func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 77, 0, byte(i)}) },
		VIP6: func(int) netip.Addr { return netip.MustParseAddr("fd01:c::77") },
	})
}

// The real VIP addresses (11.x, fd01:c::) on lo of a network namespace
// the test creates: the test binary runs itself again under
// `unshare --net`, so every thread of that process, and every socket, is
// in a namespace with only a loopback link and no route off the machine.
// The namespace ends with the process, whatever happens to it.
const netnsHelperEnv = "SEXTANT_L4LB_USERSPACE_NETNS_HELPER"

func TestConformanceNetns(t *testing.T) {
	if os.Getenv(netnsHelperEnv) != "" {
		t.Skip("running as the helper")
	}
	if !testutil.IsRoot() {
		t.Skip("needs root to create a network namespace (unshare --net)")
	}
	unshare := testutil.NeedTool(t, "unshare")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--", os.Args[0],
		"-test.run=^TestConformanceNetnsHelper$", "-test.v", "-test.count=1", "-test.timeout=170s")
	cmd.Env = append(os.Environ(), netnsHelperEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("helper output:\n%s", out.String())
	if strings.Contains(out.String(), "cannot create a network namespace") {
		t.Skip("unshare --net is not permitted here")
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestConformanceNetnsHelper") {
		t.Fatalf("helper failed: %v", err)
	}
}

// TestConformanceNetnsHelper runs only inside the namespace.
func TestConformanceNetnsHelper(t *testing.T) {
	if os.Getenv(netnsHelperEnv) == "" {
		t.Skip("helper for TestConformanceNetns; runs only inside its namespace")
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
	l4lbtest.Run(t, l4lbtest.Env{
		New: func(t *testing.T) l4lb.Dataplane {
			p, err := New(Options{Links: links, UDPIdleTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 13, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 15: byte(i)}) },
		Isolated: true,
	})
}
