package nft

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/testutil"
)

func TestKernelNetns(t *testing.T) { inNetns(t, "TestKernelNetnsHelper") }

// nftList reads the table back with the nft tool: chain names and the
// element count of each set.
func nftList(t *testing.T, nft string) (chains map[string]int, sets map[string]int, ok bool) {
	t.Helper()
	out, err := exec.Command(nft, "-j", "list", "table", "inet", TableName).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && !strings.Contains(string(ee.Stderr), "No such file") {
			t.Logf("nft -j list: %v: %s", err, ee.Stderr)
		}
		return nil, nil, false
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	chains, sets = map[string]int{}, map[string]int{}
	for _, o := range doc.Nftables {
		var v struct {
			Name  string            `json:"name"`
			Chain string            `json:"chain"`
			Elem  []json.RawMessage `json:"elem"`
		}
		switch {
		case o["chain"] != nil:
			_ = json.Unmarshal(o["chain"], &v)
			chains[v.Name] += 0
		case o["rule"] != nil:
			_ = json.Unmarshal(o["rule"], &v)
			chains[v.Chain]++
		case o["set"] != nil, o["map"] != nil:
			raw := o["set"]
			if raw == nil {
				raw = o["map"]
			}
			_ = json.Unmarshal(raw, &v)
			sets[v.Name] = len(v.Elem)
		}
	}
	return chains, sets, true
}

func localRoutes(t *testing.T) string {
	out, _ := exec.Command("ip", "-all", "route", "show", "table", "local", "proto", "83").CombinedOutput()
	out6, _ := exec.Command("ip", "-6", "route", "show", "table", "local", "proto", "83").CombinedOutput()
	return strings.TrimSpace(string(out) + string(out6))
}

