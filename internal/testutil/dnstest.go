package testutil

import (
	"testing"

	"github.com/miekg/dns"
)

// ServeDNS serves h on one loopback port over both UDP and TCP (a real
// DNS peer for a forwarder or resolver under test) and returns its
// "127.0.0.1:port". It returns once both servers are listening; they are
// shut down at cleanup.
func ServeDNS(t testing.TB, h dns.Handler) string {
	t.Helper()
	pc, l := ListenBoth(t)
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h, MaxTCPQueries: -1}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// AnswersA reports whether the DNS server at addr answers an A query for
// name with NOERROR and, among its answers, ip. Any error is false: tests
// poll it until the server has caught up.
func AnswersA(c *dns.Client, addr, name, ip string) bool {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(q, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == ip {
			return true
		}
	}
	return false
}
