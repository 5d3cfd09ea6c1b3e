package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/testutil"
)

// portMaster is a static Mesos master on a fixed loopback address that can
// be stopped and started again on the same address: a master that goes
// away and comes back, or one that is not there yet when sextant starts.
type portMaster struct {
	t    *testing.T
	addr string
	body []byte

	mu  sync.Mutex
	srv *http.Server
}

func newPortMaster(t *testing.T) *portMaster {
	t.Helper()
	m := &portMaster{t: t, addr: testutil.FreeAddr(t)}
	m.body, _ = json.Marshal(testutil.FakeState(t, "master@"+m.addr))
	t.Cleanup(m.stop)
	return m
}

func (m *portMaster) start() {
	m.t.Helper()
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		m.t.Fatalf("master on %s: %v", m.addr, err)
	}
	// /master/state only: the operator API is 404, so the source polls.
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/master/state" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(m.body)
	})}
	go func() { _ = srv.Serve(ln) }()
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
}

// stop closes the listener and every connection: fetches fail at once.
func (m *portMaster) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		_ = m.srv.Close()
		m.srv = nil
	}
}

// mdnsHealth is what the tests read of a /health body.
type mdnsHealth struct {
	Code    int
	Raw     string
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

func getHealth(url string) (mdnsHealth, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return mdnsHealth{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := mdnsHealth{Code: resp.StatusCode, Raw: string(b)}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("/health body: %w: %s", err, b)
	}
	if len(h.Sources) != 1 || h.Sources[0].Name != "mesos" {
		return h, errors.New("/health does not list the mesos source: " + h.Raw)
	}
	return h, nil
}

func askDNS(addr, name string, qt uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qt)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, addr)
	return r, err
}

