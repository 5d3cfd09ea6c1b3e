package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
)

// bigSet has one name with 60 tasks (spec §6.5's measurement): 60 A
// values and an SRV name with 2 ports on each of 60 targets.
func bigSet() *records.RecordSet {
	rs := &records.RecordSet{Domain: "mesos", A: map[string][]string{}, AAAA: map[string][]string{}, SRV: map[string][]string{}}
	for i := 0; i < 60; i++ {
		ip := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		rs.A["app.marathon.mesos."] = append(rs.A["app.marathon.mesos."], ip)
		target := fmt.Sprintf("app-%05d-%d.marathon.slave.mesos.", i, i%3)
		rs.A[target] = []string{ip}
		rs.SRV["_app._tcp.marathon.mesos."] = append(rs.SRV["_app._tcp.marathon.mesos."], target+":31000", target+":31001")
	}
	return rs
}

func TestQuirks(t *testing.T) {
	r := newResolver(t, fakeConfig(), fixtureSet(t, "fake.zone.resolver-test-settings.json"))
	t.Run("SRV for a missing name is NOERROR with no SOA", func(t *testing.T) {
		m, fast := ask(t, r, q("_missing._tcp.marathon.mesos.", dns.TypeSRV), dnsserver.UDP)
		if !fast || m.Rcode != 0 || len(m.Answer)+len(m.Ns)+len(m.Extra) != 0 {
			t.Fatalf("fast %v: %v", fast, m)
		}
	})
	t.Run("ANY for a missing name: NXDOMAIN, authority SOA NS SOA", func(t *testing.T) {
		m, _ := ask(t, r, q("missing.mesos.", dns.TypeANY), dnsserver.UDP)
		if m.Rcode != dns.RcodeNameError || len(m.Answer) != 0 || len(m.Ns) != 3 {
			t.Fatalf("%v", m)
		}
		types := []uint16{m.Ns[0].Header().Rrtype, m.Ns[1].Header().Rrtype, m.Ns[2].Header().Rrtype}
		if !slices.Equal(types, []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeSOA}) {
			t.Fatalf("authority types %v", types)
		}
	})
	t.Run("ANY for a name with records: SRV+A+AAAA, authority SOA NS", func(t *testing.T) {
		m, _ := ask(t, r, q("toy-store.ipv6-framework.mesos.", dns.TypeANY), dnsserver.TCP)
		if m.Rcode != 0 || len(m.Answer) != 3 || len(m.Ns) != 2 {
			t.Fatalf("%v", m)
		}
	})
	t.Run("unknown type on an existing name is NODATA with SOA", func(t *testing.T) {
		m, fast := ask(t, r, q("chronos.marathon.mesos.", dns.TypeTXT), dnsserver.UDP)
		if !fast || m.Rcode != 0 || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("%v", m)
		}
	})
	t.Run("unknown type on a missing name is NXDOMAIN", func(t *testing.T) {
		m, _ := ask(t, r, q("nope.mesos.", dns.TypeMX), dnsserver.UDP)
		if m.Rcode != dns.RcodeNameError {
			t.Fatalf("%v", m)
		}
	})
	t.Run("apex A is NXDOMAIN, apex SOA is NOERROR with SOA in authority", func(t *testing.T) {
		m, _ := ask(t, r, q("mesos.", dns.TypeA), dnsserver.UDP)
		if m.Rcode != dns.RcodeNameError {
			t.Fatalf("%v", m)
		}
		m, _ = ask(t, r, q("mesos.", dns.TypeSOA), dnsserver.UDP)
		if m.Rcode != 0 || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Name != "mesos." {
			t.Fatalf("%v", m)
		}
	})
	t.Run("empty non-terminal is NXDOMAIN", func(t *testing.T) {
		m, _ := ask(t, r, q("ipv6-framework.slave.mesos.", dns.TypeA), dnsserver.UDP)
		if m.Rcode != dns.RcodeNameError {
			t.Fatalf("%v", m)
		}
	})
	t.Run(".* is removed from the lookup key, question echoed", func(t *testing.T) {
		m, fast := ask(t, r, q("chronos.*.marathon.mesos.", dns.TypeA), dnsserver.UDP)
		if fast || m.Rcode != 0 || len(m.Answer) != 1 || m.Answer[0].Header().Name != "chronos.marathon.mesos." || m.Question[0].Name != "chronos.*.marathon.mesos." {
			t.Fatalf("%v", m)
		}
	})
	t.Run("SRV owner keeps the question's case", func(t *testing.T) {
		m, fast := ask(t, r, q("_LEADER._tcp.MESOS.", dns.TypeSRV), dnsserver.UDP)
		if !fast || len(m.Answer) != 1 || m.Answer[0].Header().Name != "_LEADER._tcp.MESOS." {
			t.Fatalf("%v", m)
		}
	})
	t.Run("RD and CD copied, RA follows recurseon", func(t *testing.T) {
		cfg := fakeConfig()
		cfg.RecurseOn = true
		r2 := newResolver(t, cfg, fixtureSet(t, "fake.zone.resolver-test-settings.json"))
		query := q("chronos.marathon.mesos.", dns.TypeA)
		query.RecursionDesired = true
		query.CheckingDisabled = true
		m, fast := ask(t, r2, query, dnsserver.UDP)
		if !fast || !m.RecursionDesired || !m.CheckingDisabled || !m.RecursionAvailable {
			t.Fatalf("%v", m)
		}
		query.RecursionDesired, query.CheckingDisabled = false, false
		m, _ = ask(t, r2, query, dnsserver.UDP)
		if m.RecursionDesired || m.CheckingDisabled {
			t.Fatalf("%v", m)
		}
	})
	t.Run("non-IP A values are never served", func(t *testing.T) {
		rs := &records.RecordSet{Domain: "mesos", A: map[string][]string{"x.marathon.slave.mesos.": {"some-host", "1.2.3.4"}}}
		r3 := newResolver(t, fakeConfig(), rs)
		m, _ := ask(t, r3, q("x.marathon.slave.mesos.", dns.TypeA), dnsserver.UDP)
		if len(m.Answer) != 1 {
			t.Fatalf("%v", m)
		}
	})
}

