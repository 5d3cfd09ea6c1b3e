package dcosdns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/forward"
)

func TestRoute(t *testing.T) {
	r := NewRouter("ybndrfg8", []string{"corp.example", "a.corp.example.", "Other.Example"})
	tests := []struct {
		name string
		want Route
	}{
		{"myapp.marathon.l4lb.thisdcos.directory.", Route{Dest: ToLocal}},
		{"myapp.marathon.dclb.thisdcos.directory.", Route{Dest: ToLocal}},
		{"myapp.marathon.dclb.thisdcos.global.", Route{Dest: ToLocal}},
		{"x.marathon.autoip.dcos.thisdcos.global.", Route{Dest: ToLocal}},
		{"myapp.marathon.l4lb.ybndrfg8.dcos.directory.", Route{Dest: ToLocal}},
		// Another cluster's id: rule 10.
		{"myapp.marathon.l4lb.otherid.dcos.directory.", Route{Dest: ToUpstream, Zone: "."}},
		{"leader.mesos.", Route{Dest: ToMesos, Zone: "mesos."}},
		{"mesos.", Route{Dest: ToMesos, Zone: "mesos."}},
		{"localhost.", Route{Dest: ToLocal}},
		{"zk-1.zk.", Route{Dest: ToLocal}},
		{"ready.spartan.", Route{Dest: ToLocal}},
		{"thisnode.thisdcos.directory.", Route{Dest: ToLocal}},
		// QUIRK kept: two labels fall through to forwarding.
		{"thisdcos.directory.", Route{Dest: ToUpstream, Zone: "."}},
		{"directory.", Route{Dest: ToUpstream, Zone: "."}},
		{"www.corp.example.", Route{Dest: ToZone, Zone: "corp.example."}},
		{"corp.example.", Route{Dest: ToZone, Zone: "corp.example."}},
		{"x.a.corp.example.", Route{Dest: ToZone, Zone: "a.corp.example."}},
		{"x.other.example.", Route{Dest: ToZone, Zone: "other.example."}},
		{"notcorp.example.", Route{Dest: ToUpstream, Zone: "."}},
		{"example.org.", Route{Dest: ToUpstream, Zone: "."}},
		{".", Route{Dest: ToUpstream, Zone: "."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Route(tt.name); got != tt.want {
				t.Fatalf("Route(%q) = %+v, want %+v", tt.name, got, tt.want)
			}
		})
	}
}

