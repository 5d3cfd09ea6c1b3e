package l4lbtest

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// TCPBackend is an echo server that names itself first.
type TCPBackend struct {
	Name string
	Addr netip.AddrPort
	ln   net.Listener
	mu   sync.Mutex
	conn map[net.Conn]struct{}
	wg   sync.WaitGroup
}

// StartTCPBackend listens on ip (port 0) until the test ends.
func StartTCPBackend(t testing.TB, ip netip.Addr, name string) *TCPBackend {
	t.Helper()
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	return ServeTCPBackend(t, ln, name)
}

// ServeTCPBackend serves a TCP backend on ln until the test ends.
func ServeTCPBackend(t testing.TB, ln *net.TCPListener, name string) *TCPBackend {
	b := &TCPBackend{Name: name, Addr: ln.Addr().(*net.TCPAddr).AddrPort(), ln: ln, conn: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.Kill)
	return b
}

func (b *TCPBackend) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.conn == nil {
			b.mu.Unlock()
			c.Close()
			return
		}
		b.conn[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.echo(c)
	}
}

func (b *TCPBackend) echo(c net.Conn) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.conn, c)
		b.mu.Unlock()
		c.Close()
	}()
	if _, err := c.Write([]byte(b.Name + "\n")); err != nil {
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if _, err := c.Write(line); err != nil {
			return
		}
	}
}

// Kill stops the backend as a crashed task would: the listener closes
// and every open connection is reset.
func (b *TCPBackend) Kill() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conn {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
	b.conn = nil
	b.mu.Unlock()
	b.wg.Wait()
}

// UDPBackend answers each datagram with "<name>:<datagram>".
type UDPBackend struct {
	Name string
	Addr netip.AddrPort
	pc   *net.UDPConn
	done chan struct{}
}

// StartUDPBackend listens on ip (port 0) until the test ends.
func StartUDPBackend(t testing.TB, ip netip.Addr, name string) *UDPBackend {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	return ServeUDPBackend(t, pc, name)
}

// ServeUDPBackend serves a UDP backend on pc until the test ends.
func ServeUDPBackend(t testing.TB, pc *net.UDPConn, name string) *UDPBackend {
	b := &UDPBackend{Name: name, Addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), pc: pc, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		buf := make([]byte, 2048)
		for {
			n, src, err := pc.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			_, _ = pc.WriteToUDPAddrPort(append([]byte(name+":"), buf[:n]...), src)
		}
	}()
	t.Cleanup(b.Stop)
	return b
}

// Stop closes the backend.
func (b *UDPBackend) Stop() {
	b.pc.Close()
	<-b.done
}