func TestTruncation(t *testing.T) {
	r := newResolver(t, fakeConfig(), bigSet())
	t.Run("UDP A: 29 answers, 500 bytes, TC", func(t *testing.T) {
		m, fast := ask(t, r, q("app.marathon.mesos.", dns.TypeA), dnsserver.UDP)
		b, _ := m.Pack()
		if !fast || !m.Truncated || len(m.Answer) != 29 || len(b) != 500 {
			t.Fatalf("fast %v tc %v answers %d bytes %d", fast, m.Truncated, len(m.Answer), len(b))
		}
	})
	t.Run("TCP A: 60 answers, 996 bytes", func(t *testing.T) {
		m, fast := ask(t, r, q("app.marathon.mesos.", dns.TypeA), dnsserver.TCP)
		b, _ := m.Pack()
		if !fast || m.Truncated || len(m.Answer) != 60 || len(b) != 996 {
			t.Fatalf("fast %v tc %v answers %d bytes %d", fast, m.Truncated, len(m.Answer), len(b))
		}
	})
	t.Run("UDP SRV: a few answers, no additional, TC", func(t *testing.T) {
		m, _ := ask(t, r, q("_app._tcp.marathon.mesos.", dns.TypeSRV), dnsserver.UDP)
		b, _ := m.Pack()
		if !m.Truncated || len(m.Answer) == 0 || len(m.Answer) >= 120 || len(m.Extra) != 0 || len(b) >= 512 {
			t.Fatalf("tc %v answers %d extra %d bytes %d", m.Truncated, len(m.Answer), len(m.Extra), len(b))
		}
	})
	t.Run("TCP SRV: 120 answers and 60 additional", func(t *testing.T) {
		m, _ := ask(t, r, q("_app._tcp.marathon.mesos.", dns.TypeSRV), dnsserver.TCP)
		if m.Truncated || len(m.Answer) != 120 || len(m.Extra) != 60 {
			t.Fatalf("tc %v answers %d extra %d", m.Truncated, len(m.Answer), len(m.Extra))
		}
	})
	t.Run("EDNS0 4096 over UDP: all 60 answers and an OPT", func(t *testing.T) {
		query := q("app.marathon.mesos.", dns.TypeA)
		query.SetEdns0(4096, true)
		m, fast := ask(t, r, query, dnsserver.UDP)
		opt := m.IsEdns0()
		if !fast || m.Truncated || len(m.Answer) != 60 || opt == nil || !opt.Do() {
			t.Fatalf("fast %v tc %v answers %d opt %v", fast, m.Truncated, len(m.Answer), opt)
		}
	})
	t.Run("EDNS0 1232 over UDP: truncated below 1232, OPT kept", func(t *testing.T) {
		query := q("_app._tcp.marathon.mesos.", dns.TypeSRV)
		query.SetEdns0(1232, false)
		m, _ := ask(t, r, query, dnsserver.UDP)
		b, _ := m.Pack()
		if !m.Truncated || len(b) >= 1232 || len(b) < 1000 || m.IsEdns0() == nil {
			t.Fatalf("tc %v bytes %d opt %v", m.Truncated, len(b), m.IsEdns0())
		}
	})
	t.Run("EDNS0 below 512 is treated as 512", func(t *testing.T) {
		query := q("app.marathon.mesos.", dns.TypeA)
		query.SetEdns0(100, false)
		m, _ := ask(t, r, query, dnsserver.UDP)
		b, _ := m.Pack()
		if !m.Truncated || len(b) >= 512 || len(b) < 450 {
			t.Fatalf("tc %v bytes %d", m.Truncated, len(b))
		}
	})
	t.Run("SetTruncateBit=false clears TC", func(t *testing.T) {
		cfg := fakeConfig()
		cfg.SetTruncateBit = false
		r2 := newResolver(t, cfg, bigSet())
		m, _ := ask(t, r2, q("app.marathon.mesos.", dns.TypeA), dnsserver.UDP)
		if m.Truncated || len(m.Answer) != 29 {
			t.Fatalf("tc %v answers %d", m.Truncated, len(m.Answer))
		}
	})
}

