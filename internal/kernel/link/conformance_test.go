package link

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The conformance steps run against the Fake here and against Netlink in
// a new network namespace (netlink_linux_test.go): the Fake is only worth
// testing against if it answers as the kernel does.

// errSome marks a step that must fail, in whatever way.
var errSome = errors.New("some error")

// step is one Links call, or (op "check") a look at one link's state.
type step struct {
	op     string // a Links method name, or "check"
	link   string
	prefix string // AddAddr/DelAddr; "" is the zero (invalid) Prefix
	want   error  // nil, a sentinel, or errSome

	// For "check": the link is absent, or present, up as up, with exactly
	// addrs among its addresses in testRanges (sorted by String).
	absent bool
	up     bool
	addrs  []string
}

type conformanceCase struct {
	name  string
	steps []step
}

// testRanges are the documentation ranges the steps use; other
// addresses (lo's own) are left out of checks.
var testRanges = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("fd01:d::/32")}

// linkState says whether a link exists, whether it is up, and its
// addresses (all of them; the runner filters).
type linkState func(t *testing.T, name string) (exists, up bool, addrs []netip.Prefix)

func conformanceCases(dummy bool) []conformanceCase {
	cs := []conformanceCase{
		{name: "addresses", steps: []step{
			{op: "SetUp", link: "lo"},
			{op: "AddAddr", link: "lo", prefix: "198.51.100.1/32"},
			{op: "AddAddr", link: "lo", prefix: "198.51.100.1/32", want: ErrExists},
			// IPv4: another prefix length is another address.
			{op: "AddAddr", link: "lo", prefix: "198.51.100.1/24"},
			{op: "AddAddr", link: "lo", prefix: "fd01:d::c633:6401/128"},
			// IPv6: one address, whatever the prefix length.
			{op: "AddAddr", link: "lo", prefix: "fd01:d::c633:6401/64", want: ErrExists},
			{op: "check", link: "lo", up: true, addrs: []string{"198.51.100.1/24", "198.51.100.1/32", "fd01:d::c633:6401/128"}},
			{op: "DelAddr", link: "lo", prefix: "198.51.100.1/24"},
			{op: "DelAddr", link: "lo", prefix: "198.51.100.1/24"},      // gone already: fine
			{op: "DelAddr", link: "lo", prefix: "198.51.100.9/32"},      // never there: fine
			{op: "DelAddr", link: "lo", prefix: "fd01:d::c633:6401/64"}, // other length: not this address
			{op: "check", link: "lo", up: true, addrs: []string{"198.51.100.1/32", "fd01:d::c633:6401/128"}},
			{op: "DelAddr", link: "lo", prefix: "198.51.100.1/32"},
			{op: "DelAddr", link: "lo", prefix: "fd01:d::c633:6401/128"},
			{op: "check", link: "lo", up: true},
		}},
		{name: "bad arguments and missing links", steps: []step{
			{op: "AddDummy", link: "lo", want: ErrExists},
			{op: "AddDummy", link: "bad/name", want: errSome},
			{op: "AddDummy", link: "", want: errSome},
			{op: "AddDummy", link: "sixteen-letters!", want: errSome},
			{op: "AddAddr", link: "lo", prefix: "", want: errSome},
			{op: "DelAddr", link: "lo", prefix: "", want: errSome},
			{op: "SetUp", link: "sx-missing", want: errSome},
			{op: "Delete", link: "sx-missing", want: errSome},
			{op: "AddAddr", link: "sx-missing", prefix: "198.51.100.1/32", want: errSome},
			{op: "DelAddr", link: "sx-missing", prefix: "198.51.100.1/32", want: errSome},
			{op: "check", link: "sx-missing", absent: true},
		}},
		{name: "closed", steps: []step{
			{op: "Close"},
			{op: "Close"},
			{op: "SetUp", link: "lo", want: net.ErrClosed},
			{op: "AddDummy", link: "sx0", want: net.ErrClosed},
			{op: "AddAddr", link: "lo", prefix: "198.51.100.1/32", want: net.ErrClosed},
			{op: "check", link: "sx0", absent: true},
		}},
	}
	if dummy {
		cs = append(cs, conformanceCase{name: "dummy link", steps: []step{
			{op: "AddDummy", link: "sx0"},
			{op: "check", link: "sx0", up: true},
			{op: "AddDummy", link: "sx0", want: ErrExists},
			{op: "AddAddr", link: "sx0", prefix: "198.51.100.1/32"},
			{op: "SetUp", link: "sx0"},
			{op: "check", link: "sx0", up: true, addrs: []string{"198.51.100.1/32"}},
			{op: "Delete", link: "sx0"},
			{op: "check", link: "sx0", absent: true},
			{op: "Delete", link: "sx0", want: errSome},
			{op: "SetUp", link: "sx0", want: errSome},
		}})
	} else {
		cs = append(cs, conformanceCase{name: "no dummy driver", steps: []step{
			{op: "AddDummy", link: "sx0", want: ErrNoDummy},
			{op: "check", link: "sx0", absent: true},
			// The name is looked at before the driver.
			{op: "AddDummy", link: "lo", want: ErrExists},
		}})
	}
	return cs
}

func runConformance(t *testing.T, l Links, state linkState, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.op == "check" {
			exists, up, all := state(t, s.link)
			var got []string
			for _, p := range all {
				if slices.ContainsFunc(testRanges, func(r netip.Prefix) bool { return r.Contains(p.Addr()) }) {
					got = append(got, p.String())
				}
			}
			slices.Sort(got)
			switch {
			case s.absent && exists:
				t.Errorf("step %d: link %s exists, want none", i, s.link)
			case !s.absent && !exists:
				t.Errorf("step %d: link %s missing", i, s.link)
			case !s.absent && (up != s.up || !slices.Equal(got, s.addrs)):
				t.Errorf("step %d: link %s up %v addrs %v, want up %v addrs %v", i, s.link, up, got, s.up, s.addrs)
			}
			continue
		}
		var p netip.Prefix
		if s.prefix != "" {
			p = netip.MustParsePrefix(s.prefix)
		}
		var err error
		switch s.op {
		case "AddDummy":
			err = l.AddDummy(s.link)
		case "SetUp":
			err = l.SetUp(s.link)
		case "Delete":
			err = l.Delete(s.link)
		case "AddAddr":
			err = l.AddAddr(s.link, p)
		case "DelAddr":
			err = l.DelAddr(s.link, p)
		case "Close":
			err = l.Close()
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		desc := strings.TrimSpace(s.op + " " + s.link + " " + s.prefix)
		switch {
		case s.want == nil && err != nil:
			t.Errorf("step %d: %s: %v", i, desc, err)
		case s.want == errSome && err == nil, s.want != nil && s.want != errSome && !errors.Is(err, s.want):
			t.Errorf("step %d: %s: got error %v, want %v", i, desc, err, s.want)
		}
	}
}

func TestFakeConformance(t *testing.T) {
	for _, kernel := range []struct {
		name    string
		noDummy bool
	}{{"with dummy driver", false}, {"without dummy driver", true}} {
		t.Run(kernel.name, func(t *testing.T) {
			for _, c := range conformanceCases(!kernel.noDummy) {
				t.Run(c.name, func(t *testing.T) {
					f := NewFake()
					f.NoDummy = kernel.noDummy
					state := func(t *testing.T, name string) (bool, bool, []netip.Prefix) {
						l, ok := f.Link(name)
						return ok, l.Up, l.Addrs
					}
					runConformance(t, f, state, c.steps)
				})
			}
		})
	}
}
