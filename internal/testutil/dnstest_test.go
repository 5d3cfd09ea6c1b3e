package testutil

import (
	"net"
	"testing"
	"time"

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

func TestAnswersA(t *testing.T) {
	addr := ServeDNS(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		switch r.Question[0].Name {
		case "two.example.":
			for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP(ip)})
			}
		case "refused.example.":
			m.Rcode = dns.RcodeRefused
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP("10.0.0.1")})
		}
		_ = w.WriteMsg(m)
	}))
	c := &dns.Client{Timeout: 2 * time.Second}
	for _, tc := range []struct {
		addr, name, ip string
		want           bool
	}{
		{addr, "two.example", "10.0.0.2", true},
		{addr, "two.example", "10.0.0.3", false},
		{addr, "refused.example", "10.0.0.1", false},
		{addr, "none.example", "10.0.0.1", false},
	} {
		if got := AnswersA(c, tc.addr, tc.name, tc.ip); got != tc.want {
			t.Errorf("AnswersA(%s, %s) = %v, want %v", tc.name, tc.ip, got, tc.want)
		}
	}
}