// testHandler builds a handler with the dcos zone of tasks and real
// upstreams for .mesos, one forward zone and the default.
func testHandler(t testing.TB, tasks []testTask, mesos, zone, up []string, cache bool) *Handler {
	t.Helper()
	mk := func(z string, ups []string) forward.Forwarder {
		r, err := forward.NewRacing(forward.RacingConfig{Zone: z, Upstreams: ups, Timeout: time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	hc := HandlerConfig{
		Router:   NewRouter("", []string{"corp.example"}),
		Mesos:    mk("mesos.", mesos),
		Zones:    map[string]forward.Forwarder{"corp.example.": mk("corp.example.", zone)},
		Upstream: mk(".", up),
		Registry: prometheus.NewRegistry(),
	}
	if cache {
		hc.Cache = &forward.CacheConfig{Size: 100}
	}
	h, err := NewHandler(hc)
	if err != nil {
		t.Fatal(err)
	}
	dcos, probs := directory.BuildDCOS(testSnapshot(1, tasks), directory.Config{})
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	local, _ := directory.BuildLocal(directory.Config{})
	h.SetIndex(directory.NewIndex(directory.Options{}, append(local, dcos)...))
	return h
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

func TestHandlerLocal(t *testing.T) {
	var tasks []testTask
	for i := range 60 {
		tasks = append(tasks, testTask{name: "big", ip: fmt.Sprintf("9.0.%d.%d", i/200, i%200+1)})
	}
	tasks = append(tasks, testTask{name: "web", ip: "9.0.1.2"})
	h := testHandler(t, tasks, nil, nil, nil, false)
	ctx := t.Context()

	m := h.Answer(ctx, query("web.marathon.containerip.dcos.thisdcos.directory", dns.TypeA), "udp")
	if m.Rcode != dns.RcodeSuccess || !m.Authoritative || m.RecursionAvailable || !m.Response || len(m.Answer) != 1 ||
		m.Answer[0].(*dns.A).A.String() != "9.0.1.2" || m.Answer[0].Header().Ttl != 5 {
		t.Fatalf("containerip: %v", m)
	}
	m = h.Answer(ctx, query("WEB.marathon.agentip.dcos.thisdcos.directory", dns.TypeA), "udp")
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.0.0.7" {
		t.Fatalf("agentip: %v", m)
	}
	m = h.Answer(ctx, query("nope.marathon.agentip.dcos.thisdcos.directory", dns.TypeA), "udp")
	if m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("nxdomain: %v", m)
	}
	// Rule 3 alias: answered from dcos.thisdcos.directory, renamed back.
	m = h.Answer(ctx, query("web.marathon.agentip.dcos.thisdcos.global", dns.TypeA), "udp")
	if len(m.Answer) != 1 || m.Answer[0].Header().Name != "web.marathon.agentip.dcos.thisdcos.global." {
		t.Fatalf("alias: %v", m)
	}
	m = h.Answer(ctx, query("ready.spartan", dns.TypeA), "tcp")
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Fatalf("ready.spartan: %v", m)
	}

	// Sizes: 60 A records are ~1 KB.
	big := "big.marathon.containerip.dcos.thisdcos.directory"
	m = h.Answer(ctx, query(big, dns.TypeA), "udp")
	if !m.Truncated || m.Len() > 512 {
		t.Fatalf("udp without EDNS: tc %v len %d", m.Truncated, m.Len())
	}
	q := query(big, dns.TypeA)
	q.SetEdns0(4096, false)
	m = h.Answer(ctx, q, "udp")
	if m.Truncated || len(m.Answer) != 60 || m.IsEdns0() == nil {
		t.Fatalf("udp with EDNS 4096: tc %v answers %d opt %v", m.Truncated, len(m.Answer), m.IsEdns0())
	}
	q = query(big, dns.TypeA)
	q.SetEdns0(700, false)
	m = h.Answer(ctx, q, "udp")
	if !m.Truncated || m.Len() > 700 || m.Len() <= 512 {
		t.Fatalf("udp with EDNS 700: tc %v len %d", m.Truncated, m.Len())
	}
	m = h.Answer(ctx, query(big, dns.TypeA), "tcp")
	if m.Truncated || len(m.Answer) != 60 {
		t.Fatalf("tcp: tc %v answers %d", m.Truncated, len(m.Answer))
	}
	// Rotation by message ID.
	q1, q2 := query(big, dns.TypeA), query(big, dns.TypeA)
	q1.Id, q2.Id = 60, 61
	a1, a2 := h.Answer(ctx, q1, "tcp"), h.Answer(ctx, q2, "tcp")
	if a1.Answer[0].String() == a2.Answer[0].String() || a1.Answer[1].String() != a2.Answer[0].String() {
		t.Fatalf("answers not rotated by id: %v / %v", a1.Answer[0], a2.Answer[0])
	}
}

func TestHandlerForward(t *testing.T) {
	mesos := startPeer(t, "10.0.0.1", 60)
	corp := startPeer(t, "10.1.1.1", 60)
	up := startPeer(t, "93.184.216.34", 60)
	h := testHandler(t, nil, []string{mesos.addr}, []string{corp.addr}, []string{up.addr}, true)
	ctx := t.Context()
	tests := []struct{ name, want string }{
		{"leader.mesos", "10.0.0.1"},
		{"www.corp.example", "10.1.1.1"},
		{"example.org", "93.184.216.34"},
	}
	for _, tt := range tests {
		for _, nw := range []string{"udp", "tcp"} {
			m := h.Answer(ctx, query(tt.name, dns.TypeA), nw)
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != tt.want {
				t.Fatalf("%s over %s: %v", tt.name, nw, m)
			}
		}
	}
	// The TCP repeats were cache hits, except for .mesos (never cached).
	if mesos.calls.Load() != 2 || corp.calls.Load() != 1 || up.calls.Load() != 1 {
		t.Fatalf("upstream calls %d %d %d, want 2 1 1", mesos.calls.Load(), corp.calls.Load(), up.calls.Load())
	}
	// Local names never reach the upstreams nor the cache.
	h.Answer(ctx, query("ready.spartan", dns.TypeA), "udp")
	if up.calls.Load() != 1 {
		t.Fatal("local name forwarded")
	}
}

func TestHandlerNoUpstreams(t *testing.T) {
	h := testHandler(t, nil, nil, nil, nil, false)
	for _, name := range []string{"leader.mesos", "example.org", "www.corp.example"} {
		q := query(name, dns.TypeA)
		m := h.Answer(t.Context(), q, "udp")
		if m.Rcode != dns.RcodeServerFailure || !m.Response || m.Id != q.Id {
			t.Fatalf("%s: %v", name, m)
		}
	}
}

// FuzzHandler: any packet gives a reply that packs (or none), never a
// panic. Without upstreams nothing leaves the process.
func FuzzHandler(f *testing.F) {
	for _, q := range []*dns.Msg{query("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA),
		query("x.dclb.thisdcos.global", dns.TypeANY), query("leader.mesos", dns.TypeSRV), query("ready.spartan", dns.TypeRRSIG)} {
		q.SetEdns0(1232, true)
		b, _ := q.Pack()
		f.Add(b, false)
	}
	f.Add([]byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, true)
	h := testHandler(f, []testTask{{name: "web", ip: "9.0.1.2"}}, nil, nil, nil, true)
	f.Fuzz(func(t *testing.T, raw []byte, tcp bool) {
		req := &dnsserver.Request{Raw: raw, Network: dnsserver.UDP}
		if tcp {
			req.Network = dnsserver.TCP
		}
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			req.Err = err
		} else {
			req.Msg = m
		}
		reply := h.ServeDNS(context.Background(), req)
		if reply == nil {
			return
		}
		b, err := reply.Pack()
		if err != nil {
			t.Fatalf("reply does not pack: %v", err)
		}
		if !tcp && req.Msg != nil && req.Msg.IsEdns0() == nil && len(b) > 512 && len(req.Msg.Question) > 0 {
			t.Fatalf("udp reply of %d bytes without EDNS", len(b))
		}
	})
}

// TestRightLabels: the allocation-free label scan the router uses agrees
// with dns.SplitDomainName.
func TestRightLabels(t *testing.T) {
	for _, name := range []string{".", "mesos.", "a.mesos.", "a.b.c.d.e.f.g.", "x.dclb.thisdcos.directory.", "no-dot", "a.b"} {
		var right [5]string
		n, ok := rightLabels(name, &right)
		want := dns.SplitDomainName(name)
		if !ok || n != len(want) {
			t.Fatalf("%q: %d labels (ok %v), want %d", name, n, ok, len(want))
		}
		for k := 1; k <= min(n, 5); k++ {
			if right[k-1] != want[n-k] {
				t.Fatalf("%q: label %d from the right is %q, want %q", name, k, right[k-1], want[n-k])
			}
		}
	}
	if _, ok := rightLabels(`a\.b.mesos.`, new([5]string)); ok {
		t.Fatal("escaped dot not left to SplitDomainName")
	}
	r := NewRouter("", nil)
	if got := r.Route(`a\.b.mesos.`); got.Dest != ToMesos {
		t.Fatalf("escaped name routed to %v", got.Dest)
	}
}

// FuzzRoute: the router's label scan never panics and routes like a
// router working on dns.SplitDomainName would (checked through the
// label scan's agreement).
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"app.marathon.mesos.", "x.l4lb.thisdcos.directory.", ".", "", `a\.b.zk.`, "a..b."} {
		f.Add(s)
	}
	r := NewRouter("abc", []string{"corp.example"})
	f.Fuzz(func(t *testing.T, name string) {
		_ = r.Route(name)
		var right [5]string
		n, ok := rightLabels(name, &right)
		if !ok {
			return
		}
		if _, isDomain := dns.IsDomainName(name); !isDomain || strings.Contains(name, "..") {
			return
		}
		want := dns.SplitDomainName(name)
		if n != len(want) {
			t.Fatalf("%q: %d labels, want %d", name, n, len(want))
		}
		for k := 1; k <= min(n, 5); k++ {
			if right[k-1] != want[n-k] {
				t.Fatalf("%q: label %d is %q, want %q", name, k, right[k-1], want[n-k])
			}
		}
	})
}

