package testutil

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

func TestServeDNSBothNetworks(t *testing.T) {
	addr := ServeDNS(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		// Answer with the network the query came in on, so the test sees
		// that both listeners share the port.
		ip := "127.0.0.1"
		if w.LocalAddr().Network() == "tcp" {
			ip = "127.0.0.2"
		}
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP(ip)})
		_ = w.WriteMsg(m)
	}))
	for network, want := range map[string]string{"udp": "127.0.0.1", "tcp": "127.0.0.2"} {
		q := new(dns.Msg)
		q.SetQuestion("x.example.", dns.TypeA)
		r, _, err := (&dns.Client{Net: network}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != want {
			t.Fatalf("%s: answer %v, want %s", network, r.Answer, want)
		}
	}
}
