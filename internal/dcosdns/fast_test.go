package dcosdns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
)

// canon renders a reply for comparison: names lower-cased (the fast path
// echoes the client's spelling through name compression).
func canon(m *dns.Msg) string {
	m.Compress = false
	return strings.ToLower(m.String())
}

func fastTasks() []testTask {
	tasks := []testTask{{name: "web", ip: "9.0.1.2"}, {name: "Db", ip: "9.0.1.3"}}
	for i := range 3 {
		tasks = append(tasks, testTask{name: "trio", ip: fmt.Sprintf("9.0.2.%d", i+1)})
	}
	for i := range 40 {
		tasks = append(tasks, testTask{name: "many", ip: fmt.Sprintf("9.0.3.%d", i+1)})
	}
	return tasks
}

func TestAnswerFastMatchesSlowPath(t *testing.T) {
	h := testHandler(t, fastTasks(), nil, nil, nil, false)
	names := []string{
		"web.marathon.containerip.dcos.thisdcos.directory", "WEB.Marathon.AgentIP.dcos.thisdcos.directory",
		"trio.marathon.autoip.dcos.thisdcos.directory", "db.marathon.containerip.dcos.thisdcos.directory",
		"ready.spartan", "localhost",
	}
	out := make([]byte, 65535)
	fast := 0
	for _, name := range names {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			for _, edns := range []bool{false, true} {
				for id := range uint16(4) {
					q := query(name, qt)
					q.Id = id
					q.RecursionDesired = id%2 == 0
					if edns {
						q.SetEdns0(1232, false)
					}
					raw, _ := q.Pack()
					for _, nw := range []dnsserver.Network{dnsserver.UDP, dnsserver.TCP} {
						n, ok := h.AnswerFast(raw, out, nw)
						slow := h.Answer(context.Background(), q, nw.String())
						if !ok {
							if slow.Rcode == dns.RcodeSuccess && len(slow.Answer) > 0 && qt == dns.TypeA {
								t.Errorf("%s A (edns %v): positive local answer not served fast", name, edns)
							}
							continue
						}
						fast++
						got := new(dns.Msg)
						if err := got.Unpack(out[:n]); err != nil {
							t.Fatalf("%s: fast reply does not unpack: %v", name, err)
						}
						if got.Id != q.Id || got.RecursionDesired != q.RecursionDesired || got.Question[0].Name != q.Question[0].Name {
							t.Fatalf("%s: header/question not the client's: %v", name, got)
						}
						if canon(got) != canon(slow) {
							t.Fatalf("%s %s edns %v id %d: fast\n%v\nslow\n%v", name, dns.TypeToString[qt], edns, id, got, slow)
						}
					}
				}
			}
		}
	}
	if fast == 0 {
		t.Fatal("nothing answered fast")
	}
	// Declined: NXDOMAIN, aliases, DO, EDNS options, too many answers over
	// plain UDP, two questions, a response.
	decline := []func() *dns.Msg{
		func() *dns.Msg { return query("nope.marathon.agentip.dcos.thisdcos.directory", dns.TypeA) },
		func() *dns.Msg { return query("web.marathon.agentip.dcos.thisdcos.global", dns.TypeA) },
		func() *dns.Msg {
			q := query("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA)
			q.SetEdns0(1232, true)
			return q
		},
		func() *dns.Msg {
			q := query("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA)
			q.SetEdns0(1232, false)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			return q
		},
		func() *dns.Msg { return query("many.marathon.containerip.dcos.thisdcos.directory", dns.TypeA) },
		func() *dns.Msg {
			q := query("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA)
			q.Question = append(q.Question, q.Question[0])
			return q
		},
		func() *dns.Msg {
			q := query("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA)
			q.Response = true
			return q
		},
	}
	for i, mk := range decline {
		raw, _ := mk().Pack()
		if _, ok := h.AnswerFast(raw, out, dnsserver.UDP); ok {
			t.Errorf("case %d answered fast", i)
		}
	}
}

func BenchmarkAnswerFast(b *testing.B) {
	h := testHandler(b, fastTasks(), nil, nil, nil, false)
	raw, _ := query("web.marathon.containerip.dcos.thisdcos.directory", dns.TypeA).Pack()
	out := make([]byte, 65535)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := h.AnswerFast(raw, out, dnsserver.UDP); !ok {
			b.Fatal("not fast")
		}
	}
}

// FuzzAnswerFast: arbitrary packets never panic the fast path, and a
// fast reply unpacks with the query's ID.
func FuzzAnswerFast(f *testing.F) {
	for _, name := range []string{"web.marathon.containerip.dcos.thisdcos.directory", "ready.spartan", "trio.marathon.autoip.dcos.thisdcos.directory"} {
		q := query(name, dns.TypeA)
		b, _ := q.Pack()
		f.Add(b)
		q.SetEdns0(4096, false)
		b, _ = q.Pack()
		f.Add(b)
	}
	h := testHandler(f, fastTasks(), nil, nil, nil, false)
	out := make([]byte, 65535)
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, ok := h.AnswerFast(raw, out, dnsserver.UDP)
		if !ok {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(out[:n]); err != nil {
			t.Fatalf("fast reply does not unpack: %v", err)
		}
		if m.Id != uint16(raw[0])<<8|uint16(raw[1]) || !m.Response {
			t.Fatalf("bad header %v", m)
		}
	})
}

// BenchmarkSetIndex10k: installing a dcos zone of 10,000 tasks (30,000
// names) with its prepared fast replies.
func BenchmarkSetIndex10k(b *testing.B) {
	var tasks []testTask
	for i := range 10000 {
		tasks = append(tasks, testTask{name: fmt.Sprintf("app%d", i), ip: fmt.Sprintf("9.%d.%d.%d", i/65536%256, i/256%256, i%256)})
	}
	h := testHandler(b, nil, nil, nil, nil, false)
	dcos, _ := directory.BuildDCOS(testSnapshot(1, tasks), directory.Config{})
	local, _ := directory.BuildLocal(directory.Config{})
	b.ReportAllocs()
	for b.Loop() {
		// A new zone value each time, as a gossiped version would be.
		z := *dcos
		h.SetIndex(directory.NewIndex(directory.Options{}, append(local, &z)...))
	}
}

// TestAnswerFastFollowsZones: fast replies are built from the zone that
// answers the name (the nearest enclosing one), and a reply built for a
// zone is not served once that zone is replaced or another zone takes the
// name over.
func TestAnswerFastFollowsZones(t *testing.T) {
	zone := func(name string, version uint64, recs ...directory.Record) *directory.Zone {
		z, err := directory.NewZone(name, version, append(directory.Apex(name), recs...))
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	a := func(name, ip string) directory.Record {
		return directory.Record{Name: name, Type: dns.TypeA, TTL: directory.TTL, Addr: netip.MustParseAddr(ip)}
	}
	h := testHandler(t, nil, nil, nil, nil, false)
	out := make([]byte, 65535)
	ask := func(name string) (string, bool) {
		raw, _ := query(name, dns.TypeA).Pack()
		n, ok := h.AnswerFast(raw, out, dnsserver.UDP)
		if !ok {
			return "", false
		}
		m := new(dns.Msg)
		if err := m.Unpack(out[:n]); err != nil || len(m.Answer) != 1 {
			t.Fatalf("%s: %v %v", name, m, err)
		}
		return m.Answer[0].(*dns.A).A.String(), true
	}
	parent := zone("example.test", 1, a("a.example.test", "192.0.2.1"), a("x.sub.example.test", "192.0.2.2"))
	child := zone("sub.example.test", 1, a("y.sub.example.test", "192.0.2.3"))
	h.SetIndex(directory.NewIndex(directory.Options{}, parent, child))
	if ip, ok := ask("a.example.test"); !ok || ip != "192.0.2.1" {
		t.Fatalf("a: %q %v", ip, ok)
	}
	if ip, ok := ask("x.sub.example.test"); ok {
		t.Fatalf("x.sub, shadowed by the child zone, answered fast: %s", ip)
	}
	if ip, ok := ask("y.sub.example.test"); !ok || ip != "192.0.2.3" {
		t.Fatalf("y.sub: %q %v", ip, ok)
	}
	// A new version of the parent zone: its names' replies are rebuilt;
	// the child's are kept.
	h.SetIndex(directory.NewIndex(directory.Options{}, zone("example.test", 2, a("a.example.test", "192.0.2.9"), a("x.sub.example.test", "192.0.2.2")), child))
	if ip, ok := ask("a.example.test"); !ok || ip != "192.0.2.9" {
		t.Fatalf("a after the parent changed: %q %v", ip, ok)
	}
	if ip, ok := ask("y.sub.example.test"); !ok || ip != "192.0.2.3" {
		t.Fatalf("y.sub after the parent changed: %q %v", ip, ok)
	}
	// Without the child zone the parent answers x.sub.
	h.SetIndex(directory.NewIndex(directory.Options{}, parent))
	if ip, ok := ask("x.sub.example.test"); !ok || ip != "192.0.2.2" {
		t.Fatalf("x.sub without the child zone: %q %v", ip, ok)
	}
	if _, ok := ask("y.sub.example.test"); ok {
		t.Fatal("y.sub answered fast after its zone went")
	}
}

// TestAnswerFastCacheBounded: past the bound, fast replies are dropped
// and built again when asked for, and stay right.
func TestAnswerFastCacheBounded(t *testing.T) {
	var recs []directory.Record
	for i := range 500 {
		recs = append(recs, directory.Record{Name: fmt.Sprintf("n%d.example.test", i), Type: dns.TypeA, TTL: directory.TTL,
			Addr: netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(i%250 + 1)})})
	}
	z, err := directory.NewZone("example.test", 1, append(directory.Apex("example.test"), recs...))
	if err != nil {
		t.Fatal(err)
	}
	h := testHandler(t, nil, nil, nil, nil, false)
	h.fastEntries = 64
	h.SetIndex(directory.NewIndex(directory.Options{}, z))
	out := make([]byte, 65535)
	for round := range 3 {
		for i := range 500 {
			name := fmt.Sprintf("n%d.example.test", i)
			raw, _ := query(name, dns.TypeA).Pack()
			n, ok := h.AnswerFast(raw, out, dnsserver.UDP)
			m := new(dns.Msg)
			if !ok || m.Unpack(out[:n]) != nil || len(m.Answer) != 1 {
				t.Fatalf("round %d: %s: fast %v %v", round, name, ok, m)
			}
			if got, want := m.Answer[0].(*dns.A).A.String(), netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(i%250 + 1)}).String(); got != want {
				t.Fatalf("round %d: %s: %s, want %s", round, name, got, want)
			}
		}
		cached := 0
		h.served.Load().fast.each(func(string, fastEntry) { cached++ })
		if cached > 64 {
			t.Fatalf("round %d: %d cached replies, bound 64", round, cached)
		}
	}
}