func TestMalformed(t *testing.T) {
	r := newResolver(t, fakeConfig(), fixtureSet(t, "fake.zone.resolver-test-settings.json"))
	good, _ := q("chronos.marathon.mesos.", dns.TypeA).Pack()
	t.Run("garbage after a header is FORMERR", func(t *testing.T) {
		raw := append(append([]byte(nil), good[:12]...), 0xff, 0xff, 0xff)
		m, fast := askRaw(t, r, raw, dnsserver.UDP)
		if fast || m == nil || m.Rcode != dns.RcodeFormatError || m.Id != r16(good) {
			t.Fatalf("%v", m)
		}
	})
	t.Run("QR=1 is dropped", func(t *testing.T) {
		raw := append([]byte(nil), good...)
		raw[2] |= 0x80
		if m, _ := askRaw(t, r, raw, dnsserver.UDP); m != nil {
			t.Fatalf("%v", m)
		}
	})
	t.Run("no question is SERVFAIL", func(t *testing.T) {
		m := new(dns.Msg)
		m.Id = 7
		reply, fast := ask(t, r, m, dnsserver.UDP)
		if fast || reply.Rcode != dns.RcodeServerFailure || reply.Id != 7 {
			t.Fatalf("%v", reply)
		}
	})
	t.Run("truncated question", func(t *testing.T) {
		m, _ := askRaw(t, r, good[:len(good)-3], dnsserver.UDP)
		if m == nil || m.Rcode != dns.RcodeFormatError {
			t.Fatalf("%v", m)
		}
	})
	t.Run("trailing bytes without EDNS go to the slow path", func(t *testing.T) {
		raw := append(append([]byte(nil), good...), 1, 2, 3)
		askRaw(t, r, raw, dnsserver.UDP)
	})
	t.Run("only the first of two questions is used", func(t *testing.T) {
		m := q("chronos.marathon.mesos.", dns.TypeA)
		m.Question = append(m.Question, dns.Question{Name: "missing.mesos.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
		reply, fast := ask(t, r, m, dnsserver.UDP)
		if fast || reply.Rcode != 0 || len(reply.Answer) != 1 || len(reply.Question) != 1 {
			t.Fatalf("%v", reply)
		}
	})
	t.Run("other class and opcode are answered as IN QUERY", func(t *testing.T) {
		m := q("chronos.marathon.mesos.", dns.TypeA)
		m.Question[0].Qclass = dns.ClassCHAOS
		m.Opcode = dns.OpcodeStatus
		m.RecursionDesired = true
		reply, fast := ask(t, r, m, dnsserver.UDP)
		if !fast || reply.Question[0].Qclass != dns.ClassCHAOS || reply.Opcode != dns.OpcodeStatus || reply.RecursionDesired || len(reply.Answer) != 1 {
			t.Fatalf("%v", reply)
		}
	})
}

func r16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func TestForwarding(t *testing.T) {
	rs := fixtureSet(t, "fake.zone.resolver-test-settings.json")
	var mu sync.Mutex
	var calls []string
	mk := func(tag string, fail bool) Forwarder {
		return Func(func(_ context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
			mu.Lock()
			calls = append(calls, tag+"/"+network+"/"+req.Question[0].Name)
			mu.Unlock()
			if fail {
				return nil, fmt.Errorf("down")
			}
			m := new(dns.Msg)
			m.SetReply(req)
			m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{tag}}}
			return m, nil
		})
	}
	cfg := fakeConfig()
	cfg.Default = mk("default", false)
	cfg.Zones = map[string]Forwarder{"example.com": mk("example", false), "deep.example.com": mk("deep", false), "down.test": mk("down", true)}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	r.Update(rs, 1)
	for _, c := range []struct {
		name  string
		qt    uint16
		nw    dnsserver.Network
		want  string
		rcode int
	}{
		{"www.example.com.", dns.TypeA, dnsserver.UDP, "example/udp/www.example.com.", 0},
		{"a.DEEP.example.com.", dns.TypeA, dnsserver.TCP, "deep/tcp/a.DEEP.example.com.", 0},
		{"notexample.com.", dns.TypeA, dnsserver.UDP, "default/udp/notexample.com.", 0},
		{"mesos.", dns.TypeDS, dnsserver.UDP, "default/udp/mesos.", 0},
		{"www.example.com.", dns.TypeDS, dnsserver.UDP, "default/udp/www.example.com.", 0},
		{"x.down.test.", dns.TypeA, dnsserver.UDP, "down/udp/x.down.test.", dns.RcodeServerFailure},
	} {
		calls = nil
		m, fast := ask(t, r, q(c.name, c.qt), c.nw)
		if fast || len(calls) != 1 || calls[0] != c.want || m.Rcode != c.rcode {
			t.Errorf("%s %s: fast %v calls %v rcode %d", c.name, dns.TypeToString[c.qt], fast, calls, m.Rcode)
		}
		if c.rcode == dns.RcodeServerFailure && (m.Authoritative || m.RecursionAvailable || len(m.Answer) != 0) {
			t.Errorf("SERVFAIL shape: %v", m)
		}
	}
	if got := testutil.ToFloat64(r.m.forwarded.WithLabelValues("down.test.", "failed")); got != 1 {
		t.Errorf("failed forward count %v", got)
	}

	t.Run("no forwarder: REFUSED", func(t *testing.T) {
		r2 := newResolver(t, fakeConfig(), rs)
		query := q("google.com.", dns.TypeA)
		query.RecursionDesired = true
		m, _ := ask(t, r2, query, dnsserver.UDP)
		if m.Rcode != dns.RcodeRefused || m.Authoritative || m.RecursionAvailable || !m.RecursionDesired {
			t.Fatalf("%v", m)
		}
	})
	t.Run("large forwarded UDP reply without OPT is cut below 512 with TC", func(t *testing.T) {
		cfg := fakeConfig()
		cfg.Default = Func(func(_ context.Context, req *dns.Msg, _ string) (*dns.Msg, error) {
			m := new(dns.Msg)
			m.SetReply(req)
			for i := 0; i < 100; i++ {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{10, 0, 0, byte(i)}})
			}
			return m, nil
		})
		r2 := newResolver(t, cfg, rs)
		m, _ := ask(t, r2, q("big.example.", dns.TypeA), dnsserver.UDP)
		b, _ := m.Pack()
		if !m.Truncated || len(b) >= 512 {
			t.Fatalf("tc %v len %d", m.Truncated, len(b))
		}
	})
}

