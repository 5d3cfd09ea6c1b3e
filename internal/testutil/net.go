package testutil

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreeAddr returns a loopback "127.0.0.1:port" whose port is free for both
// TCP and UDP right now, for a process under test that cannot be given
// port 0 (a DNS server listens on both with one flag). Another process may
// still take it before the test does; ports from the kernel's ephemeral
// range make that rare.
func FreeAddr(t testing.TB) string {
	t.Helper()
	// The port is chosen below the kernel's ephemeral range: a port the
	// kernel handed out (":0") is free now, but between this check and the
	// test's own bind the kernel may give it to any outgoing connection of
	// the machine, and the bind then fails with "address already in use".
	// Ports below the range are only ever taken by explicit binds.
	lo := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(lo-10000)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP in 200 tries")
	return ""
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default 32768 where it cannot be read), kept above 11000 so that there is
// a range below it to choose from.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				return n
			}
		}
	}
	return 32768
}

// ListenBoth listens on one loopback port over UDP and TCP, both bound
// at once (not checked and bound later, which another socket can race):
// the port comes from FreeAddr, and another is tried when one is taken
// between the check and the bind. The caller closes both.
func ListenBoth(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var err error
	for range 20 {
		addr := FreeAddr(t)
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			continue
		}
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err != nil {
			pc.Close()
			continue
		}
		return pc, l
	}
	t.Fatalf("no loopback port for both UDP and TCP: %v", err)
	return nil, nil
}

// FreePort is FreeAddr's port, for config files that take host and port
// apart.
func FreePort(t testing.TB) int {
	t.Helper()
	return int(netip.MustParseAddrPort(FreeAddr(t)).Port())
}

// HTTPOK reports whether GET url answers 200 within 5 s: the readiness
// probe of a process under test.
func HTTPOK(url string) bool {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
