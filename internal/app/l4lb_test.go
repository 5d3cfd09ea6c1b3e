package app

import (
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/marathon"
)

func TestUnreachableIPs(t *testing.T) {
	ip := netip.MustParseAddr
	ms := []gossip.MemberInfo{
		{Name: "a", IP: ip("10.0.0.7"), State: gossip.StateAlive},
		{Name: "b", IP: ip("10.0.0.8"), State: gossip.StateDead},
		{Name: "c", IP: ip("10.0.0.9"), State: gossip.StateLeft},
		// Restarted under a new name: the old member is dead, the node is not.
		{Name: "d-old", IP: ip("10.0.0.10"), State: gossip.StateDead},
		{Name: "d-new", IP: ip("10.0.0.10"), State: gossip.StateAlive},
		{Name: "no-meta", State: gossip.StateDead},
	}
	got := unreachableIPs(ms)
	want := []netip.Addr{ip("10.0.0.8"), ip("10.0.0.9")}
	if !slices.Equal(got, want) {
		t.Errorf("unreachable %v, want %v", got, want)
	}
	if got := unreachableIPs(nil); len(got) != 0 {
		t.Errorf("no members: %v", got)
	}
}

func TestOpenPlaneRejectsUnknown(t *testing.T) {
	if _, err := openPlane("ipvs", false, discard(), nil); err == nil || !strings.Contains(err.Error(), "--l4lb-plane") {
		t.Errorf("ipvs: %v", err)
	}
}

// The loopback-mapped userspace plane needs no privilege and touches
// nothing on the host.
func TestOpenPlaneUserspaceLoopback(t *testing.T) {
	p, err := openPlane(PlaneUserspace, true, discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.name != PlaneUserspace || !strings.Contains(p.info, "userspace") {
		t.Errorf("plane %q (%s)", p.name, p.info)
	}
	if p, err := openPlane(PlaneAuto, true, discard(), nil); err != nil || p.name != PlaneUserspace || !strings.Contains(p.info, "127.x") {
		t.Errorf("auto with --l4lb-loopback: %+v %v", p, err)
	} else {
		p.close()
	}
}

func TestVIPDNSAddr(t *testing.T) {
	if vipDNSAddr(PlaneOff, true) != nil {
		t.Error("off maps")
	}
	m := vipDNSAddr(PlaneAuto, true)
	if m == nil {
		t.Fatal("loopback: no map")
	}
	if got := m(netip.MustParseAddr("11.215.14.108")); got != netip.MustParseAddr("127.215.14.108") {
		t.Errorf("mapped %s", got)
	}
	// IPv6 VIPs have no mapping: the VIP address stays.
	if got := m(netip.MustParseAddr("fd01:c::1")); got != netip.MustParseAddr("fd01:c::1") {
		t.Errorf("v6 mapped %s", got)
	}
	if os.Geteuid() == 0 && vipDNSAddr(PlaneNFTables, false) != nil {
		t.Error("a kernel plane as root maps")
	}
}

func TestL4LBBanner(t *testing.T) {
	apps := []*marathon.App{
		{ID: "/web"},
		{ID: "/myapp", PortDefinitions: []marathon.PortDefinition{{Labels: map[string]string{"VIP_0": "/myapp:80"}}}},
		{ID: "/tools/echo", PortDefinitions: []marathon.PortDefinition{{Labels: map[string]string{"VIP_0": "/echo:7"}}}},
	}
	f := UpConfig{L4LBPlane: PlaneAuto, L4LBLoopback: true, NodeDNSAddr: "127.0.0.1:1054"}
	note, try := l4lbBanner(apps, f, "sextant")
	// myapp.marathon is 11.215.14.108 (§B.3's vectors), here on its 127.x mapping.
	if len(try) != 2 || try[0] != "curl -s http://127.215.14.108:80/" || try[1] != "sextant vip list" {
		t.Errorf("try %q", try)
	}
	if !strings.Contains(note, "curl http://myapp.marathon.l4lb.thisdcos.directory:80/") || !strings.Contains(note, "127.0.0.1:1054") {
		t.Errorf("note %q", note)
	}
	f.L4LBPlane = PlaneOff
	if note, try := l4lbBanner(apps, f, "sextant"); note != "" || try != nil {
		t.Errorf("off: %q %q", note, try)
	}
	if _, try := l4lbBanner(apps[:1], UpConfig{L4LBLoopback: true}, "sextant"); try != nil {
		t.Errorf("no VIP: %q", try)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Rootless, a VIP below the unprivileged port range cannot be served: the
// banner names the first one that can, and says why others are left out.
func TestFirstBannerVIPSkipsPrivilegedPorts(t *testing.T) {
	apps := []*marathon.App{
		{ID: "/myapp", PortDefinitions: []marathon.PortDefinition{{Labels: map[string]string{"VIP_0": "/myapp:80"}}}},
		{ID: "/hi", PortDefinitions: []marathon.PortDefinition{{Labels: map[string]string{"VIP_0": "/hi:8080"}}}},
	}
	v, ok, skipped := firstBannerVIP(apps, PlaneAuto, true, 1024)
	if !ok || !skipped || v.fqdn != "hi.marathon.l4lb.thisdcos.directory" || v.port != 8080 || !strings.HasPrefix(v.addr, "127.") {
		t.Errorf("%+v ok %v skipped %v", v, ok, skipped)
	}
	if _, ok, skipped := firstBannerVIP(apps[:1], PlaneAuto, true, 1024); ok || !skipped {
		t.Errorf("only a privileged VIP: ok %v skipped %v", ok, skipped)
	}
	if v, ok, skipped := firstBannerVIP(apps, PlaneAuto, true, 0); !ok || skipped || v.port != 80 {
		t.Errorf("no limit: %+v %v %v", v, ok, skipped)
	}
}