// TestHandlerMesosCache: with the opt-in .mesos cache, positive answers
// are served from the cache for their TTL, NXDOMAIN never is (a new task
// must resolve at once).
func TestHandlerMesosCache(t *testing.T) {
	var calls sync.Map // name → *atomic.Int64
	count := func(name string) int64 {
		v, _ := calls.LoadOrStore(name, new(atomic.Int64))
		return v.(*atomic.Int64).Load()
	}
	hf := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		v, _ := calls.LoadOrStore(r.Question[0].Name, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if strings.HasPrefix(r.Question[0].Name, "new.") {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "mesos.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "ns1.mesos.", Mbox: "root.ns1.mesos.", Serial: 1, Refresh: 60, Retry: 600, Expire: 86400, Minttl: 60}}
		} else {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.ParseIP("10.0.0.5")}}
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: hf}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })

	r, err := forward.NewRacing(forward.RacingConfig{Zone: "mesos.", Upstreams: []string{pc.LocalAddr().String()}, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	reg := prometheus.NewRegistry()
	h, err := NewHandler(HandlerConfig{Mesos: r, Registry: reg, Namespace: "t",
		Cache: &forward.CacheConfig{Size: 10}, MesosCache: &forward.CacheConfig{Size: 10}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		q := query("app.marathon.mesos", dns.TypeA)
		m := h.Answer(t.Context(), q, "udp")
		if m.Id != q.Id || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.0.0.5" {
			t.Fatalf("answer %d: %v", i, m)
		}
		q = query("new.marathon.mesos", dns.TypeA)
		if m := h.Answer(t.Context(), q, "udp"); m.Rcode != dns.RcodeNameError {
			t.Fatalf("nxdomain %d: %v", i, m)
		}
	}
	if c := count("app.marathon.mesos."); c != 1 {
		t.Fatalf("positive answer asked upstream %d times, want 1 (cached)", c)
	}
	if c := count("new.marathon.mesos."); c != 3 {
		t.Fatalf("NXDOMAIN asked upstream %d times, want 3 (never cached)", c)
	}
	mfs, _ := reg.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "t_cache_hits_total" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "cache" && l.GetValue() == "mesos" && m.GetCounter().GetValue() == 2 {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("t_cache_hits_total{cache=\"mesos\"} is not 2")
	}
}
