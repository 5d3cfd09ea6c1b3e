package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// fixtureSet loads a generated zone file of the fixtures (fake.json fed
// through the upstream generator) as a RecordSet.
func fixtureSet(t testing.TB, file string) *records.RecordSet {
	t.Helper()
	dir := testutil.Fixtures(t, "mesos")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var z struct{ As, AAAAs, SRVs map[string][]string }
	if err := json.Unmarshal(b, &z); err != nil {
		t.Fatal(err)
	}
	return &records.RecordSet{Domain: "mesos", A: z.As, AAAA: z.AAAAs, SRV: z.SRVs, Version: 1}
}

// fakeConfig is the resolver-test settings of fixtures README §B.
func fakeConfig() Config {
	return Config{
		Domain: "mesos", TTL: 60, SOAMname: "ns1.mesos", SOARname: "root.ns1.mesos",
		SOARefresh: 60, SOARetry: 600, SOAExpire: 86400, SRVWeight: 1,
		RecurseOn: false, SetTruncateBit: true,
	}
}

func newResolver(t testing.TB, cfg Config, rs *records.RecordSet) *Resolver {
	t.Helper()
	r, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if rs != nil {
		r.Update(rs, 1700000000)
	}
	return r
}

// ask sends a packed query through the fast path (when it answers) and
// always through the slow path, checks both agree, and returns the slow
// reply and whether the fast path answered.
func ask(t testing.TB, r *Resolver, q *dns.Msg, nw dnsserver.Network) (*dns.Msg, bool) {
	t.Helper()
	raw, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return askRaw(t, r, raw, nw)
}

func askRaw(t testing.TB, r *Resolver, raw []byte, nw dnsserver.Network) (*dns.Msg, bool) {
	t.Helper()
	req := &dnsserver.Request{Raw: raw, Network: nw}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		req.Err = err
	} else {
		req.Msg = m
	}
	slow := r.ServeDNS(context.Background(), req)
	if slow != nil {
		b, err := slow.Pack()
		if err != nil {
			t.Fatalf("slow reply does not pack: %v\n%v", err, slow)
		}
		limit := 65535
		if nw == dnsserver.UDP {
			limit = 512
			if o := m.IsEdns0(); req.Msg != nil && o != nil {
				limit = max(int(o.UDPSize()), 512)
			}
		}
		if req.Msg != nil && req.Msg.Question != nil && len(b) > limit && !strings.HasSuffix(req.Msg.Question[0].Name, "example.") {
			t.Fatalf("slow reply is %d bytes, over the %d limit", len(b), limit)
		}
	}
	out := make([]byte, 65535)
	n, ok := r.AnswerFast(raw, out, nw)
	if !ok {
		return slow, false
	}
	fast := new(dns.Msg)
	if err := fast.Unpack(out[:n]); err != nil {
		t.Fatalf("fast reply does not unpack: %v", err)
	}
	if slow == nil {
		t.Fatalf("fast path answered what the slow path drops")
	}
	// Without the TC bit a truncated reply cannot be told apart: compare
	// such UDP replies as possibly truncated.
	partial := fast.Truncated || slow.Truncated || (!r.cfg.SetTruncateBit && nw == dnsserver.UDP)
	if a, b := canon(fast, partial), canon(slow, partial); a != b {
		t.Fatalf("fast and slow paths differ:\nfast:\n%s\nslow:\n%s", a, b)
	}
	if fast.Truncated && nw == dnsserver.UDP {
		limit := 512
		if o := req.Msg.IsEdns0(); o != nil {
			limit = max(int(o.UDPSize()), 512)
		}
		if n >= limit {
			t.Fatalf("truncated fast reply is %d bytes, limit %d", n, limit)
		}
	}
	return slow, true
}

