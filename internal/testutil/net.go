package testutil

import (
	"net"
	"net/http"
	"net/netip"
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
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP in 50 tries")
	return ""
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
