//go:build linux

package agent

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// dump is the host's overlay-relevant kernel state as ip(8) prints it.
func dump(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"ip", "-n", ns, "-d", "link", "show", "vtep1024"},
		{"ip", "-n", ns, "addr", "show"},
		{"ip", "-n", ns, "rule", "show"},
		{"ip", "-n", ns, "neigh", "show", "dev", "vtep1024", "nud", "permanent"},
		{"bridge", "-n", ns, "fdb", "show", "dev", "vtep1024"},
		{"ip", "-n", ns, "route", "show", "table", "all"},
		{"ip", "-n", ns, "-6", "route", "show", "table", "all"},
	} {
		out, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
		b.Write(out)
	}
	return b.String()
}

// Sync is idempotent, repairs what was changed behind its back, removes
// what it owns and no longer wants, and leaves others' routes alone.
func TestKernelSyncIdempotentAndRepairs(t *testing.T) {
	lb := newLab(t)
	name, ns := lb.ns("k")
	lb.sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	lb.sh("ip", "-n", name, "link", "set", "eth1", "up")
	lb.sh("ip", "-n", name, "addr", "add", "10.78.0.1/24", "dev", "eth0")
	lb.sh("ip", "-n", name, "link", "set", "eth0", "up")
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	agents := cluster(t, seedNet, reg("10.78.0.1", true, true), reg("10.78.0.2", true, true), reg("10.78.0.3", true, true))
	peers, _ := PeersFrom(agents, "10.78.0.1")
	d, err := Build(agents[0], peers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := Kernel{H: h}
	if err := k.Sync(d); err != nil {
		t.Fatal(err)
	}
	first := dump(t, name)
	if err := k.Sync(d); err != nil {
		t.Fatal(err)
	}
	if second := dump(t, name); second != first {
		t.Fatalf("second sync changed the kernel:\n%s\n----\n%s", first, second)
	}
	for _, want := range []string{"vxlan id 1024", "dstport 64000", "nolearning", "44.128.0.1/20", "from 9.0.0.0/8 lookup 42",
		"44.128.0.2 lladdr 70:b3:d5:80:00:02 PERMANENT", "70:b3:d5:80:00:03 dst 10.78.0.3 self permanent",
		"9.0.1.0/24 via 44.128.0.2 dev vtep1024", "10.78.0.3 via 44.128.0.3 dev vtep1024 table 42", "unreachable 9.0.0.0/8",
		"9.0.0.1/25", "9.0.0.129/25"} {
		if !strings.Contains(first, want) {
			t.Errorf("kernel lacks %q:\n%s", want, first)
		}
	}
	// Someone deletes a route, a neighbour and the rule, and adds an
	// unrelated route: a sync restores ours and keeps theirs.
	lb.sh("ip", "-n", name, "route", "del", "9.0.1.0/24")
	lb.sh("ip", "-n", name, "neigh", "del", "44.128.0.3", "dev", "vtep1024")
	lb.sh("ip", "-n", name, "rule", "del", "from", "9.0.0.0/8", "lookup", "42")
	lb.sh("ip", "-n", name, "route", "add", "10.99.0.0/16", "dev", "eth0")
	if err := k.Sync(d); err != nil {
		t.Fatal(err)
	}
	repaired := dump(t, name)
	if !strings.Contains(repaired, "10.99.0.0/16 dev eth0") {
		t.Error("sync removed a route it does not own")
	}
	if strings.ReplaceAll(repaired, "10.99.0.0/16 dev eth0 scope link \n", "") != first {
		t.Errorf("not repaired:\n%s\n----\n%s", first, repaired)
	}
	// A VTEP with the wrong VNI is replaced.
	// Even with a default route and the VTEP gone, overlay and VTEP
	// addresses are unreachable rather than routed off the host.
	lb.sh("ip", "-n", name, "route", "add", "default", "via", "10.78.0.254")
	lb.sh("ip", "-n", name, "link", "del", "vtep1024")
	for _, dst := range []string{"44.128.0.2", "9.0.1.5", "9.77.0.1"} {
		out, _ := exec.Command("ip", "-n", name, "route", "get", dst).CombinedOutput()
		if !strings.Contains(string(out), "No route to host") && !strings.Contains(string(out), "unreachable") {
			t.Errorf("%s routed without the VTEP: %s", dst, out)
		}
	}
	lb.sh("ip", "-n", name, "route", "del", "default")
	lb.sh("ip", "-n", name, "link", "add", "vtep1024", "type", "vxlan", "id", "7", "dstport", "4789")
	if err := k.Sync(d); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, name); !strings.Contains(got, "vxlan id 1024") {
		t.Errorf("mismatched vtep kept:\n%s", got)
	}
	// Peer 3 leaves: its entries go.
	d2, _ := Build(agents[0], peers[:1], Options{})
	if err := k.Sync(d2); err != nil {
		t.Fatal(err)
	}
	left := dump(t, name)
	for _, gone := range []string{"44.128.0.3 ", "10.78.0.3", "9.0.2.0/24"} {
		if strings.Contains(left, gone) {
			t.Errorf("%q still there after the peer left:\n%s", gone, left)
		}
	}
	if err := k.Teardown(d2); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, name); strings.Contains(got, "vxlan id") || strings.Contains(got, "lookup 42") || strings.Contains(got, "m-dcos") || strings.Contains(got, "unreachable") {
		t.Errorf("teardown left:\n%s", got)
	}
}