// canon renders a reply with sections as sorted sets (answers are
// shuffled), names compared case-insensitively except the question.
func canon(m *dns.Msg, partial bool) string {
	sec := func(rrs []dns.RR) string {
		if partial && len(rrs) > 0 && rrs[0].Header().Rrtype != dns.TypeOPT {
			// Truncated replies keep a random part of the shuffled
			// answers: compare how many, and that they are records of
			// the question's type.
			for _, rr := range rrs {
				if rr.Header().Rrtype != m.Question[0].Qtype {
					return "wrong type: " + rr.String()
				}
			}
			if m.Question[0].Qtype == dns.TypeSRV {
				return "some SRV records" // the count depends on which targets were kept
			}
			return fmt.Sprintf("%d records", len(rrs))
		}
		var s []string
		for _, rr := range rrs {
			s = append(s, strings.ToLower(rr.String()))
		}
		sort.Strings(s)
		return strings.Join(s, "\n")
	}
	h := m.MsgHdr
	return fmt.Sprintf("id=%d qr=%v op=%d aa=%v tc=%v rd=%v ra=%v cd=%v rcode=%d\nQ:%v\nAN:\n%s\nNS:\n%s\nAR:\n%s",
		h.Id, h.Response, h.Opcode, h.Authoritative, h.Truncated, h.RecursionDesired, h.RecursionAvailable, h.CheckingDisabled, h.Rcode,
		m.Question, sec(m.Answer), sec(m.Ns), sec(m.Extra))
}

func rrSet(rrs []dns.RR) []string {
	var s []string
	for _, rr := range rrs {
		s = append(s, rr.String())
	}
	sort.Strings(s)
	return s
}

func mustRRs(t *testing.T, lines ...string) []string {
	t.Helper()
	var s []string
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		s = append(s, rr.String())
	}
	sort.Strings(s)
	return s
}

func q(name string, qt uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	return m
}

const soaTail = "60 IN SOA ns1.mesos. root.ns1.mesos. 1700000000 60 600 86400 60"

// generatedSet runs fake.json through the model and the record generator
// with the resolver-test settings of fixtures README §B.
func generatedSet(t testing.TB) *records.RecordSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse state: skipped %v, err %v", skipped, err)
	}
	snap := modeltest.FromState(st, modeltest.Options{Version: 1,
		Resolved: map[string][]netip.Addr{"localhost": {netip.MustParseAddr("127.0.0.1")}}})
	rs, _ := records.Generate(snap, records.Config{
		Domain: "mesos", EnforceRFC952: true, IPSources: []string{"netinfo", "docker", "mesos", "host"},
		SOAMname: "ns1.mesos.", Listener: "127.0.0.1", Masters: []string{"144.76.157.37:5050"},
	})
	return rs
}

// TestFixtureCases is every row of fixtures README §B, against the zone
// file the upstream generator made and against our own generator's output
// for fake.json.
func TestFixtureCases(t *testing.T) {
	t.Run("zone-file", func(t *testing.T) { fixtureCases(t, fixtureSet(t, "fake.zone.resolver-test-settings.json")) })
	t.Run("generated", func(t *testing.T) { fixtureCases(t, generatedSet(t)) })
}

