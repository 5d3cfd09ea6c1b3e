//go:build !linux

package link

import (
	"errors"
	"fmt"
	"net/netip"
)

// Netlink is Links on rtnetlink, which only Linux has: here Open always
// fails, and the methods exist so code using Netlink builds everywhere.
type Netlink struct{}

var _ Links = (*Netlink)(nil)

// Open fails: rtnetlink is Linux-only.
func Open() (*Netlink, error) {
	return nil, fmt.Errorf("changing network links: rtnetlink is Linux-only: %w", errors.ErrUnsupported)
}

// AddDummy fails with errors.ErrUnsupported.
func (*Netlink) AddDummy(string) error { return errors.ErrUnsupported }

// SetUp fails with errors.ErrUnsupported.
func (*Netlink) SetUp(string) error { return errors.ErrUnsupported }

// Delete fails with errors.ErrUnsupported.
func (*Netlink) Delete(string) error { return errors.ErrUnsupported }

// AddAddr fails with errors.ErrUnsupported.
func (*Netlink) AddAddr(string, netip.Prefix) error { return errors.ErrUnsupported }

// DelAddr fails with errors.ErrUnsupported.
func (*Netlink) DelAddr(string, netip.Prefix) error { return errors.ErrUnsupported }

// Close does nothing.
func (*Netlink) Close() error { return nil }
