package dcosdns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/kernel/link"
)

// The spartan setup against link.Fake: no root, no namespace. The real
// kernel is covered by TestSpartanInNetns.

var errInjected = errors.New("injected")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func callStrings(cs []link.Call) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// mustDo seeds fake state; it fails the test on error.
func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSetupSpartan(t *testing.T) {
	v4 := addrs("198.51.100.1", "198.51.100.2", "198.51.100.3")
	tests := []struct {
		name    string
		ipv6    bool
		noDummy bool
		seed    func(t *testing.T, f *link.Fake) // host state before the setup

		wantLink     string
		wantCreated  bool
		wantAdded    []netip.Addr
		wantTeardown []string // the calls Teardown makes
	}{
		{
			name:     "dummy driver: a new spartan interface",
			wantLink: "spartan", wantCreated: true, wantAdded: v4,
			wantTeardown: []string{"Delete spartan", "Close"},
		},
		{
			name: "dummy driver, ipv6", ipv6: true,
			wantLink: "spartan", wantCreated: true, wantAdded: append(slices.Clone(v4), SpartanIPv6()),
			wantTeardown: []string{"Delete spartan", "Close"},
		},
		{
			name: "no dummy driver: addresses on lo", noDummy: true,
			wantLink: "lo", wantAdded: v4,
			wantTeardown: []string{"DelAddr lo 198.51.100.1/32", "DelAddr lo 198.51.100.2/32", "DelAddr lo 198.51.100.3/32", "Close"},
		},
		{
			name: "no dummy driver, ipv6: addresses on lo", noDummy: true, ipv6: true,
			wantLink: "lo", wantAdded: append(slices.Clone(v4), SpartanIPv6()),
			wantTeardown: []string{"DelAddr lo 198.51.100.1/32", "DelAddr lo 198.51.100.2/32", "DelAddr lo 198.51.100.3/32",
				"DelAddr lo fd01:d::c633:6401/128", "Close"},
		},
		{
			name: "spartan interface exists, with one address",
			seed: func(t *testing.T, f *link.Fake) {
				mustDo(t, f.AddDummy("spartan"))
				mustDo(t, f.AddAddr("spartan", pfx("198.51.100.1/32")))
			},
			wantLink: "spartan", wantAdded: addrs("198.51.100.2", "198.51.100.3"),
			wantTeardown: []string{"DelAddr spartan 198.51.100.2/32", "DelAddr spartan 198.51.100.3/32", "Close"},
		},
		{
			// Made by someone else (or an earlier boot): used even where
			// no new one could be made, as DC/OS would.
			name: "spartan interface exists, no dummy driver", noDummy: true,
			seed: func(t *testing.T, f *link.Fake) {
				f.NoDummy = false
				mustDo(t, f.AddDummy("spartan"))
				f.NoDummy = true
			},
			wantLink: "spartan", wantAdded: v4,
			wantTeardown: []string{"DelAddr spartan 198.51.100.1/32", "DelAddr spartan 198.51.100.2/32", "DelAddr spartan 198.51.100.3/32", "Close"},
		},
		{
			name: "an address already on lo is kept", noDummy: true,
			seed: func(t *testing.T, f *link.Fake) {
				mustDo(t, f.AddAddr("lo", pfx("198.51.100.2/32")))
			},
			wantLink: "lo", wantAdded: addrs("198.51.100.1", "198.51.100.3"),
			wantTeardown: []string{"DelAddr lo 198.51.100.1/32", "DelAddr lo 198.51.100.3/32", "Close"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := link.NewFake()
			f.NoDummy = tt.noDummy
			if tt.seed != nil {
				tt.seed(t, f)
			}
			before := fmt.Sprint(f.Links())
			s, err := SetupSpartan(nil, tt.ipv6, f)
			if err != nil {
				t.Fatal(err)
			}
			wantAddrs := SpartanIPs()
			if tt.ipv6 {
				wantAddrs = append(wantAddrs, SpartanIPv6())
			}
			if s.Link != tt.wantLink || s.CreatedLink != tt.wantCreated || !slices.Equal(s.Added, tt.wantAdded) || !slices.Equal(s.Addrs, wantAddrs) {
				t.Fatalf("setup: link %s created %v added %v addrs %v; want %s %v %v %v",
					s.Link, s.CreatedLink, s.Added, s.Addrs, tt.wantLink, tt.wantCreated, tt.wantAdded, wantAddrs)
			}
			l, ok := f.Link(s.Link)
			if !ok || !l.Up {
				t.Fatalf("link %s after setup: %+v (exists %v), want up", s.Link, l, ok)
			}
			for _, ip := range wantAddrs {
				if !slices.Contains(l.Addrs, netip.PrefixFrom(ip, ip.BitLen())) {
					t.Errorf("%s lacks %s: %v", s.Link, ip, l.Addrs)
				}
			}
			if f.Closed() {
				t.Fatal("links closed before teardown")
			}

			n := len(f.Calls())
			if err := s.Teardown(nil); err != nil {
				t.Fatal(err)
			}
			if got := callStrings(f.Calls()[n:]); !slices.Equal(got, tt.wantTeardown) {
				t.Errorf("teardown calls %q, want %q", got, tt.wantTeardown)
			}
			if after := fmt.Sprint(f.Links()); after != before {
				t.Errorf("after teardown\n %s\nwant what was there before\n %s", after, before)
			}
			// A second teardown has nothing left to do.
			n = len(f.Calls())
			if err := s.Teardown(nil); err != nil {
				t.Fatalf("second teardown: %v", err)
			}
			if got := f.Calls()[n:]; len(got) != 0 {
				t.Errorf("second teardown made calls %v", got)
			}
		})
	}
}