// TestBeforeFirstLoad: until the first Update every question in the
// domain is SERVFAIL (not authoritative, EDNS0 echoed), from the slow
// path only; names outside it are forwarded as configured. After an
// Update, even of an empty record set, the domain answers again.
func TestBeforeFirstLoad(t *testing.T) {
	cfg := fakeConfig()
	var forwarded []string
	cfg.Default = Func(func(_ context.Context, req *dns.Msg, _ string) (*dns.Msg, error) {
		forwarded = append(forwarded, req.Question[0].Name)
		m := new(dns.Msg)
		m.SetReply(req)
		return m, nil
	})
	r, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if r.Loaded() {
		t.Fatal("loaded before the first Update")
	}
	for _, c := range []struct {
		name  string
		qt    uint16
		edns  bool
		rcode int
	}{
		{"chronos.marathon.mesos.", dns.TypeA, false, dns.RcodeServerFailure},
		{"_chronos._tcp.marathon.mesos.", dns.TypeSRV, true, dns.RcodeServerFailure},
		{"mesos.", dns.TypeSOA, false, dns.RcodeServerFailure},
		{"mesos.", dns.TypeNS, false, dns.RcodeServerFailure},
		{"Leader.Mesos.", dns.TypeANY, true, dns.RcodeServerFailure},
		{"www.example.org.", dns.TypeA, false, dns.RcodeSuccess},
	} {
		t.Run(c.name+" "+dns.TypeToString[c.qt], func(t *testing.T) {
			forwarded = nil
			query := q(c.name, c.qt)
			if c.edns {
				query.SetEdns0(1232, false)
			}
			m, fast := ask(t, r, query, dnsserver.UDP)
			if fast || m.Rcode != c.rcode {
				t.Fatalf("fast %v: %v", fast, m)
			}
			if c.rcode == dns.RcodeServerFailure {
				if m.Authoritative || len(m.Answer)+len(m.Ns) != 0 || (m.IsEdns0() != nil) != c.edns || len(forwarded) != 0 {
					t.Errorf("SERVFAIL shape (forwarded %v): %v", forwarded, m)
				}
			} else if len(forwarded) != 1 {
				t.Errorf("not forwarded: %v", forwarded)
			}
		})
	}
	r.Update(&records.RecordSet{Domain: "mesos"}, 7)
	if m, _ := ask(t, r, q("chronos.marathon.mesos.", dns.TypeA), dnsserver.UDP); !r.Loaded() || m.Rcode != dns.RcodeNameError || !m.Authoritative {
		t.Errorf("after an empty load: %v", m)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := New(fakeConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	r.Update(fixtureSet(t, "fake.zone.resolver-test-settings.json"), 5)
	for i := 0; i < 3; i++ {
		ask(t, r, q("chronos.marathon.mesos.", dns.TypeA), dnsserver.UDP)
		ask(t, r, q("missing.mesos.", dns.TypeA), dnsserver.UDP)
	}
	// ask runs each query through both paths: 3 fast + 3 slow each.
	if got := testutil.ToFloat64(r.m.queries[qtypeIndex(dns.TypeA)][0]); got != 6 {
		t.Errorf("A NOERROR = %v, want 6", got)
	}
	if got := testutil.ToFloat64(r.m.queries[qtypeIndex(dns.TypeA)][3]); got != 6 {
		t.Errorf("A NXDOMAIN = %v, want 6", got)
	}
	if got := testutil.ToFloat64(r.m.serial); got != 5 {
		t.Errorf("serial gauge %v", got)
	}
	n, err := testutil.GatherAndCount(reg, "sextant_mesosdns_dns_queries_total", "sextant_mesosdns_records")
	if err != nil || n == 0 {
		t.Errorf("gather: %d %v", n, err)
	}
}

// TestUpdateSwap checks queries keep answering while record sets change.
func TestUpdateSwap(t *testing.T) {
	r := newResolver(t, fakeConfig(), nil)
	m, _ := ask(t, r, q("chronos.marathon.mesos.", dns.TypeA), dnsserver.UDP)
	if m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first update: %v", m)
	}
	a := fixtureSet(t, "fake.zone.resolver-test-settings.json")
	b := bigSet()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			if i%2 == 0 {
				r.Update(a, uint32(i))
			} else {
				r.Update(b, uint32(i))
			}
		}
		close(stop)
	}()
	raw, _ := q("app.marathon.mesos.", dns.TypeA).Pack()
	out := make([]byte, 65535)
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		default:
		}
		if n, ok := r.AnswerFast(raw, out, dnsserver.TCP); ok {
			if err := new(dns.Msg).Unpack(out[:n]); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	if r.Serial() != 49 || !strings.HasPrefix(fmt.Sprint(r.Records().A["app.marathon.mesos."]), "[10.0.0.1") {
		t.Fatalf("last update not served: serial %d", r.Serial())
	}
}

