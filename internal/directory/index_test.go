package directory

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzReply: any packet that unpacks gets a reply that packs, whatever the
// question (aliases, CNAME chains, unknown zones).
func FuzzReply(f *testing.F) {
	ix, _ := workedExample(f)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"myapp-mygroup.marathon.autoip.dcos.thisdcos.directory.", dns.TypeA},
		{"mygroupmyapp.marathon.dclb.thisdcos.global.", dns.TypeANY},
		{"registry.component.thisdcos.directory.", dns.TypeA},
		{"x.l4lb.ybndrfg8ejkmcpqxot1uwisza345h769.dcos.directory.", dns.TypeAAAA},
		{".", dns.TypeSOA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return
		}
		rep := ix.Reply(req)
		if _, err := rep.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v\n%v", err, rep)
		}
	})
}

func TestCanonical(t *testing.T) {
	ix := NewIndex(Options{ClusterID: "abc"})
	tests := []struct{ in, want, from string }{
		{"a.dclb.thisdcos.directory", "a.l4lb.thisdcos.directory", "dclb.thisdcos.directory"},
		{"A.DCLB.thisdcos.directory.", "a.l4lb.thisdcos.directory", "dclb.thisdcos.directory"},
		{"a.dclb.thisdcos.global", "a.l4lb.thisdcos.directory", "dclb.thisdcos.global"},
		{"a.b.mesos.thisdcos.global", "a.b.mesos.thisdcos.directory", "mesos.thisdcos.global"},
		{"a.l4lb.abc.dcos.directory", "a.l4lb.thisdcos.directory", "l4lb.abc.dcos.directory"},
		{"a.dclb.abc.dcos.directory", "a.l4lb.thisdcos.directory", "dclb.abc.dcos.directory"},
		{"a.l4lb.xyz.dcos.directory", "a.l4lb.xyz.dcos.directory", ""},
		{"thisdcos.global", "thisdcos.global", ""},
		{"a.mydclb.thisdcos.directory", "a.mydclb.thisdcos.directory", ""},
		{"web.marathon.mesos", "web.marathon.mesos", ""},
	}
	for _, tc := range tests {
		got, a := ix.Canonical(tc.in)
		if got != tc.want || a.From != tc.from {
			t.Errorf("Canonical(%q) = %q, %+v; want %q from %q", tc.in, got, a, tc.want, tc.from)
		}
	}
}