func writeConfig(t *testing.T, cfg string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMesosDNSHealthFollowsStaleness: the state server under `sextant
// mesos-dns` goes away. /health stays 200 ("degraded", the source "stale"
// with its age and last error) while the records served are at most
// 3 × refreshSeconds old, turns 503 past that, and back to 200 when the
// master returns; DNS answers the last good names throughout.
func TestMesosDNSHealthFollowsStaleness(t *testing.T) {
	t.Parallel()
	m := newPortMaster(t)
	m.start()
	dnsAddr, httpAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	dh, dp, _ := net.SplitHostPort(dnsAddr)
	hh, hp, _ := net.SplitHostPort(httpAddr)
	base := "http://" + httpAddr
	proc := testutil.StartProcess(t, exec.Command(testutil.Binary(t), "mesos-dns", "-config", writeConfig(t, fmt.Sprintf(`{
  "masters": [%q], "refreshSeconds": 1, "stateTimeoutSeconds": 2,
  "listener": %q, "port": %s, "httpListener": %q, "httpport": %s, "externalon": false}`, m.addr, dh, dp, hh, hp))))

	answers := func() bool {
		r, err := askDNS(dnsAddr, "liquor-store.marathon.mesos.", dns.TypeA)
		return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 2
	}
	proc.Eventually(60*time.Second, "names and /health 200 ok", func() bool {
		h, err := getHealth(base)
		return answers() && err == nil && h.Code == 200 && h.Status == "ok" && h.Sources[0].State == "ok"
	})

	m.stop()
	var degraded, unhealthy bool
	proc.Eventually(60*time.Second, "/health 503 past 3 × refreshSeconds", func() bool {
		if !answers() {
			t.Fatal("DNS stopped answering the last good names while the master is gone")
		}
		h, err := getHealth(base)
		if err != nil {
			t.Fatal(err)
		}
		s := h.Sources[0]
		switch {
		case h.Code == 200 && s.State == "ok":
			// The master has not been asked since it went away.
		case h.Code == 200 && h.Status == "degraded" && s.State == "stale" && s.LastError != "" && s.AgeSeconds != nil &&
			*s.AgeSeconds <= 3.001 && s.StaleAfterSeconds == 3:
			degraded = true
		case h.Code == 503 && h.Status == "unhealthy" && s.State == "stale" && s.AgeSeconds != nil && *s.AgeSeconds >= 2.999 &&
			strings.HasPrefix(s.Error, "stale since ") && strings.Contains(s.Error, s.LastError):
			unhealthy = true
		default:
			t.Fatalf("/health breaks the documented rule with the master gone: %d %s", h.Code, h.Raw)
		}
		return unhealthy
	})
	if !degraded {
		t.Log("no poll landed in the 200 \"degraded\" window (a loaded machine)")
	}
	if !answers() {
		t.Fatal("no answers past the bound")
	}

	m.start()
	proc.Eventually(60*time.Second, "/health 200 once the master is back", func() bool {
		if !answers() {
			t.Fatal("DNS stopped answering while the master came back")
		}
		h, err := getHealth(base)
		return err == nil && h.Code == 200 && h.Status == "ok" && h.Sources[0].State == "ok"
	})
}

// TestMesosDNSUnreachableMasterAtStart: with the master not there yet,
// `sextant mesos-dns` listens at once: names in the domain get SERVFAIL,
// other names are forwarded, /health answers 503 naming the source and
// its error. When the master appears, names answer and /health is 200.
func TestMesosDNSUnreachableMasterAtStart(t *testing.T) {
	t.Parallel()
	m := newPortMaster(t)
	upstream := testutil.ServeDNS(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		a := new(dns.Msg)
		a.SetReply(r)
		rr, _ := dns.NewRR(r.Question[0].Name + " 30 IN A 192.0.2.7")
		a.Answer = []dns.RR{rr}
		_ = w.WriteMsg(a)
	}))
	dnsAddr, httpAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	dh, dp, _ := net.SplitHostPort(dnsAddr)
	hh, hp, _ := net.SplitHostPort(httpAddr)
	base := "http://" + httpAddr
	cfg := writeConfig(t, fmt.Sprintf(`{
  "masters": [%q], "refreshSeconds": 1, "stateTimeoutSeconds": 2,
  "listener": %q, "port": %s, "httpListener": %q, "httpport": %s,
  "externalon": true, "resolvers": [%q], "timeout": 2}`, m.addr, dh, dp, hh, hp, upstream))
	start := time.Now()
	proc := testutil.StartProcess(t, exec.Command(testutil.Binary(t), "mesos-dns", "-config", cfg))

	var servfail, unhealthy time.Duration
	proc.Eventually(30*time.Second, "SERVFAIL and /health 503 with the reason", func() bool {
		if servfail == 0 {
			if r, err := askDNS(dnsAddr, "liquor-store.marathon.mesos.", dns.TypeA); err == nil {
				if r.Rcode != dns.RcodeServerFailure || r.Authoritative {
					t.Fatalf("before the first load: %v", r)
				}
				servfail = time.Since(start)
			}
		}
		if unhealthy == 0 {
			if h, err := getHealth(base); err == nil {
				s := h.Sources[0]
				if h.Code != 503 || s.State != "no-data" || !strings.HasPrefix(s.Error, "no data yet") {
					t.Fatalf("/health before the first load: %d %s", h.Code, h.Raw)
				}
				// The first fetch may still be under way: the reason
				// then gains the error a moment later.
				if strings.Contains(s.Error, m.addr) || strings.Contains(s.Error, "refused") {
					unhealthy = time.Since(start)
				}
			}
		}
		return servfail > 0 && unhealthy > 0
	})
	t.Logf("after start: SERVFAIL in %v, /health 503 with the reason in %v", servfail.Round(time.Millisecond), unhealthy.Round(time.Millisecond))
	// Generous for a loaded machine (5 s was exceeded under load): the
	// point is that neither waits for a master that is not there, which
	// the Eventually above already shows, as the master starts only after.
	if servfail > 20*time.Second || unhealthy > 20*time.Second {
		t.Errorf("listeners too slow to answer: SERVFAIL after %v, /health after %v", servfail, unhealthy)
	}
	if r, err := askDNS(dnsAddr, "www.example.org.", dns.TypeA); err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.7") {
		t.Errorf("forwarding before the first load: %v %v", r, err)
	}
	if !strings.Contains(proc.Log.String(), "listening") {
		t.Errorf("the log does not say it listens before the first load")
	}

	m.start()
	proc.Eventually(60*time.Second, "names and /health 200 once the master appears", func() bool {
		r, err := askDNS(dnsAddr, "liquor-store.marathon.mesos.", dns.TypeA)
		if err != nil || len(r.Answer) != 2 {
			return false
		}
		h, err := getHealth(base)
		return err == nil && h.Code == 200 && h.Status == "ok" && h.Checks["records"] == "ok"
	})
}
