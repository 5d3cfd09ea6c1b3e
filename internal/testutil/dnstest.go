package testutil

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// ServeDNS serves h on one loopback port over both UDP and TCP (a real
// DNS peer for a forwarder or resolver under test) and returns its
// "127.0.0.1:port". It returns once both servers are listening; they are
// shut down at cleanup.
func ServeDNS(t testing.TB, h dns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h, MaxTCPQueries: -1}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return pc.LocalAddr().String()
}