func TestFastPathAllocatesNothing(t *testing.T) {
	r := newResolver(t, fakeConfig(), fixtureSet(t, "fake.zone.resolver-test-settings.json"))
	out := make([]byte, 65535)
	for _, c := range []struct {
		name string
		qt   uint16
		edns bool
	}{
		{"liquor-store.marathon.mesos.", dns.TypeA, false},
		{"_liquor-store._tcp.marathon.mesos.", dns.TypeSRV, true},
		{"toy-store.ipv6-framework.mesos.", dns.TypeAAAA, false},
		{"missing.mesos.", dns.TypeA, true},
	} {
		m := q(c.name, c.qt)
		if c.edns {
			m.SetEdns0(1232, false)
		}
		raw, _ := m.Pack()
		allocs := testing.AllocsPerRun(200, func() {
			if _, ok := r.AnswerFast(raw, out, dnsserver.UDP); !ok {
				t.Fatal("fast path declined")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per query", c.name, allocs)
		}
	}
}

// TestShuffle checks every answer comes first some of the time on both paths.
func TestShuffle(t *testing.T) {
	r := newResolver(t, fakeConfig(), bigSet())
	raw, _ := q("app.marathon.mesos.", dns.TypeA).Pack()
	out := make([]byte, 65535)
	firstFast := map[string]bool{}
	for i := 0; i < 3000 && len(firstFast) < 60; i++ {
		n, ok := r.AnswerFast(raw, out, dnsserver.TCP)
		if !ok {
			t.Fatal("declined")
		}
		m := new(dns.Msg)
		if err := m.Unpack(out[:n]); err != nil {
			t.Fatal(err)
		}
		firstFast[m.Answer[0].String()] = true
	}
	if len(firstFast) < 60 {
		t.Errorf("fast path: only %d of 60 answers ever came first", len(firstFast))
	}
	firstSlow := map[string]bool{}
	for i := 0; i < 3000 && len(firstSlow) < 29; i++ {
		m, _ := ask(t, r, q("app.marathon.mesos.", dns.TypeA), dnsserver.UDP)
		firstSlow[m.Answer[0].String()] = true
	}
	if len(firstSlow) < 29 {
		t.Errorf("slow path: only %d answers ever came first", len(firstSlow))
	}
}

func FuzzQuery(f *testing.F) {
	for _, name := range []string{"chronos.marathon.mesos.", "_liquor-store._tcp.marathon.mesos.", "MiSsInG.mesos.", "x.*.mesos.", "google.com.", "mesos."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeANY, dns.TypeSOA, dns.TypeNS, dns.TypeDS, dns.TypeTXT} {
			m := q(name, qt)
			if qt == dns.TypeSRV {
				m.SetEdns0(1232, true)
			}
			b, _ := m.Pack()
			f.Add(b, false)
		}
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, true)
	f.Add([]byte{}, false)
	cfg := fakeConfig()
	cfg.Default = Func(func(_ context.Context, req *dns.Msg, _ string) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(req)
		return m, nil
	})
	rs := &records.RecordSet{Domain: "mesos",
		A:    map[string][]string{"chronos.marathon.mesos.": {"1.2.3.11"}, "t.marathon.mesos.": {"10.0.0.1"}, "odd.mesos.": {"not-an-ip"}},
		AAAA: map[string][]string{"chronos.marathon.mesos.": {"fd01::1"}},
		SRV:  map[string][]string{"_liquor-store._tcp.marathon.mesos.": {"t.marathon.mesos.:80", "bad", "t.marathon.mesos.:x"}},
	}
	r := newResolver(f, cfg, rs)
	out := make([]byte, 65535)
	f.Fuzz(func(t *testing.T, raw []byte, tcp bool) {
		nw := dnsserver.UDP
		if tcp {
			nw = dnsserver.TCP
		}
		var fast *dns.Msg
		if n, ok := r.AnswerFast(raw, out, nw); ok {
			fast = new(dns.Msg)
			if err := fast.Unpack(out[:n]); err != nil {
				t.Fatalf("fast reply does not unpack: %v", err)
			}
		}
		req := &dnsserver.Request{Raw: raw, Network: nw}
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			req.Err = err
		} else {
			req.Msg = m
		}
		reply := r.ServeDNS(context.Background(), req)
		if reply != nil {
			if _, err := reply.Pack(); err != nil {
				t.Fatalf("reply does not pack: %v", err)
			}
		}
		if fast != nil {
			if reply == nil {
				t.Fatal("fast path answered a packet the slow path drops")
			}
			if a, b := canon(fast, fast.Truncated || reply.Truncated), canon(reply, fast.Truncated || reply.Truncated); a != b {
				t.Fatalf("fast and slow paths differ:\nfast:\n%s\nslow:\n%s", a, b)
			}
		}
	})
}

