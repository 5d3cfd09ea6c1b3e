package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Fake is Links in memory, for tests: it behaves as Netlink does on a
// Linux kernel (conformance_test.go runs the same steps against both) and
// records every call. A new Fake has the link "lo", up, with 127.0.0.1/8
// and ::1/128, like a host; seed more state through its Links methods.
//
// Fake is safe for concurrent use. Set NoDummy and Fail before sharing it
// with other goroutines.
type Fake struct {
	// NoDummy makes AddDummy fail with ErrNoDummy (for a name not taken),
	// like a kernel without the dummy driver.
	NoDummy bool
	// Fail, when set, is asked about every call after it is recorded; an
	// error it returns is the call's result, and the call changes nothing.
	Fail func(Call) error

	mu     sync.Mutex
	links  map[string]*FakeLink // by name
	calls  []Call
	closed bool
}

var _ Links = (*Fake)(nil)

// FakeLink is one link of a Fake.
type FakeLink struct {
	Name  string
	Dummy bool // made by AddDummy
	Up    bool
	Addrs []netip.Prefix // in the order added
}

// Call is one call to a Fake's Links methods. Prefix is the zero Prefix
// for the link methods.
type Call struct {
	Op     string // the method name: "AddDummy", "SetUp", "Delete", "AddAddr", "DelAddr", "Close"
	Name   string
	Prefix netip.Prefix
}

// String is "Op name prefix", e.g. "AddAddr lo 198.51.100.1/32", for
// comparing call logs in tests.
func (c Call) String() string {
	s := strings.TrimSpace(c.Op + " " + c.Name)
	if c.Prefix.IsValid() {
		s += " " + c.Prefix.String()
	}
	return s
}

// errNoDevice is what the kernel says about a missing link (ENODEV).
var errNoDevice = errors.New("no such device")

// NewFake returns a Fake holding a host's loopback link.
func NewFake() *Fake {
	lo := &FakeLink{Name: "lo", Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128"),
	}}
	return &Fake{links: map[string]*FakeLink{"lo": lo}}
}

// Links returns a copy of the fake's links, sorted by name.
func (f *Fake) Links() []FakeLink {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FakeLink, 0, len(f.links))
	for _, l := range f.links {
		c := *l
		c.Addrs = slices.Clone(l.Addrs)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b FakeLink) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Link returns a copy of the named link, and whether it exists.
func (f *Fake) Link(name string) (FakeLink, bool) {
	for _, l := range f.Links() {
		if l.Name == name {
			return l, true
		}
	}
	return FakeLink{}, false
}

// Calls returns the calls made so far, failed ones included.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Closed reports whether Close was called.
func (f *Fake) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// beginLocked records c and says whether and how it fails before taking
// effect: closed, injected failure, bad arguments.
func (f *Fake) beginLocked(c Call) error {
	f.calls = append(f.calls, c)
	if f.closed {
		return fmt.Errorf("fake links: %w", net.ErrClosed)
	}
	if f.Fail != nil {
		if err := f.Fail(c); err != nil {
			return err
		}
	}
	if err := checkName(c.Name); err != nil {
		return err
	}
	if (c.Op == "AddAddr" || c.Op == "DelAddr") && !c.Prefix.IsValid() {
		return checkPrefix(c.Prefix)
	}
	return nil
}

func (f *Fake) linkLocked(name string) (*FakeLink, error) {
	l, ok := f.links[name]
	if !ok {
		return nil, fmt.Errorf("link %s: %w", name, errNoDevice)
	}
	return l, nil
}

// AddDummy creates a dummy link, up.
func (f *Fake) AddDummy(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked(Call{Op: "AddDummy", Name: name}); err != nil {
		return err
	}
	// The name is checked before the driver, as the kernel does.
	if _, ok := f.links[name]; ok {
		return fmt.Errorf("link %s: %w", name, ErrExists)
	}
	if f.NoDummy {
		return fmt.Errorf("%w: operation not supported", ErrNoDummy)
	}
	f.links[name] = &FakeLink{Name: name, Dummy: true, Up: true}
	return nil
}

// SetUp sets the link up.
func (f *Fake) SetUp(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked(Call{Op: "SetUp", Name: name}); err != nil {
		return err
	}
	l, err := f.linkLocked(name)
	if err != nil {
		return err
	}
	l.Up = true
	return nil
}

// Delete removes the link. Like the kernel, it lets anyone delete
// anything, lo included.
func (f *Fake) Delete(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked(Call{Op: "Delete", Name: name}); err != nil {
		return err
	}
	if _, err := f.linkLocked(name); err != nil {
		return err
	}
	delete(f.links, name)
	return nil
}

// AddAddr adds p to the link. As in the kernel, an IPv4 address may be
// there once per prefix length, an IPv6 address only once.
func (f *Fake) AddAddr(name string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked(Call{Op: "AddAddr", Name: name, Prefix: p}); err != nil {
		return err
	}
	l, err := f.linkLocked(name)
	if err != nil {
		return err
	}
	for _, q := range l.Addrs {
		if q == p || (p.Addr().Is6() && q.Addr() == p.Addr()) {
			return fmt.Errorf("address %s on %s: %w", p, name, ErrExists)
		}
	}
	l.Addrs = append(l.Addrs, p)
	return nil
}

// DelAddr removes p (address and prefix length) from the link.
func (f *Fake) DelAddr(name string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginLocked(Call{Op: "DelAddr", Name: name, Prefix: p}); err != nil {
		return err
	}
	l, err := f.linkLocked(name)
	if err != nil {
		return err
	}
	l.Addrs = slices.DeleteFunc(l.Addrs, func(q netip.Prefix) bool { return q == p })
	return nil
}

// Close marks the fake closed: later calls fail with net.ErrClosed.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: "Close"})
	f.closed = true
	return nil
}
