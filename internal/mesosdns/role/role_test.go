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
	// /health: 200 "degraded" naming the stale source while its last good
	// state is younger than 3 × refreshSeconds, 503 past that; the answers
	// keep coming either way.
	sawDegraded := false
	testutil.Eventually(t, 30*time.Second, "/health 503 past 3 × refreshSeconds", func() bool {
		code, h, body := health(t, "http://"+r.addrs.HTTP)
		if len(h.Sources) != 1 || h.Sources[0].State != "stale" || h.Sources[0].LastError == "" || h.Sources[0].AgeSeconds == nil ||
			h.Sources[0].StaleAfterSeconds != 3 {
			t.Fatalf("/health while the master answers garbage: %s", body)
		}
		age := *h.Sources[0].AgeSeconds
		switch {
		// The age is rounded to the millisecond in the body.
		case code == 200 && h.Status == "degraded" && age <= 3.001:
			sawDegraded = true
		case code == 503 && h.Status == "unhealthy" && age >= 2.999 && strings.HasPrefix(h.Sources[0].Error, "stale since "):
			return true
		default:
			t.Fatalf("/health breaks the rule: %d %s", code, body)
		}
		return false
	})
	if !sawDegraded {
		t.Log("the 200 \"degraded\" window passed before the first poll (a loaded machine)")
	}
	if a := query(t, r.addrs.DNS, "liquor-store.marathon.mesos.", dns.TypeA); len(a.Answer) != 2 {
		t.Fatalf("stale answers past the bound: %v", a)
	}
	m.mode.Store(0)
	testutil.Eventually(t, 30*time.Second, "/health 200 once the master answers again", func() bool {
		code, h, _ := health(t, "http://"+r.addrs.HTTP)
		return code == 200 && h.Status == "ok" && h.Sources[0].State == "ok"
	})
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

// healthBody is the part of a /health body the tests read.
type healthBody struct {
	Status  string            `json:"status"`
	Checks  map[string]string `json:"checks"`
	Sources []struct {
		Name              string   `json:"name"`
		State             string   `json:"state"`
		AgeSeconds        *float64 `json:"age_seconds"`
		LastError         string   `json:"last_error"`
		StaleAfterSeconds float64  `json:"stale_after_seconds"`
		Error             string   `json:"error"`
	} `json:"sources"`
}

func health(t *testing.T, base string) (int, healthBody, string) {
	t.Helper()
	code, body := httpGet(t, base+"/health")
	var h healthBody
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/health: %v: %s", err, body)
	}
	return code, h, body
}

// TestListensBeforeFirstLoad: with the master answering garbage from the
// start, both listeners are open at once; DNS answers SERVFAIL for names
// in the domain and /health 503 naming the source and its error. Once the
// master answers, names answer and /health turns 200.
func TestListensBeforeFirstLoad(t *testing.T) {
	m := newMaster(t)
	m.mode.Store(1)
	cfg := loadConfig(t, m, "")
	listening := make(chan Addrs, 1)
	ready := make(chan Addrs, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- compose(ctx, cfg, Options{DNSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Listening: func(a Addrs) { listening <- a }, Ready: func(a Addrs) { ready <- a }})
	}()
	defer func() {
		cancel()
		<-done
	}()
	var a Addrs
	select {
	case a = <-listening:
	case err := <-done:
		t.Fatalf("stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not listening")
	}
	if r := query(t, a.DNS, "liquor-store.marathon.mesos.", dns.TypeA); r.Rcode != dns.RcodeServerFailure || r.Authoritative {
		t.Fatalf("before the first load: %v", r)
	}
	if code, body := httpGet(t, "http://"+a.HTTP+"/v1/version"); code != 200 {
		t.Fatalf("/v1/version before the first load: %d %s", code, body)
	}
	testutil.Eventually(t, 20*time.Second, "/health 503 naming the failed fetch", func() bool {
		code, h, _ := health(t, "http://"+a.HTTP)
		return code == 503 && h.Status == "unhealthy" && len(h.Sources) == 1 && h.Sources[0].Name == "mesos" &&
			h.Sources[0].State == "no-data" && strings.HasPrefix(h.Sources[0].Error, "no data yet: ") && h.Sources[0].LastError != "" &&
			strings.HasPrefix(h.Checks["records"], "no records loaded yet")
	})
	m.mode.Store(0)
	select {
	case got := <-ready:
		if got != a {
			t.Fatalf("ready with %v, listening on %v", got, a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("never ready")
	}
	if r := query(t, a.DNS, "liquor-store.marathon.mesos.", dns.TypeA); len(r.Answer) != 2 || !r.Authoritative {
		t.Fatalf("after the first load: %v", r)
	}
	testutil.Eventually(t, 20*time.Second, "/health 200 ok", func() bool {
		code, h, _ := health(t, "http://"+a.HTTP)
		return code == 200 && h.Status == "ok" && h.Checks["records"] == "ok"
	})
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
