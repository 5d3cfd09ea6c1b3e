package dcosdns

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/testutil"
)

func TestParsePublicIPs(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		in   string
		want []netip.Addr
		errs []string // substrings, one per error
	}{
		{"one", "52.1.2.3\n", []netip.Addr{a("52.1.2.3")}, nil},
		{"blank lines and spaces", "\n  52.1.2.3 \r\n\n2001:db8::1\n", []netip.Addr{a("52.1.2.3"), a("2001:db8::1")}, nil},
		{"empty output", "", nil, nil},
		{"bad line skipped", "52.1.2.3\nnot-an-ip\n52.1.2.4", []netip.Addr{a("52.1.2.3"), a("52.1.2.4")}, []string{`line 2: "not-an-ip"`}},
		{"zone rejected", "fe80::1%eth0\n", nil, []string{"line 1"}},
		{"mapped v4 unmapped", "::ffff:52.1.2.3\n52.1.2.3\n", []netip.Addr{a("52.1.2.3")}, nil},
		{"duplicates dropped", "52.1.2.3\n52.1.2.3\n", []netip.Addr{a("52.1.2.3")}, nil},
		{"too many", "1.0.0.1\n1.0.0.2\n1.0.0.3\n1.0.0.4\n1.0.0.5\n1.0.0.6\n1.0.0.7\n1.0.0.8\n1.0.0.9\n1.0.0.10\n",
			[]netip.Addr{a("1.0.0.1"), a("1.0.0.2"), a("1.0.0.3"), a("1.0.0.4"), a("1.0.0.5"), a("1.0.0.6"), a("1.0.0.7"), a("1.0.0.8")},
			[]string{"line 9: more than 8"}},
		{"long garbage truncated in the error", strings.Repeat("z", 500), nil, []string{"…"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := ParsePublicIPs([]byte(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ips %v, want %v", got, tc.want)
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %v, want %d", errs, len(tc.errs))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tc.errs[i]) || len(e.Error()) > 200 {
					t.Fatalf("error %q, want it to name %q", e, tc.errs[i])
				}
			}
		})
	}
}

// FuzzParsePublicIPs: any command output parses without panicking into at
// most gossip.MaxPublicIPs distinct, valid, zone-less addresses that the
// gossip metadata accepts.
func FuzzParsePublicIPs(f *testing.F) {
	f.Add([]byte("52.1.2.3\n2001:db8::1\n"))
	f.Add([]byte("\n\nnope\n::ffff:1.2.3.4\r\n"))
	f.Add([]byte("fe80::1%eth0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ips, _ := ParsePublicIPs(b)
		if len(ips) > gossip.MaxPublicIPs {
			t.Fatalf("%d addresses", len(ips))
		}
		for i, ip := range ips {
			if !ip.IsValid() || ip.Zone() != "" || ip.Is4In6() || slices.Contains(ips[:i], ip) {
				t.Fatalf("bad address %v in %v", ip, ips)
			}
		}
		m := gossip.Meta{Role: gossip.RoleAgent, IP: netip.MustParseAddr("10.0.0.1"), PublicIPs: ips}
		if got, err := gossip.DecodeMeta(gossip.EncodeMeta(m)); err != nil || !got.Equal(m) {
			t.Fatalf("metadata round trip: %v, %v", got, err)
		}
	})
}

// TestDetectIPPublic: the public-IP command's output becomes
// public.thisnode.thisdcos.directory and /v1/nodes' public_ips, is
// re-read on refresh, and a failing run keeps the last good addresses.
func TestDetectIPPublic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "detect_ip_public")
	// The script prints the file, or fails when the file is missing.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec cat "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte("52.1.2.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := runNode(t, Options{Role: RoleAgent, Listen: []string{"127.0.0.1:0"}, APIAddr: "127.0.0.1:0", UDPSockets: 1,
		NodeIP: netip.MustParseAddr("10.0.0.9"), DetectIPPublic: script, NodeMetaRefresh: 50 * time.Millisecond})
	publicA := func() []string {
		m, err := ask(t, r.DNS[0], "udp", "public.thisnode.thisdcos.directory", dns.TypeA)
		if err != nil {
			return nil
		}
		var out []string
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		slices.Sort(out)
		return out
	}
	if got := publicA(); !slices.Equal(got, []string{"52.1.2.3"}) {
		t.Fatalf("public.thisnode at start: %v", got)
	}
	if ns := getNodes(t, r.API); len(ns) != 1 || !slices.Equal(ns[0].PublicIPs, []string{"52.1.2.3"}) {
		t.Fatalf("nodes at start: %+v", ns)
	}
	if err := os.WriteFile(out, []byte("52.1.2.4\n52.1.2.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "new public IPs", func() bool {
		return slices.Equal(publicA(), []string{"52.1.2.4", "52.1.2.5"})
	})
	if ns := getNodes(t, r.API); !slices.Equal(ns[0].PublicIPs, []string{"52.1.2.4", "52.1.2.5"}) {
		t.Fatalf("nodes after refresh: %+v", ns)
	}
	// The command fails: the addresses stay.
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := publicA(); !slices.Equal(got, []string{"52.1.2.4", "52.1.2.5"}) {
		t.Fatalf("after a failed run: %v", got)
	}
}
