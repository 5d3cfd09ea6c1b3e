//go:build linux

package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Netlink is Links on rtnetlink: one NETLINK_ROUTE socket and the six
// requests Links needs, on x/sys/unix rather than a netlink library.
// Errors from the kernel are its errno (a syscall.Errno), unwrapped, so
// callers name the operation; a failed name look-up says "link <name>".
//
// A link name is resolved to its index with RTM_GETLINK on the same
// socket for every call, so all requests act in the socket's namespace
// (see the package doc) and a link renamed or re-created meanwhile is
// found by its name, as the caller meant.
type Netlink struct {
	// mu guards fd, seq and buf, and serialises requests: replies are
	// matched to requests by sequence number on the one socket, and a
	// concurrent reader could consume another request's acknowledgement.
	mu  sync.Mutex
	fd  int // -1 once closed
	seq uint32
	buf []byte
}

var _ Links = (*Netlink)(nil)

// Open opens a rtnetlink socket in the calling thread's network
// namespace. Changing links needs CAP_NET_ADMIN there; Open itself does
// not.
func Open() (*Netlink, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}
	// Bound receive waits so a kernel that never answers cannot hang us.
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &Netlink{fd: fd, buf: make([]byte, 65536)}, nil
}

// Close closes the socket.
func (n *Netlink) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return nil
	}
	// The fd is forgotten even if close fails: retrying could close a
	// descriptor number reused meanwhile by someone else.
	err := unix.Close(n.fd)
	n.fd = -1
	if err != nil {
		return fmt.Errorf("close netlink socket: %w", err)
	}
	return nil
}

// AddDummy creates a dummy link, up.
func (n *Netlink) AddDummy(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// With NLM_F_EXCL the kernel looks the name up before the link kind,
	// so an existing link is reported as EEXIST even without the driver.
	_, err := n.requestLocked(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		ifinfo(0, unix.IFF_UP, unix.IFF_UP),
		attr(unix.IFLA_IFNAME, cstring(name)),
		attr(unix.IFLA_LINKINFO, attr(unix.IFLA_INFO_KIND, []byte("dummy"))))
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("link %s: %w", name, ErrExists)
	case errors.Is(err, unix.EOPNOTSUPP):
		// No rtnl_link_ops registered for "dummy", and no module loaded.
		return fmt.Errorf("%w: %v", ErrNoDummy, err)
	}
	return err
}

// SetUp sets the link up.
func (n *Netlink) SetUp(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	index, err := n.indexLocked(name)
	if err != nil {
		return err
	}
	_, err = n.requestLocked(unix.RTM_NEWLINK, 0, ifinfo(index, unix.IFF_UP, unix.IFF_UP))
	return err
}

// Delete removes the link.
func (n *Netlink) Delete(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	index, err := n.indexLocked(name)
	if err != nil {
		return err
	}
	_, err = n.requestLocked(unix.RTM_DELLINK, 0, ifinfo(index, 0, 0))
	return err
}

// AddAddr adds p to the link.
func (n *Netlink) AddAddr(name string, p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	index, err := n.indexLocked(name)
	if err != nil {
		return err
	}
	ip := p.Addr().AsSlice()
	_, err = n.requestLocked(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		ifaddr(index, p), attr(unix.IFA_LOCAL, ip), attr(unix.IFA_ADDRESS, ip))
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("address %s on %s: %w", p, name, ErrExists)
	}
	return err
}

// DelAddr removes p from the link.
func (n *Netlink) DelAddr(name string, p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	index, err := n.indexLocked(name)
	if err != nil {
		return err
	}
	ip := p.Addr().AsSlice()
	_, err = n.requestLocked(unix.RTM_DELADDR, 0,
		ifaddr(index, p), attr(unix.IFA_LOCAL, ip), attr(unix.IFA_ADDRESS, ip))
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}

// indexLocked resolves a link name with RTM_GETLINK (by IFLA_IFNAME,
// Linux 2.6.33 and later). A missing link is ENODEV.
func (n *Netlink) indexLocked(name string) (int32, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	reply, err := n.requestLocked(unix.RTM_GETLINK, 0, ifinfo(0, 0, 0), attr(unix.IFLA_IFNAME, cstring(name)))
	if err != nil {
		return 0, fmt.Errorf("link %s: %w", name, err)
	}
	if len(reply) < unix.SizeofIfInfomsg {
		return 0, fmt.Errorf("link %s: short RTM_NEWLINK reply (%d bytes)", name, len(reply))
	}
	// struct ifinfomsg: family u8, pad u8, type u16, index s32, ...
	return int32(binary.NativeEndian.Uint32(reply[4:8])), nil
}

// requestLocked sends one request and reads until its acknowledgement.
// The error is the kernel's errno. The result is a copy of the payload of
// the first other message answering the request (RTM_GETLINK's
// RTM_NEWLINK), or nil.
func (n *Netlink) requestLocked(typ uint16, flags uint16, body ...[]byte) ([]byte, error) {
	if n.fd < 0 {
		return nil, fmt.Errorf("netlink: %w", net.ErrClosed)
	}
	size := unix.SizeofNlMsghdr
	for _, b := range body {
		size += len(b)
	}
	n.seq++
	seq := n.seq
	msg := make([]byte, unix.SizeofNlMsghdr, size)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(size))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	for _, b := range body {
		msg = append(msg, b...)
	}
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	var reply []byte
	// Bounded: stale messages (answers to a request that timed out) are
	// skipped, but not forever.
	for range 64 {
		nr, _, err := unix.Recvfrom(n.fd, n.buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(n.buf[:nr])
		if err != nil {
			return nil, fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			if m.Header.Type != unix.NLMSG_ERROR {
				if reply == nil {
					reply = append([]byte{}, m.Data...)
				}
				continue
			}
			if len(m.Data) < 4 {
				return nil, errors.New("netlink: short error message")
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data[0:4])); code != 0 {
				return nil, syscall.Errno(-code)
			}
			return reply, nil
		}
	}
	return nil, errors.New("netlink: no acknowledgement")
}

func align4(n int) int { return (n + 3) &^ 3 }

// attr encodes one rtattr.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, align4(unix.SizeofRtAttr+len(data)))
	binary.NativeEndian.PutUint16(b[0:2], uint16(unix.SizeofRtAttr+len(data)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

// cstring is name NUL-terminated, as IFLA_IFNAME wants it.
func cstring(name string) []byte { return append([]byte(name), 0) }

func ifinfo(index int32, flags, change uint32) []byte {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: change}
	return (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:]
}

func ifaddr(index int32, p netip.Prefix) []byte {
	m := unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: uint8(p.Bits()), Scope: unix.RT_SCOPE_UNIVERSE, Index: uint32(index)}
	if p.Addr().Is6() {
		// No duplicate address detection (see Links.AddAddr).
		m.Family, m.Flags = unix.AF_INET6, unix.IFA_F_NODAD
	}
	return (*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&m))[:]
}
