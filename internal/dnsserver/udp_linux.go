//go:build linux

package dnsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many datagrams one recvmmsg/sendmmsg moves. Under load the
// socket queue holds many queries, and one system call per batch instead
// of two per query is most of the cost of a hot query.
const batch = 32

// inBuf is the size of a receive slot. Queries are small; a larger one
// (MSG_TRUNC) is dropped.
const inBuf = 4096

// mmsghdr mirrors struct mmsghdr; Go's alignment gives it the C layout on
// 32- and 64-bit platforms.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// udpBatch holds one socket's reusable buffers and system-call state. The
// read and write functions are made once, so each batch allocates nothing.
type udpBatch struct {
	in    [batch][]byte
	out   [batch][]byte
	names [batch]unix.RawSockaddrInet6
	iovIn [batch]unix.Iovec
	iovO  [batch]unix.Iovec
	rh    [batch]mmsghdr
	wh    [batch]mmsghdr

	n     int
	errno syscall.Errno
	wfrom int
	wcnt  int

	readFn, writeFn func(fd uintptr) bool
}

func newUDPBatch() *udpBatch {
	b := &udpBatch{}
	for i := range batch {
		b.in[i] = make([]byte, inBuf)
		b.out[i] = make([]byte, maxMsg)
	}
	b.readFn = func(fd uintptr) bool {
		for i := range batch {
			b.iovIn[i].Base = &b.in[i][0]
			b.iovIn[i].SetLen(inBuf)
			h := &b.rh[i].hdr
			h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
			h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
			h.Iov = &b.iovIn[i]
			h.SetIovlen(1)
			h.Control = nil
			h.SetControllen(0)
			h.Flags = 0
			b.rh[i].n = 0
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rh[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
			return false
		}
		b.n, b.errno = int(r), e
		return true
	}
	b.writeFn = func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.wh[b.wfrom])), uintptr(b.wcnt), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
			return false
		}
		b.n, b.errno = int(r), e
		return true
	}
	return b
}

func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// serveUDP reads and answers in batches with recvmmsg/sendmmsg.
func (s *Server) serveUDP(ctx context.Context, c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return s.serveUDPSimple(ctx, c)
	}
	b := newUDPBatch()
	for {
		if err := rc.Read(b.readFn); err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if b.errno != 0 {
			if b.errno == unix.ENOSYS {
				return s.serveUDPSimple(ctx, c)
			}
			// Transient errors (ICMP-induced ECONNREFUSED and such) must
			// not stop the loop.
			s.log.Debug("udp recvmmsg", "err", b.errno)
			continue
		}
		k := 0
		for i := 0; i < b.n; i++ {
			l := int(b.rh[i].n)
			if b.rh[i].hdr.Flags&unix.MSG_TRUNC != 0 || l < 12 || b.in[i][2]&0x80 != 0 {
				continue
			}
			q := b.in[i][:l]
			if m, ok := s.cfg.Handler.AnswerFast(q, b.out[k], UDP); ok {
				b.iovO[k].Base = &b.out[k][0]
				b.iovO[k].SetLen(m)
				h := &b.wh[k].hdr
				h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
				h.Namelen = b.rh[i].hdr.Namelen
				h.Iov = &b.iovO[k]
				h.SetIovlen(1)
				h.Control = nil
				h.SetControllen(0)
				h.Flags = 0
				k++
				continue
			}
			s.slowPacket(ctx, c, q, sockaddrAddrPort(&b.names[i]), nil)
		}
		for sent := 0; sent < k; {
			b.wfrom, b.wcnt = sent, k-sent
			if err := rc.Write(b.writeFn); err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return nil
				}
				return err
			}
			if b.errno != 0 {
				// One bad destination fails the call at that message:
				// skip it and send the rest.
				s.log.Debug("udp sendmmsg", "err", b.errno)
				sent++
				continue
			}
			sent += b.n
		}
	}
}
