package link

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Links changes network links and addresses. Links are named as the
// kernel names them ("lo", "spartan"); an address is a netip.Prefix whose
// Addr is the interface address and whose Bits is its prefix length.
//
// Implementations are safe for concurrent use (requests are serialised)
// and may block for a few seconds while the kernel answers. After Close,
// every other method fails with an error wrapping net.ErrClosed.
type Links interface {
	// AddDummy creates a dummy link, up. It fails with ErrNoDummy when
	// the kernel has no dummy driver, and with ErrExists when a link of
	// that name (dummy or not) exists already; the existing link is left
	// as it is.
	AddDummy(name string) error
	// SetUp sets the link administratively up.
	SetUp(name string) error
	// Delete removes the link, and its addresses with it.
	Delete(name string) error
	// AddAddr adds an address to the link. It fails with ErrExists when
	// the link has that address already, so that a caller can tell what
	// it added (and should remove again) from what it found. IPv6
	// addresses skip duplicate address detection: they are usable, and
	// bindable, at once instead of "tentative" for a second or two.
	AddAddr(name string, p netip.Prefix) error
	// DelAddr removes an address from the link. An address the link
	// does not have counts as removed: the caller wanted it gone.
	DelAddr(name string, p netip.Prefix) error
	// Close releases the implementation's resources. It is idempotent.
	Close() error
}

// ErrNoDummy: the kernel has no dummy link driver (CONFIG_DUMMY unset,
// or a module that cannot be loaded).
var ErrNoDummy = errors.New("kernel has no dummy link driver")

// ErrExists: the link or address to be added is there already.
var ErrExists = errors.New("already exists")

// ifNameSize is the kernel's IFNAMSIZ: names are at most 15 bytes.
const ifNameSize = 16

// checkName applies the kernel's dev_valid_name rules, so a bad name
// fails the same way, and before any request, everywhere.
func checkName(name string) error {
	if name == "" || len(name) >= ifNameSize || name == "." || name == ".." ||
		strings.ContainsAny(name, "/: \t\n\v\f\r\x00") {
		return fmt.Errorf("invalid link name %q", name)
	}
	return nil
}

// checkPrefix rejects the zero Prefix, which has no address family.
func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid address %v", p)
	}
	return nil
}
