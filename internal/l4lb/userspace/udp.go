package userspace

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// udpService holds the flows of one UDP service: per client address a
// socket connected to the backend chosen for the flow's first datagram,
// so replies can be told apart and go back to their client from the VIP.
type udpService struct {
	p     *Plane
	s     *service
	pc    *net.UDPConn
	mu    sync.Mutex // guards flows
	flows map[netip.AddrPort]*flow
	pool  sync.Pool // *[]byte of maxDatagram, for backend replies
}

type flow struct {
	client netip.AddrPort
	conn   *net.UDPConn // connected to the backend
	cnt    *counters
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
}

func (p *Plane) startUDP(s *service) error {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(s.listen))
	if err != nil {
		return err
	}
	u := &udpService{p: p, s: s, pc: pc, flows: map[netip.AddrPort]*flow{}}
	u.pool.New = func() any { b := make([]byte, maxDatagram); return &b }
	s.stop = u.stop
	p.wg.Add(1)
	go u.serve()
	return nil
}

// stop closes the listening socket and every flow: without it a flow's
// replies could not leave from the VIP address.
func (u *udpService) stop() {
	u.pc.Close()
	u.mu.Lock()
	for _, f := range u.flows {
		f.conn.Close()
	}
	u.mu.Unlock()
}

func (u *udpService) serve() {
	defer u.p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. a truncated datagram: nothing to recover
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		f := u.flowFor(src)
		if f == nil {
			continue
		}
		f.last.Store(time.Now().UnixNano())
		// Counted before it is sent, so that whoever sees the answer
		// sees the count too; taken back if the send fails.
		f.cnt.toBackend.Add(uint64(n))
		if _, err := f.conn.Write(buf[:n]); err != nil {
			// ECONNREFUSED: an earlier datagram met a closed port.
			f.cnt.toBackend.Add(-uint64(n))
			f.cnt.failures.Add(1)
		}
	}
}

// flowFor returns the flow of a client, starting one on a new backend
// when there is none; nil when the datagram is dropped.
func (u *udpService) flowFor(src netip.AddrPort) *flow {
	u.mu.Lock()
	defer u.mu.Unlock()
	if f := u.flows[src]; f != nil {
		return f
	}
	set := u.s.cur.Load()
	b, ok := set.picker.Pick(src.Addr())
	if !ok || len(u.flows) >= u.p.o.UDPMaxFlows {
		u.s.refused.Add(1)
		return nil
	}
	cnt := set.counter(b.Addr)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(b.Addr))
	if err != nil {
		cnt.failures.Add(1)
		return nil
	}
	f := &flow{client: src, conn: conn, cnt: cnt}
	f.last.Store(time.Now().UnixNano())
	u.flows[src] = f
	cnt.conns.Add(1)
	cnt.active.Add(1)
	u.p.wg.Add(1)
	go u.replies(f)
	return f
}

// replies relays a flow's datagrams from its backend to its client until
// the flow has been idle for UDPIdleTimeout or is closed. The buffer is
// taken from a pool only while a datagram is at hand, so idle flows hold
// no 64 KiB buffer each.
func (u *udpService) replies(f *flow) {
	defer u.p.wg.Done()
	defer func() {
		u.mu.Lock()
		if u.flows[f.client] == f {
			delete(u.flows, f.client)
		}
		u.mu.Unlock()
		f.conn.Close()
		f.cnt.active.Add(^uint64(0))
	}()
	idle := u.p.o.UDPIdleTimeout
	rc, err := f.conn.SyscallConn()
	if err != nil {
		return
	}
	_ = f.conn.SetReadDeadline(time.Unix(0, f.last.Load()).Add(idle))
	for {
		var n int
		var rerr error
		bp := (*[]byte)(nil)
		err := rc.Read(func(fd uintptr) bool {
			bp = u.pool.Get().(*[]byte)
			n, rerr = unix.Read(int(fd), *bp)
			if errors.Is(rerr, unix.EAGAIN) {
				u.pool.Put(bp)
				bp = nil
				return false // wait for the socket to be readable
			}
			return true
		})
		if err == nil && rerr == nil {
			f.last.Store(time.Now().UnixNano())
			f.cnt.fromBackend.Add(uint64(n))
			if _, werr := u.pc.WriteToUDPAddrPort((*bp)[:n], f.client); werr != nil {
				f.cnt.fromBackend.Add(-uint64(n))
			}
		}
		if bp != nil {
			u.pool.Put(bp)
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			last := time.Unix(0, f.last.Load())
			if time.Since(last) >= idle {
				return
			}
			_ = f.conn.SetReadDeadline(last.Add(idle))
		case err != nil:
			return // closed
		case errors.Is(rerr, syscall.ECONNREFUSED):
			f.cnt.failures.Add(1) // ICMP port unreachable from the backend
		case rerr != nil:
			return
		}
	}
}
