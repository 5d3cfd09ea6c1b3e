package role

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/source/mesos"
	"github.com/sextantdc/sextant/internal/testutil"
)

// master is a static Mesos master on loopback serving fake.json with the
// leader rewritten to itself; mode switches it to garbage answers.
type master struct {
	srv  *httptest.Server
	body []byte
	mode atomic.Int32 // 0 good, 1 malformed JSON
	hits atomic.Int64
}

func newMaster(t *testing.T) *master {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := &master{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		if m.mode.Load() == 1 {
			io.WriteString(w, "{not json")
			return
		}
		w.Write(m.body)
	}))
	t.Cleanup(m.srv.Close)
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st["leader"] = "master@" + m.srv.Listener.Addr().String()
	m.body, _ = json.Marshal(st)
	return m
}

func loadConfig(t *testing.T, m *master, extra string) *config.Config {
	t.Helper()
	js := fmt.Sprintf(`{"masters":[%q],"refreshSeconds":1,"listener":"127.0.0.1","externalon":false,"IPSources":["netinfo","docker","mesos","host"]%s}`, m.srv.Listener.Addr().String(), extra)
	cfg, _, err := config.Parse([]byte(js), "config.json", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// compose runs the role as internal/app does: the Mesos source of the
// config and a hub feeding the role's subscription.
func compose(ctx context.Context, cfg *config.Config, o Options, adjust ...func(*mesos.Options)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Registry == nil {
		o.Registry = obs.NewRegistry()
	}
	h := hub.New(hub.Options{StaleAfter: 3 * time.Duration(max(cfg.RefreshSeconds, 1)) * time.Second, Registerer: o.Registry})
	so := cfg.SourceOptions()
	so.Registerer = o.Registry
	so.Logger = o.Logger
	for _, a := range adjust {
		a(&so)
	}
	src, err := mesos.New(so, h)
	if err != nil {
		return err
	}
	h.Register(hub.Mesos)
	go h.Run(ctx)
	go src.Run(ctx)
	o.Status = h
	sub := h.Subscribe()
	defer sub.Close()
	return Run(ctx, cfg, sub, o)
}

type running struct {
	addrs Addrs
	logs  *testutil.LogBuffer
	done  chan error
	stop  context.CancelFunc
}

func run(t *testing.T, cfg *config.Config, o Options, adjust ...func(*mesos.Options)) *running {
	t.Helper()
	r := &running{logs: &testutil.LogBuffer{}, done: make(chan error, 1)}
	ready := make(chan Addrs, 1)
	o.Logger = slog.New(slog.NewTextHandler(r.logs, nil))
	o.Ready = func(a Addrs) { ready <- a }
	if o.DNSAddr == "" {
		o.DNSAddr = "127.0.0.1:0"
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	exited := make(chan struct{})
	go func() {
		r.done <- compose(ctx, cfg, o, adjust...)
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Error("role did not stop")
		}
	})
	select {
	case r.addrs = <-ready:
	case err := <-r.done:
		t.Fatalf("role stopped before ready: %v\n%s", err, r.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("not ready\n%s", r.logs)
	}
	return r
}

func query(t *testing.T, addr, name string, qt uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServesAfterFirstLoadAndKeepsServingStale(t *testing.T) {
	m := newMaster(t)
	cfg := loadConfig(t, m, "")
	r := run(t, cfg, Options{Version: "test"})
	a := query(t, r.addrs.DNS, "liquor-store.marathon.mesos.", dns.TypeA)
	if len(a.Answer) != 2 || !a.Authoritative {
		t.Fatalf("%v", a)
	}
	if a := query(t, r.addrs.DNS, "leader.mesos.", dns.TypeA); len(a.Answer) != 1 || !strings.Contains(a.Answer[0].String(), "127.0.0.1") {
		t.Fatalf("leader: %v", a)
	}
	code, body := httpGet(t, "http://"+r.addrs.HTTP+"/v1/version")
	if code != 200 || !strings.Contains(body, `"Version": "test"`) {
		t.Fatalf("%d %s", code, body)
	}
	// The master starts answering garbage: answers keep coming, the log
	// and /metrics say so.
	m.mode.Store(1)
	testutil.Eventually(t, 20*time.Second, "a failed refresh in /metrics", func() bool {
		_, body := httpGet(t, "http://"+r.addrs.HTTP+"/metrics")
		return strings.Contains(body, `sextant_mesos_refresh_total{result="error"} `) && !strings.Contains(body, `sextant_mesos_refresh_total{result="error"} 0`)
	})
	if a := query(t, r.addrs.DNS, "liquor-store.marathon.mesos.", dns.TypeA); len(a.Answer) != 2 {
		t.Fatalf("stale answers: %v", a)
	}
	if !strings.Contains(r.logs.String(), "keeping last good state") {
		t.Errorf("log does not say the state is kept:\n%s", r.logs)
	}
	_, st := httpGet(t, "http://"+r.addrs.HTTP+"/v1/status")
	if !strings.Contains(st, `"Stale": true`) || !strings.Contains(st, `"LastError"`) {
		t.Errorf("status: %s", st)
	}
	_, metrics := httpGet(t, "http://"+r.addrs.HTTP+"/metrics")
	for _, want := range []string{"sextant_mesos_snapshot_age_seconds", "sextant_mesosdns_dns_queries_total", "sextant_mesosdns_records{type=\"A\"}"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no clean stop")
	}
}

func TestNoListenersBeforeFirstLoad(t *testing.T) {
	m := newMaster(t)
	m.mode.Store(1)
	cfg := loadConfig(t, m, "")
	// Reserve a port, free it, and ask the role to use it: it must stay
	// closed while the master answers garbage.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := l.Addr().String()
	l.Close()
	ready := make(chan Addrs, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- compose(ctx, cfg, Options{DNSAddr: "127.0.0.1:0", HTTPAddr: httpAddr, Ready: func(a Addrs) { ready <- a }})
	}()
	defer func() {
		cancel()
		<-done
	}()
	testutil.Eventually(t, 20*time.Second, "two failed fetches", func() bool { return m.hits.Load() >= 2 })
	if c, err := net.Dial("tcp", httpAddr); err == nil {
		c.Close()
		t.Fatal("HTTP listener open before the first successful load")
	}
	m.mode.Store(0)
	select {
	case a := <-ready:
		if a.HTTP != httpAddr {
			t.Fatalf("bound %s, asked for %s", a.HTTP, httpAddr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("never ready")
	}
}

func TestPortTakenIsFatalAndNamesAddress(t *testing.T) {
	m := newMaster(t)
	cfg := loadConfig(t, m, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = compose(ctx, cfg, Options{DNSAddr: "127.0.0.1:0", HTTPAddr: l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("want an error naming %s, got %v", l.Addr(), err)
	}
}

func TestSerialIsReloadTime(t *testing.T) {
	m := newMaster(t)
	cfg := loadConfig(t, m, "")
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := run(t, cfg, Options{Now: func() time.Time { return time.Unix(now.Load(), 0) }},
		func(o *mesos.Options) { o.RefreshInterval = 200 * time.Millisecond })
	soa := func() uint32 {
		a := query(t, r.addrs.DNS, "mesos.", dns.TypeSOA)
		if len(a.Ns) != 1 {
			t.Fatalf("%v", a)
		}
		return a.Ns[0].(*dns.SOA).Serial
	}
	if s := soa(); s != 1_800_000_000 {
		t.Fatalf("serial %d", s)
	}
	now.Store(1_800_000_100)
	testutil.Eventually(t, 20*time.Second, "serial of the next reload", func() bool { return soa() == 1_800_000_100 })
}

// upstream is a DNS server on loopback answering every A question with
// ip, over UDP and TCP.
func upstream(t *testing.T, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("tcp port taken: %v", err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		rr, _ := dns.NewRR(r.Question[0].Name + " 30 IN A " + ip)
		m.Answer = []dns.RR{rr}
		_ = w.WriteMsg(m)
	})
	u := &dns.Server{PacketConn: pc, Handler: h}
	tc := &dns.Server{Listener: l, Handler: h}
	go func() { _ = u.ActivateAndServe() }()
	go func() { _ = tc.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = u.Shutdown()
		_ = tc.Shutdown()
	})
	return pc.LocalAddr().String()
}

func TestForwardingThroughRealForwarders(t *testing.T) {
	m := newMaster(t)
	def := upstream(t, "192.0.2.1")
	corp := upstream(t, "192.0.2.2")
	// A port with nothing listening: the first upstream fails at once and
	// the next one answers (spec §6.6: in order, first reply wins).
	dead := func() string {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}()
	cfg := loadConfig(t, m, fmt.Sprintf(`,"externalon":true,"resolvers":[%q,%q],"zoneResolvers":{"corp.example":[%q]},"timeout":2`, dead, def, corp))
	r := run(t, cfg, Options{})
	for _, c := range []struct{ name, want string }{
		{"www.example.org.", "192.0.2.1"},
		{"db.corp.example.", "192.0.2.2"},
	} {
		for _, nw := range []string{"udp", "tcp"} {
			q := new(dns.Msg)
			q.SetQuestion(c.name, dns.TypeA)
			q.RecursionDesired = true
			cl := &dns.Client{Net: nw, Timeout: 10 * time.Second}
			a, _, err := cl.Exchange(q, r.addrs.DNS)
			if err != nil {
				t.Fatalf("%s %s: %v", nw, c.name, err)
			}
			if len(a.Answer) != 1 || !strings.Contains(a.Answer[0].String(), c.want) || a.Authoritative {
				t.Errorf("%s %s: %v", nw, c.name, a)
			}
		}
	}
	// Only dead upstreams: SERVFAIL.
	cfg2 := loadConfig(t, newMaster(t), fmt.Sprintf(`,"externalon":true,"resolvers":[%q],"timeout":1`, dead))
	r2 := run(t, cfg2, Options{})
	if a := query(t, r2.addrs.DNS, "www.example.org.", dns.TypeA); a.Rcode != dns.RcodeServerFailure {
		t.Errorf("all upstreams dead: %v", a)
	}
}