func fixtureCases(t *testing.T, rs *records.RecordSet) {
	stub := Func(func(_ context.Context, req *dns.Msg, _ string) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer,
			&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{1, 1, 1, 1}},
			&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{2, 2, 2, 2}})
		return m, nil
	})
	cfg := fakeConfig()
	cfg.Default = stub
	r := newResolver(t, cfg, rs)
	cases := []struct {
		name     string
		qt       uint16
		rcode    int
		aa       bool
		answer   []string
		ns       []string
		extra    []string
		wantFast bool
	}{
		{"chronos.marathon.mesos.", dns.TypeA, 0, true, []string{"chronos.marathon.mesos. 60 IN A 1.2.3.11"}, nil, nil, true},
		{"cHrOnOs.MARATHON.mesoS.", dns.TypeA, 0, true, []string{"chronos.marathon.mesos. 60 IN A 1.2.3.11"}, nil, nil, false},
		{"toy-store.ipv6-framework.mesos.", dns.TypeAAAA, 0, true, []string{"toy-store.ipv6-framework.mesos. 60 IN AAAA fd01:b::1:8000:2"}, nil, nil, true},
		{"_liquor-store._tcp.marathon.mesos.", dns.TypeSRV, 0, true, []string{
			"_liquor-store._tcp.marathon.mesos. 60 IN SRV 0 1 443 liquor-store-4dfjd-0.marathon.mesos.",
			"_liquor-store._tcp.marathon.mesos. 60 IN SRV 0 1 80 liquor-store-4dfjd-0.marathon.mesos.",
			"_liquor-store._tcp.marathon.mesos. 60 IN SRV 0 1 443 liquor-store-zasmd-1.marathon.mesos.",
			"_liquor-store._tcp.marathon.mesos. 60 IN SRV 0 1 80 liquor-store-zasmd-1.marathon.mesos.",
		}, nil, []string{
			"liquor-store-4dfjd-0.marathon.mesos. 60 IN A 10.3.0.1",
			"liquor-store-zasmd-1.marathon.mesos. 60 IN A 10.3.0.2",
		}, true},
		{"_car-store._udp.marathon.mesos.", dns.TypeSRV, 0, true, []string{
			"_car-store._udp.marathon.mesos. 60 IN SRV 0 1 31365 car-store-zinaz-0.marathon.slave.mesos.",
			"_car-store._udp.marathon.mesos. 60 IN SRV 0 1 31364 car-store-zinaz-0.marathon.slave.mesos.",
		}, nil, []string{"car-store-zinaz-0.marathon.slave.mesos. 60 IN A 1.2.3.11"}, true},
		{"_car-store._udp.marathon.mesos.", dns.TypeA, 0, true, nil, []string{"_car-store._udp.marathon.mesos. " + soaTail}, nil, true},
		{"non-existing.mesos.", dns.TypeSOA, 0, true, nil, []string{"non-existing.mesos. " + soaTail}, nil, true},
		{"non-existing.mesos.", dns.TypeNS, 0, true, nil, []string{"non-existing.mesos. 60 IN NS ns1.mesos."}, nil, true},
		{"missing.mesos.", dns.TypeA, dns.RcodeNameError, true, nil, []string{"missing.mesos. " + soaTail}, nil, true},
		{"chronos.marathon.mesos.", dns.TypeAAAA, 0, true, nil, []string{"chronos.marathon.mesos. " + soaTail}, nil, true},
		{"missing.mesos.", dns.TypeAAAA, dns.RcodeNameError, true, nil, []string{"missing.mesos. " + soaTail}, nil, true},
		{"google.com.", dns.TypeA, 0, false, []string{"google.com. 60 IN A 1.1.1.1", "google.com. 60 IN A 2.2.2.2"}, nil, nil, false},
	}
	for _, c := range cases {
		for _, nw := range []dnsserver.Network{dnsserver.UDP, dnsserver.TCP} {
			t.Run(c.name+"/"+dns.TypeToString[c.qt]+"/"+nw.String(), func(t *testing.T) {
				query := q(c.name, c.qt)
				query.Id = 4242
				m, fast := ask(t, r, query, nw)
				if fast != c.wantFast {
					t.Errorf("fast path answered = %v, want %v", fast, c.wantFast)
				}
				if m.Rcode != c.rcode || m.Authoritative != c.aa || !m.Response || m.RecursionAvailable || m.Id != 4242 {
					t.Errorf("header: rcode %d aa %v qr %v ra %v id %d; want rcode %d aa %v", m.Rcode, m.Authoritative, m.Response, m.RecursionAvailable, m.Id, c.rcode, c.aa)
				}
				if m.Question[0].Name != c.name {
					t.Errorf("question echoed as %q", m.Question[0].Name)
				}
				if got, want := rrSet(m.Answer), mustRRs(t, c.answer...); !slices.Equal(got, want) {
					t.Errorf("answer:\n got %q\nwant %q", got, want)
				}
				if got, want := rrSet(m.Ns), mustRRs(t, c.ns...); !slices.Equal(got, want) {
					t.Errorf("authority:\n got %q\nwant %q", got, want)
				}
				if got, want := rrSet(m.Extra), mustRRs(t, c.extra...); !slices.Equal(got, want) {
					t.Errorf("additional:\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

// Func adapts a function to Forwarder (tests only).
type Func func(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)

func (f Func) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	return f(ctx, req, network)
}
