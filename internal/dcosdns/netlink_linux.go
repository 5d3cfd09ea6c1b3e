package dcosdns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal rtnetlink client: just the five requests the spartan setup
// needs (create a dummy link, set a link up, delete a link, add and remove
// an address). Written on x/sys/unix to avoid a netlink dependency.

// errNoDummy: the kernel has no dummy link driver (CONFIG_DUMMY unset).
var errNoDummy = errors.New("dummy interfaces are not supported by this kernel")

type netlinkConn struct {
	fd  int
	seq atomic.Uint32
}

func openNetlink() (*netlinkConn, error) {
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
	return &netlinkConn{fd: fd}, nil
}

func (c *netlinkConn) close() { unix.Close(c.fd) }

func align4(n int) int { return (n + 3) &^ 3 }

// attr encodes one rtattr.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, align4(unix.SizeofRtAttr+len(data)))
	binary.NativeEndian.PutUint16(b[0:2], uint16(unix.SizeofRtAttr+len(data)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

func ifinfo(index int32, flags, change uint32) []byte {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: change}
	return (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:]
}

func ifaddr(index int, ip netip.Addr) []byte {
	fam, plen, flags := uint8(unix.AF_INET), uint8(32), uint8(0)
	if ip.Is6() {
		// No duplicate address detection: the address is usable (and
		// bindable) at once instead of "tentative" for a second or two.
		fam, plen, flags = unix.AF_INET6, 128, unix.IFA_F_NODAD
	}
	m := unix.IfAddrmsg{Family: fam, Prefixlen: plen, Flags: flags, Scope: unix.RT_SCOPE_UNIVERSE, Index: uint32(index)}
	return (*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&m))[:]
}

// request sends one message and waits for its ACK; the error is the
// kernel's errno.
func (c *netlinkConn) request(typ uint16, flags uint16, body ...[]byte) error {
	n := unix.SizeofNlMsghdr
	for _, b := range body {
		n += len(b)
	}
	seq := c.seq.Add(1)
	msg := make([]byte, unix.SizeofNlMsghdr, n)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(n))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	for _, b := range body {
		msg = append(msg, b...)
	}
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 65536)
	for range 64 {
		nr, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short error message")
			}
			code := int32(binary.NativeEndian.Uint32(m.Data[0:4]))
			if code == 0 {
				return nil
			}
			return syscall.Errno(-code)
		}
	}
	return errors.New("netlink: no acknowledgement")
}

func (c *netlinkConn) addDummy(name string) error {
	kind := attr(unix.IFLA_INFO_KIND, []byte("dummy"))
	err := c.request(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		ifinfo(0, unix.IFF_UP, unix.IFF_UP),
		attr(unix.IFLA_IFNAME, append([]byte(name), 0)),
		attr(unix.IFLA_LINKINFO, kind))
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %v", errNoDummy, err)
	}
	return err
}

func (c *netlinkConn) setUp(index int) error {
	return c.request(unix.RTM_NEWLINK, 0, ifinfo(int32(index), unix.IFF_UP, unix.IFF_UP))
}

func (c *netlinkConn) delLink(index int) error {
	return c.request(unix.RTM_DELLINK, 0, ifinfo(int32(index), 0, 0))
}

// addAddr adds ip as a host address; added is false when it was there.
func (c *netlinkConn) addAddr(index int, ip netip.Addr) (added bool, err error) {
	err = c.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		ifaddr(index, ip), attr(unix.IFA_LOCAL, ip.AsSlice()), attr(unix.IFA_ADDRESS, ip.AsSlice()))
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	return err == nil, err
}

func (c *netlinkConn) delAddr(index int, ip netip.Addr) error {
	err := c.request(unix.RTM_DELADDR, 0,
		ifaddr(index, ip), attr(unix.IFA_LOCAL, ip.AsSlice()), attr(unix.IFA_ADDRESS, ip.AsSlice()))
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}