// TestKernelNetnsHelper: the kernel holds what Render says, an unchanged
// sync sends nothing, a change is partial, a flushed or deleted table
// is repaired by the next sync, Close removes table and routes.
func TestKernelNetnsHelper(t *testing.T) {
	helperOnly(t)
	nft := testutil.NeedTool(t, "nft")
	reg := prometheus.NewRegistry()
	p := newPlane(t, Options{Registerer: reg, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	defer p.Close()
	ctx := t.Context()
	// Without the Maglev VIP: nft takes seconds to list its 65537
	// slots, and the conformance suite covers it in the kernel.
	svcs := slices.DeleteFunc(goldenServices(), func(s balance.Service) bool { return s.Mode == balance.Maglev })
	if err := p.Sync(ctx, svcs); err != nil {
		t.Fatal(err)
	}
	want := Render(svcs, DefaultVIPRanges)
	check := func(when string) {
		t.Helper()
		chains, sets, ok := nftList(t, nft)
		if !ok {
			t.Fatalf("%s: no table", when)
		}
		for n, c := range want.Chains {
			if got, ok := chains[n]; !ok || got != len(c.Rules) {
				t.Errorf("%s: chain %s has %d rules (present %v), want %d", when, n, got, ok, len(c.Rules))
			}
		}
		if len(chains) != len(want.Chains) {
			t.Errorf("%s: %d chains, want %d", when, len(chains), len(want.Chains))
		}
		for n, s := range want.Sets {
			if s.Interval {
				continue
			}
			if sets[n] != len(s.Elems) {
				t.Errorf("%s: set %s has %d elements, want %d", when, n, sets[n], len(s.Elems))
			}
		}
	}
	check("after the first sync")
	for _, r := range []string{"11.0.0.0/8", "1.2.3.4", "fd01:c::/64"} {
		if !strings.Contains(localRoutes(t), r) {
			t.Errorf("no local route for %s in:\n%s", r, localRoutes(t))
		}
	}
	count := func(kind string) float64 { return promtest.ToFloat64(p.syncs.WithLabelValues(kind)) }
	// Someone deletes a VIP route: the next, unchanged, sync puts it back.
	if out, err := exec.Command("ip", "route", "del", "local", "11.0.0.0/8", "dev", "lo", "table", "local").CombinedOutput(); err != nil {
		t.Fatalf("ip route del: %v %s", err, out)
	}
	if err := p.Sync(ctx, svcs); err != nil || count("unchanged") != 1 {
		t.Errorf("unchanged sync: %v, unchanged count %v", err, count("unchanged"))
	}
	if !strings.Contains(localRoutes(t), "11.0.0.0/8") {
		t.Errorf("the deleted route did not come back:\n%s", localRoutes(t))
	}
	// A weight change and a removed VIP: one partial transaction.
	changed := slices.Clone(svcs)
	changed[0].Backends = slices.Clone(changed[0].Backends)
	changed[0].Backends[0].Weight = 0
	changed = slices.DeleteFunc(changed, func(s balance.Service) bool { return s.Addr.Addr() == netip.MustParseAddr("1.2.3.4") })
	partials := count("partial")
	if err := p.Sync(ctx, changed); err != nil || count("partial") != partials+1 {
		t.Fatalf("partial sync: %v, partial count %v", err, count("partial"))
	}
	want = Render(changed, DefaultVIPRanges)
	check("after a partial sync")
	if strings.Contains(localRoutes(t), "1.2.3.4") {
		t.Error("the removed IP VIP kept its route")
	}
	// Someone flushes our table, then deletes it: the next (unchanged)
	// sync notices and rewrites it.
	for _, cmd := range [][]string{{"flush", "table", "inet", TableName}, {"delete", "table", "inet", TableName}, {"flush", "chain", "inet", TableName, "services"}} {
		if out, err := exec.Command(nft, cmd...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v %s", cmd, err, out)
		}
		before := promtest.ToFloat64(p.drifts)
		if err := p.Sync(ctx, changed); err != nil {
			t.Fatalf("sync after nft %v: %v", cmd, err)
		}
		if promtest.ToFloat64(p.drifts) != before+1 {
			t.Errorf("nft %v not detected as drift", cmd)
		}
		check("after nft " + strings.Join(cmd, " "))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := nftList(t, nft); ok {
		t.Error("table left after Close")
	}
	if r := localRoutes(t); r != "" {
		t.Errorf("routes left after Close:\n%s", r)
	}
	if err := p.Sync(ctx, svcs); err == nil {
		t.Error("sync after close succeeded")
	}
}

// Counters survive a full resync (the table is re-created): Stats stays
// cumulative.
func TestCountersNetns(t *testing.T) { inNetns(t, "TestCountersNetnsHelper") }

func TestCountersNetnsHelper(t *testing.T) {
	helperOnly(t)
	testutil.NeedTool(t, "nft")
	p := newPlane(t, Options{})
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	vip := ap("11.1.2.3:80")
	s := balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: vip},
		Backends: []balance.Backend{{Addr: ln.Addr().(*net.TCPAddr).AddrPort(), Weight: 1}}}
	if err := p.Sync(t.Context(), []balance.Service{s}); err != nil {
		t.Fatal(err)
	}
	dial := func() {
		c, err := net.DialTimeout("tcp", vip.String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Read(make([]byte, 1))
		c.Close()
	}
	conns := func() uint64 {
		for _, st := range p.Stats() {
			if st.Key == s.Key && len(st.Backends) == 1 {
				return st.Backends[0].Connections
			}
		}
		return 0
	}
	dial()
	dial()
	if n := conns(); n != 2 {
		t.Fatalf("%d connections counted, want 2", n)
	}
	exec.Command("nft", "delete", "table", "inet", TableName).Run()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Sync(ctx, []balance.Service{s}); err != nil {
		t.Fatal(err)
	}
	dial()
	// The deleted table's counts are lost with it (the plane did not
	// delete it); what the plane's own full syncs carry over is kept.
	if n := conns(); n != 1 {
		t.Errorf("after an outside delete, %d connections counted, want 1", n)
	}
	fulls := promtest.ToFloat64(p.syncs.WithLabelValues("full"))
	p.mu.Lock()
	p.lastFull = time.Time{} // the next sync is a periodic full one
	p.mu.Unlock()
	if err := p.Sync(ctx, []balance.Service{s}); err != nil {
		t.Fatal(err)
	}
	if promtest.ToFloat64(p.syncs.WithLabelValues("full")) != fulls+1 {
		t.Error("the sync was not a full one")
	}
	dial()
	if n := conns(); n != 2 {
		t.Errorf("after the plane's own full sync, %d connections counted, want 2", n)
	}
}

// nft (the tool operators use) can list a table with a Maglev VIP: the
// plane's expressions must decode in nft, or `nft list ruleset` would
// abort on every node.
func TestNftListsNetns(t *testing.T) { inNetns(t, "TestNftListsNetnsHelper") }

func TestNftListsNetnsHelper(t *testing.T) {
	helperOnly(t)
	nft := testutil.NeedTool(t, "nft")
	p := newPlane(t, Options{})
	defer p.Close()
	if err := p.Sync(t.Context(), goldenServices()); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nft, "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v\n%.2000s", err, out)
	}
	for _, want := range []string{"dnat ip to jhash ip saddr mod 65537 seed 0x53585401 map @sl-", "dnat ip to numgen random mod 4 map @sl-", "dnat ip6 to numgen random mod 2 map @sl-", "masquerade"} {
		if !strings.Contains(string(out), want) {
			var near []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "dnat") {
					near = append(near, strings.TrimSpace(l))
				}
			}
			t.Errorf("nft list ruleset has no %q; its dnat lines: %q", want, near)
		}
	}
}

// A table and routes a crashed predecessor left are taken over: New
// replaces the table (without its counts) and the routes.
func TestLeftoversNetns(t *testing.T) { inNetns(t, "TestLeftoversNetnsHelper") }

func TestLeftoversNetnsHelper(t *testing.T) {
	helperOnly(t)
	nft := testutil.NeedTool(t, "nft")
	old := newPlane(t, Options{})
	if err := old.Sync(t.Context(), goldenServices()[:1]); err != nil {
		t.Fatal(err)
	}
	// The predecessor dies without Close: its table and routes stay.
	p := newPlane(t, Options{})
	defer p.Close()
	if err := p.Sync(t.Context(), goldenServices()[2:3]); err != nil {
		t.Fatal(err)
	}
	chains, _, ok := nftList(t, nft)
	if !ok {
		t.Fatal("no table")
	}
	want := Render(goldenServices()[2:3], DefaultVIPRanges)
	for n, c := range want.Chains {
		if chains[n] != len(c.Rules) {
			t.Errorf("chain %s: %d rules, want %d", n, chains[n], len(c.Rules))
		}
	}
	if len(chains) != len(want.Chains) {
		t.Errorf("%d chains, want %d (the predecessor's left?)", len(chains), len(want.Chains))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if r := localRoutes(t); r != "" {
		t.Errorf("routes left after Close:\n%s", r)
	}
}
