package dcosdns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/testutil"
)

// The spartan setup changes interfaces, so it only ever runs inside a
// network namespace the test creates: the test re-executes its own binary
// under `ip netns exec`, with an environment variable that selects the
// helper below, and deletes the namespace in Cleanup.
const spartanHelperEnv = "SEXTANT_DCOSDNS_SPARTAN_HELPER"

func TestSpartanInNetns(t *testing.T) {
	if os.Getenv(spartanHelperEnv) != "" {
		t.Skip("running as the helper")
	}
	if !testutil.IsRoot() {
		t.Skip("needs root to create a network namespace")
	}
	ip := testutil.NeedTool(t, "ip")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "sx-dcosdns-" + hex.EncodeToString(b)
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "delete", ns).Run() })
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestSpartanHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), spartanHelperEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSpartanHelper") {
		t.Fatalf("helper failed: %v", err)
	}
}

// TestSpartanHelper runs inside the namespace only.
func TestSpartanHelper(t *testing.T) {
	if os.Getenv(spartanHelperEnv) == "" {
		t.Skip("helper for TestSpartanInNetns; runs only inside its namespace")
	}
	s, err := SetupSpartan(nil, true, openLinks(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("link %s created %v added %v", s.Link, s.CreatedLink, s.Added)
	if len(s.Added) != 4 || s.Added[3] != SpartanIPv6() {
		t.Fatalf("added %v", s.Added)
	}
	has := func(want bool) {
		t.Helper()
		ifaces, err := HostInterfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range append(SpartanIPs(), SpartanIPv6()) {
			found := false
			for _, it := range ifaces {
				if it.Name == s.Link && slices.Contains(it.Addrs, ip) {
					found = true
				}
			}
			if found != want {
				t.Fatalf("%s on %s: %v, want %v", ip, s.Link, found, want)
			}
		}
	}
	has(true)
	// A second setup finds everything in place and adds nothing.
	s2, err := SetupSpartan(nil, true, openLinks(t))
	if err != nil || len(s2.Added) != 0 {
		t.Fatalf("second setup: %v, added %v", err, s2.Added)
	}
	if err := s2.Teardown(nil); err != nil { // removes nothing: it added nothing
		t.Fatal(err)
	}
	has(true)
	// BindIPs with bind_interface spartan sees the addresses when the
	// interface exists; on the lo fallback they are used directly.
	ifaces, _ := HostInterfaces()
	cfg := &Config{BindInterface: s.Link}
	got := BindIPs(cfg, ifaces)
	for _, ip := range SpartanIPs() {
		if !slices.Contains(got, ip) {
			t.Fatalf("bind ips %v lack %s", got, ip)
		}
	}
	// Serve DNS on all three addresses, port 53, and ask each.
	h, err := NewHandler(HandlerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := directory.BuildLocal(directory.Config{})
	h.SetIndex(directory.NewIndex(directory.Options{}, local...))
	ctx, cancel := context.WithCancel(t.Context())
	var srvs []*dnsserver.Server
	for _, a := range ListenAddrs(SpartanIPs(), 53) {
		srv, err := dnsserver.Listen(dnsserver.Config{Addr: a, Handler: h, UDPSockets: 1})
		if err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, srv)
		go func() { _ = srv.Serve(ctx) }()
	}
	for _, ip := range SpartanIPs() {
		for _, nw := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: nw, Timeout: 2 * time.Second}
			q := new(dns.Msg)
			q.SetQuestion("ready.spartan.", dns.TypeA)
			r, _, err := c.Exchange(q, net.JoinHostPort(ip.String(), "53"))
			if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
				t.Fatalf("%s %s: %v %v", nw, ip, r, err)
			}
		}
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	if err := s.Teardown(nil); err != nil {
		t.Fatal(err)
	}
	has(false)
	fmt.Println("spartan helper done")
}

// openLinks opens the kernel's links (the helper's namespace's).
func openLinks(t *testing.T) *link.Netlink {
	t.Helper()
	l, err := link.Open()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAgentSpartanSIGTERM runs `sextant agent --spartan` inside a network
// namespace: it must answer on 198.51.100.1–3 and remove the addresses
// when it gets SIGTERM.
func TestAgentSpartanSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if !testutil.IsRoot() {
		t.Skip("needs root to create a network namespace")
	}
	ip := testutil.NeedTool(t, "ip")
	dig := testutil.NeedTool(t, "dig")
	bin := testutil.Binary(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "sx-dcosdns-" + hex.EncodeToString(b)
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "delete", ns).Run() })
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	// `ip netns exec` execs the command, so the PID is sextant's.
	cmd := exec.Command(ip, "netns", "exec", ns, bin, "agent", "--spartan", "--spartan-ipv6", "--api-addr", "")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	for _, a := range append(SpartanIPs(), SpartanIPv6()) {
		testutil.Eventually(t, 20*time.Second, "answer on "+a.String(), func() bool {
			out, _ := exec.Command(ip, "netns", "exec", ns, dig, "@"+a.String(), "-p", "53", "+short", "+time=1", "+tries=1", "ready.spartan").Output()
			return strings.TrimSpace(string(out)) == "127.0.0.1"
		})
	}
	t.Logf("answering after %v", time.Since(t0))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	t.Logf("stopped after %v", time.Since(t0))
	out, err := exec.Command(ip, "-n", ns, "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "198.51.100.") || strings.Contains(string(out), "fd01:d::") {
		t.Fatalf("spartan addresses left behind:\n%s\n%s", out, stderr.String())
	}
}
