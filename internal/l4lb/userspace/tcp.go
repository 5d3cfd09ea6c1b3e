package userspace

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// copyChunk is how many bytes a relay moves per io.CopyN before it adds
// them to the counters. io.CopyN of a *net.TCPConn into a *net.TCPConn
// goes through TCPConn.ReadFrom with an io.LimitedReader, which Linux
// serves with splice(2): the payload never enters user space.
const copyChunk = 1 << 20

// keepAlive probes idle connections on both sides of the proxy, so a
// vanished client or backend does not hold its peer's connection forever
// (a kernel NAT passes the endpoints' own probes through; a proxy must
// send its own). Only SO_KEEPALIVE and the idle time are set, two
// syscalls per socket instead of Go's default four: probes then go at
// the system's interval and count (75 s, 9 on Linux).
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: -1, Count: -1}

func (p *Plane) startTCP(s *service) error {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	l, err := lc.Listen(p.ctx, "tcp", s.listen.String())
	if err != nil {
		return err
	}
	ln := l.(*net.TCPListener)
	s.stop = func() { ln.Close() }
	p.wg.Add(1)
	go p.acceptTCP(s, ln)
	return nil
}

func (p *Plane) acceptTCP(s *service, ln *net.TCPListener) {
	defer p.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http
			// does, and keep the listener.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept", "vip", s.key.String(), "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		p.wg.Add(1)
		go p.handleTCP(s, c)
	}
}

// reset closes a connection with an RST (SO_LINGER 0): a refused VIP
// connection looks like a port nobody listens on.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

func (p *Plane) handleTCP(s *service, c *net.TCPConn) {
	defer p.wg.Done()
	set := s.cur.Load()
	src := addrOf(c.RemoteAddr())
	b, ok := set.picker.Pick(src)
	if !ok {
		s.refused.Add(1)
		reset(c)
		return
	}
	var tried []netip.AddrPort
	var bc *net.TCPConn
	for {
		conn, err := p.dialer.DialContext(p.ctx, "tcp", b.Addr.String())
		if err == nil {
			bc = conn.(*net.TCPConn)
			break
		}
		set.counter(b.Addr).failures.Add(1)
		tried = append(tried, b.Addr)
		if len(tried) >= p.o.DialAttempts {
			reset(c)
			return
		}
		if b, ok = set.picker.PickAvoiding(src, func(a netip.AddrPort) bool { return slices.Contains(tried, a) }); !ok {
			reset(c)
			return
		}
	}
	if !p.track(c, bc) {
		reset(c)
		reset(bc)
		return
	}
	defer p.untrack(c, bc)
	cnt := set.counter(b.Addr)
	cnt.conns.Add(1)
	cnt.active.Add(1)
	defer cnt.active.Add(^uint64(0))
	p.relay(c, bc, cnt)
}

// relay copies both ways until both sides have finished sending. A
// finished direction is passed on as a half close (FIN); an error in
// either direction (a reset, a write to a closed peer) resets both
// connections, as the peer's RST would have reached the other side
// through a kernel NAT.
func (p *Plane) relay(client, backend *net.TCPConn, cnt *counters) {
	var once sync.Once
	abort := func() {
		once.Do(func() {
			reset(client)
			reset(backend)
		})
	}
	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		if err := copyCounted(backend, client, &cnt.toBackend); err != nil {
			abort()
			return
		}
		_ = backend.CloseWrite()
	}()
	if err := copyCounted(client, backend, &cnt.fromBackend); err != nil {
		abort()
	} else {
		_ = client.CloseWrite()
	}
	<-done
	client.Close()
	backend.Close()
}

type adder interface{ Add(uint64) uint64 }

func copyCounted(dst, src *net.TCPConn, n adder) error {
	for {
		w, err := io.CopyN(dst, src, copyChunk)
		n.Add(uint64(w))
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
