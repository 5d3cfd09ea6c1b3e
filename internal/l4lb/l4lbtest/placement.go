package l4lbtest

import (
	"net"
	"net/netip"
	"testing"
)

// Backends places the scenarios' backends somewhere other than the
// client's loopback: in network namespaces of their own behind veth
// links, say, so that traffic a plane sends on really crosses a link.
type Backends struct {
	// ListenTCP and ListenUDP open the socket (port 0) of the i-th
	// backend the suite starts (i counts up across scenarios), an IPv6
	// one when v6.
	ListenTCP func(i int, v6 bool) (*net.TCPListener, error)
	ListenUDP func(i int, v6 bool) (*net.UDPConn, error)
	// Source returns the i-th client address the maglev scenario binds
	// before connecting: it must reach the backends and be routed back.
	// Nil: 127.0.0.10+i.
	Source func(i int) netip.Addr
}

func (h *harness) tcpBackend(t *testing.T, v6 bool, name string) *TCPBackend {
	t.Helper()
	if h.env.Backends == nil {
		return StartTCPBackend(t, loopback(v6), name)
	}
	ln, err := h.env.Backends.ListenTCP(int(h.backends.Add(1))-1, v6)
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	return ServeTCPBackend(t, ln, name)
}

func (h *harness) udpBackend(t *testing.T, v6 bool, name string) *UDPBackend {
	t.Helper()
	if h.env.Backends == nil {
		return StartUDPBackend(t, loopback(v6), name)
	}
	pc, err := h.env.Backends.ListenUDP(int(h.backends.Add(1))-1, v6)
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	return ServeUDPBackend(t, pc, name)
}

func loopback(v6 bool) netip.Addr {
	if v6 {
		return lo6
	}
	return lo4
}

// source is the i-th client address of the maglev scenario.
func (h *harness) source(i int) netip.Addr {
	if h.env.Backends != nil && h.env.Backends.Source != nil {
		return h.env.Backends.Source(i)
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)})
}