// TestSetupSpartanFailure: a setup that fails half way removes what it
// had added, and closes its links.
func TestSetupSpartanFailure(t *testing.T) {
	failOn := func(call string) func(link.Call) error {
		return func(c link.Call) error {
			if c.String() == call {
				return errInjected
			}
			return nil
		}
	}
	tests := []struct {
		name      string
		ipv6      bool
		noDummy   bool
		fail      func(link.Call) error
		wantCalls []string
	}{
		{
			name: "creating the interface", fail: failOn("AddDummy spartan"),
			wantCalls: []string{"AddDummy spartan", "Close"},
		},
		{
			name: "setting it up", fail: failOn("SetUp spartan"),
			wantCalls: []string{"AddDummy spartan", "SetUp spartan", "Delete spartan", "Close"},
		},
		{
			name: "an address on the new interface", fail: failOn("AddAddr spartan 198.51.100.2/32"),
			wantCalls: []string{"AddDummy spartan", "SetUp spartan", "AddAddr spartan 198.51.100.1/32",
				"AddAddr spartan 198.51.100.2/32", "Delete spartan", "Close"},
		},
		{
			name: "an address on lo", noDummy: true, fail: failOn("AddAddr lo 198.51.100.3/32"),
			wantCalls: []string{"AddDummy spartan", "SetUp lo", "AddAddr lo 198.51.100.1/32", "AddAddr lo 198.51.100.2/32",
				"AddAddr lo 198.51.100.3/32", "DelAddr lo 198.51.100.1/32", "DelAddr lo 198.51.100.2/32", "Close"},
		},
		{
			name: "the ipv6 address on lo", noDummy: true, ipv6: true, fail: failOn("AddAddr lo fd01:d::c633:6401/128"),
			wantCalls: []string{"AddDummy spartan", "SetUp lo", "AddAddr lo 198.51.100.1/32", "AddAddr lo 198.51.100.2/32",
				"AddAddr lo 198.51.100.3/32", "AddAddr lo fd01:d::c633:6401/128",
				"DelAddr lo 198.51.100.1/32", "DelAddr lo 198.51.100.2/32", "DelAddr lo 198.51.100.3/32", "Close"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := link.NewFake()
			f.NoDummy = tt.noDummy
			f.Fail = tt.fail
			before := fmt.Sprint(f.Links())
			s, err := SetupSpartan(nil, tt.ipv6, f)
			if !errors.Is(err, errInjected) || s != nil {
				t.Fatalf("setup: %v, %+v; want the injected error", err, s)
			}
			if got := callStrings(f.Calls()); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("calls\n %q\nwant\n %q", got, tt.wantCalls)
			}
			if after := fmt.Sprint(f.Links()); after != before {
				t.Errorf("after the failed setup\n %s\nwant what was there before\n %s", after, before)
			}
			if !f.Closed() {
				t.Error("links not closed")
			}
		})
	}
}

// TestSpartanTeardownError: a removal that fails is reported, the others
// still run, and the links are closed; nothing is retried later.
func TestSpartanTeardownError(t *testing.T) {
	f := link.NewFake()
	f.NoDummy = true
	s, err := SetupSpartan(nil, false, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Fail = func(c link.Call) error {
		if c.String() == "DelAddr lo 198.51.100.2/32" {
			return errInjected
		}
		return nil
	}
	err = s.Teardown(nil)
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "remove 198.51.100.2 from lo") {
		t.Fatalf("teardown: %v, want the injected error for 198.51.100.2", err)
	}
	lo, _ := f.Link("lo")
	if got, want := fmt.Sprint(lo.Addrs), "[127.0.0.1/8 ::1/128 198.51.100.2/32]"; got != want {
		t.Errorf("lo has %s, want %s", got, want)
	}
	if !f.Closed() {
		t.Error("links not closed")
	}
	if err := s.Teardown(nil); err != nil {
		t.Errorf("second teardown: %v", err)
	}
}