// TestFastEncodingMatchesMiekgLength checks the fast path's encoding is as
// long as miekg/dns's compressed one, so both paths truncate alike.
func TestFastEncodingMatchesMiekgLength(t *testing.T) {
	for _, rs := range []*records.RecordSet{bigSet(), fixtureSet(t, "fake.zone.resolver-test-settings.json")} {
		r := newResolver(t, fakeConfig(), rs)
		out := make([]byte, 65535)
		for name := range rs.SRV {
			for _, qt := range []uint16{dns.TypeSRV, dns.TypeA} {
				raw, _ := q(name, qt).Pack()
				n, ok := r.AnswerFast(raw, out, dnsserver.TCP)
				if !ok {
					continue
				}
				slow, _ := ask(t, r, q(name, qt), dnsserver.TCP)
				b, _ := slow.Pack()
				if qt == dns.TypeSRV && n != len(b) {
					t.Errorf("%s %s: fast %d bytes, miekg %d", name, dns.TypeToString[qt], n, len(b))
				}
			}
		}
	}
}

// TestReloadRefreshesAdditionals: an SRV name whose values did not change
// is reused across reloads, but its additional section must follow its
// targets' addresses (changed, added, gone).
func TestReloadRefreshesAdditionals(t *testing.T) {
	mk := func(ip string) *records.RecordSet {
		rs := &records.RecordSet{Domain: "mesos", A: map[string][]string{}, AAAA: map[string][]string{},
			SRV: map[string][]string{"_web._tcp.marathon.mesos.": {"web-1.marathon.slave.mesos.:80"}, "_db._tcp.marathon.mesos.": {"db-1.marathon.slave.mesos.:5432"}}}
		if ip != "" {
			rs.A["web-1.marathon.slave.mesos."] = []string{ip}
		}
		rs.A["db-1.marathon.slave.mesos."] = []string{"10.9.9.9"}
		return rs
	}
	r := newResolver(t, fakeConfig(), mk("10.0.0.1"))
	extra := func() []string {
		m, fast := ask(t, r, q("_web._tcp.marathon.mesos.", dns.TypeSRV), dnsserver.UDP)
		if !fast {
			t.Fatal("fast path declined")
		}
		return rrSet(m.Extra)
	}
	ask(t, r, q("_db._tcp.marathon.mesos.", dns.TypeSRV), dnsserver.UDP)
	db := cached(r, "_db._tcp.marathon.mesos.")
	if db == nil {
		t.Fatal("an answered name was not cached")
	}
	if got := extra(); len(got) != 1 || !strings.Contains(got[0], "10.0.0.1") {
		t.Fatalf("%v", got)
	}
	r.Update(mk("10.0.0.2"), 2)
	if got := extra(); len(got) != 1 || !strings.Contains(got[0], "10.0.0.2") {
		t.Fatalf("after the target moved: %v", got)
	}
	r.Update(mk(""), 3)
	if got := extra(); len(got) != 0 {
		t.Fatalf("after the target went: %v", got)
	}
	r.Update(mk("10.0.0.3"), 4)
	if got := extra(); len(got) != 1 || !strings.Contains(got[0], "10.0.0.3") {
		t.Fatalf("after the target came back: %v", got)
	}
	if cached(r, "_db._tcp.marathon.mesos.") != db {
		t.Errorf("an unchanged SRV entry was rebuilt")
	}
}
