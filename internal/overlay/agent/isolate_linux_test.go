//go:build linux

package agent

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/overlay/isolate"
)

// Isolation groups, from a model snapshot, block exactly the pairs the
// policy says, across hosts and on one bridge, and nothing else.
func TestIsolationGroups(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (nftables) to show the ruleset on failure")
	}
	c := newCluster3(t)
	type ep struct {
		host   int
		name   string
		groups string
	}
	eps := []ep{{0, "a1", "blue"}, {1, "a2", "blue"}, {2, "r1", "red"}, {0, "r2", "red"}, {1, "u", ""}, {2, "br", "blue,red"}}
	snap := &model.Snapshot{}
	var cts []container
	for _, e := range eps {
		ct := c.addContainer(t, e.host, e.name)
		cts = append(cts, ct)
		app := &model.App{ID: "/" + e.name, Networks: []model.Network{{Mode: model.NetworkContainer, Name: "dcos",
			Labels: map[string]string{isolate.GroupsLabel: e.groups}}}}
		snap.Tasks = append(snap.Tasks, model.Task{ID: e.name, State: model.TaskRunning, App: app, IPs: []netip.Addr{ct.addr.Addr()}})
	}
	pol := isolate.Compute(isolate.FromSnapshot(snap, netip.MustParsePrefix("9.0.0.0/8")))
	for _, h := range c.hosts {
		conn, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
		if err != nil {
			t.Fatal(err)
		}
		if err := isolate.Apply(conn, pol); err != nil {
			t.Fatal(err)
		}
		// Applying twice replaces, it does not add.
		if err := isolate.Apply(conn, pol); err != nil {
			t.Fatal(err)
		}
	}
	blocked, allowed := 0, 0
	for i, from := range cts {
		for j, to := range cts {
			if i == j {
				continue
			}
			want := pol.Allowed(from.addr.Addr(), to.addr.Addr())
			what := fmt.Sprintf("%s (%s) → %s (%s)", eps[i].name, eps[i].groups, eps[j].name, eps[j].groups)
			if want {
				allowed++
				eventually(t, what, func() error { return ping(c.lab, from.name, to.addr.Addr().String()) })
				continue
			}
			blocked++
			out, err := exec.Command("ip", "netns", "exec", from.name, "ping", "-c", "1", "-W", "1", to.addr.Addr().String()).CombinedOutput()
			if err == nil {
				rs, _ := exec.Command("ip", "netns", "exec", c.hosts[eps[j].host].name, "nft", "list", "ruleset").CombinedOutput()
				t.Errorf("%s: not blocked: %s\n%s", what, lastLine(out), rs)
			}
		}
	}
	if blocked == 0 || allowed == 0 {
		t.Fatalf("the case is vacuous: %d blocked, %d allowed", blocked, allowed)
	}
	t.Logf("%d pairs allowed, %d blocked", allowed, blocked)
	// Removing the policy lets everyone through again.
	for _, h := range c.hosts {
		conn, _ := nftables.New(nftables.WithNetNSFd(int(h.ns)))
		if err := isolate.Remove(conn); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command("ip", "netns", "exec", h.name, "nft", "list", "ruleset").CombinedOutput()
		if strings.Contains(string(out), isolate.TableName) {
			t.Errorf("%s: table left: %s", h.name, out)
		}
	}
	eventually(t, "a1 → r1 without the policy", func() error { return ping(c.lab, cts[0].name, cts[2].addr.Addr().String()) })
}
