package mesos

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	tu "github.com/sextantdc/sextant/internal/testutil"
)

// fakeMaster is an httptest master serving /master/state.
type fakeMaster struct {
	srv      *httptest.Server
	mu       sync.Mutex
	body     []byte
	code     int
	requests atomic.Int64
	lastReq  *http.Request
	check    func(r *http.Request) int // optional: non-zero = answer with that code
}

func (m *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/master/state" || r.Method != http.MethodGet {
		// Also what a master without the operator API answers to
		// POST /api/v1: the source falls back to polling.
		http.NotFound(w, r)
		return
	}
	m.requests.Add(1)
	m.mu.Lock()
	m.lastReq = r.Clone(context.Background())
	body, code, check := m.body, m.code, m.check
	m.mu.Unlock()
	if check != nil {
		if c := check(r); c != 0 {
			w.WriteHeader(c)
			return
		}
	}
	if code == 0 {
		code = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (m *fakeMaster) set(body []byte, code int) {
	m.mu.Lock()
	m.body, m.code = body, code
	m.mu.Unlock()
}

func (m *fakeMaster) last() *http.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastReq
}

// addr is "127.0.0.1:port".
func (m *fakeMaster) addr() string { return m.srv.Listener.Addr().String() }

func newMaster(t *testing.T) *fakeMaster {
	t.Helper()
	m := &fakeMaster{}
	m.srv = httptest.NewServer(m)
	t.Cleanup(m.srv.Close)
	return m
}

// newMasterOn starts a fake master on a given loopback address.
func newMasterOn(t *testing.T, addr string) (*fakeMaster, error) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &fakeMaster{}
	m.srv = httptest.NewUnstartedServer(m)
	m.srv.Listener.Close()
	m.srv.Listener = l
	m.srv.Start()
	t.Cleanup(m.srv.Close)
	return m, nil
}

// testState renders a small state whose leader is leader ("ip:port") and
// whose one task is named name.
func testState(t testing.TB, leader, name string) []byte {
	t.Helper()
	st := state.State{
		Leader: "master@" + leader,
		Slaves: []state.Slave{{ID: "S1", PID: "slave(1)@10.0.0.1:5051", Hostname: "a1"}},
		Frameworks: []state.Framework{{ID: "F1", Name: "marathon", PID: "scheduler-1@10.0.0.9:1234", Hostname: "m",
			Tasks: []state.Task{{ID: name + ".1", Name: name, SlaveID: "S1", State: "TASK_RUNNING",
				Resources: state.Resources{Ports: "[31000-31000]"},
				Statuses:  []state.Status{{State: "TASK_RUNNING", Timestamp: 1}}}}}},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder is a Sink that collects the published observations, each
// built into a snapshot numbered by its position, and the failures.
type recorder struct {
	mu       sync.Mutex
	snaps    []*model.Snapshot
	obs      []*model.MesosObservation
	failures int
}

func (r *recorder) PublishMesos(o *model.MesosObservation) {
	r.mu.Lock()
	r.obs = append(r.obs, o)
	r.snaps = append(r.snaps, model.Build(model.Observations{Mesos: o}, model.BuildOptions{Version: uint64(len(r.obs))}))
	r.mu.Unlock()
}

func (r *recorder) Fail(string, error) {
	r.mu.Lock()
	r.failures++
	r.mu.Unlock()
}

// streamed reports whether the last observation came from the stream.
func (r *recorder) streamed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.obs) > 0 && r.obs[len(r.obs)-1].Streamed
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.snaps)
}

func (r *recorder) lastSnap() *model.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.snaps) == 0 {
		return nil
	}
	return r.snaps[len(r.snaps)-1]
}

func (r *recorder) taskName() string {
	s := r.lastSnap()
	if s == nil || len(s.Tasks) == 0 {
		return ""
	}
	return s.Tasks[0].Name
}

type harness struct {
	src  *Source
	rec  *recorder
	reg  *prometheus.Registry
	logs *tu.LogBuffer
	errc chan error
}

// run starts a Source with o; RefreshInterval defaults to an hour so only
// the initial load and explicit triggers fetch.
func run(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{rec: &recorder{}, reg: prometheus.NewRegistry(), logs: &tu.LogBuffer{}, errc: make(chan error, 1)}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = time.Hour
	}
	if o.StateTimeout == 0 {
		o.StateTimeout = 10 * time.Second
	}
	o.Registerer = h.reg
	o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(h.logs, tlog{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := New(o, h.rec)
	if err != nil {
		t.Fatal(err)
	}
	h.src = src
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.errc <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// tlog forwards log lines to t.Log while the test runs.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) counter(t *testing.T, result string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sextant_mesos_refresh_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

func (h *harness) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

const wait = 15 * time.Second

func TestStaticMastersFirstWins(t *testing.T) {
	a, b := newMaster(t), newMaster(t)
	a.set(testState(t, a.addr(), "from-a"), 0)
	b.set(testState(t, b.addr(), "from-b"), 0)
	h := run(t, Options{Masters: []string{a.addr(), b.addr()}})
	tu.Eventually(t, wait, "first snapshot", func() bool { return h.rec.n() == 1 })
	if got := h.rec.taskName(); got != "from-a" {
		t.Fatalf("snapshot from %q, want the first master's", got)
	}
	if b.requests.Load() != 0 {
		t.Fatalf("second master asked %d times although the first answered", b.requests.Load())
	}
	s := h.rec.lastSnap()
	if s.Version != 1 || h.rec.streamed() || !s.Leader.OK || s.Leader.Raw != "master@"+a.addr() {
		t.Fatalf("snapshot version %d streamed %v leader %+v", s.Version, h.rec.streamed(), s.Leader)
	}
	st := h.src.Status()
	if st.Stale || st.Version != 1 || st.Master != a.addr() || st.LastSuccess.IsZero() || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
	if got := h.counter(t, "ok"); got != 1 {
		t.Fatalf("refresh_total{ok} = %v", got)
	}
}

func TestFailoverToNextMaster(t *testing.T) {
	// A closed port: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	broken := newMaster(t)
	broken.set(nil, http.StatusServiceUnavailable)
	good := newMaster(t)
	good.set(testState(t, good.addr(), "good"), 0)
	h := run(t, Options{Masters: []string{dead, broken.addr(), good.addr()}})
	tu.Eventually(t, wait, "snapshot from the third master", func() bool { return h.rec.taskName() == "good" })
	if broken.requests.Load() == 0 {
		t.Fatal("the second master was never asked")
	}
	if !strings.Contains(h.logs.String(), "trying the next master") {
		t.Fatal("no log line for the failed masters")
	}
	mfs, _ := h.reg.Gather()
	found := 0
	for _, mf := range mfs {
		if mf.GetName() == "sextant_mesos_master_fetch_errors_total" {
			found = len(mf.GetMetric())
		}
	}
	if found != 2 {
		t.Fatalf("master fetch error series = %d, want 2", found)
	}
}

func TestLeaderRedirect(t *testing.T) {
	// The leader is on another loopback IP (127.0.0.2) with the same port
	// as the master asked; the port the state names (1) is ignored, as in
	// Mesos-DNS.
	var follower, leader *fakeMaster
	for attempt := 0; attempt < 5 && leader == nil; attempt++ {
		f := newMaster(t)
		_, port, _ := net.SplitHostPort(f.addr())
		l, err := newMasterOn(t, "127.0.0.2:"+port)
		if err != nil {
			continue
		}
		follower, leader = f, l
	}
	if leader == nil {
		t.Skip("cannot bind 127.0.0.2 with a matching port")
	}
	follower.set(testState(t, "127.0.0.2:1", "from-follower"), 0)
	leader.set(testState(t, leader.addr(), "from-leader"), 0)
	h := run(t, Options{Masters: []string{follower.addr()}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	if got := h.rec.taskName(); got != "from-leader" {
		t.Fatalf("snapshot from %q, want the leader's", got)
	}
	if st := h.src.Status(); st.Master != leader.addr() {
		t.Fatalf("status master %q, want %q", st.Master, leader.addr())
	}
}

func TestLeaderRedirectUsesResultAsIs(t *testing.T) {
	// The named leader is unreachable: the refresh fails (the original does
	// not fall back to the follower's state).
	f := newMaster(t)
	f.set(testState(t, "127.0.0.3:1", "from-follower"), 0)
	h := run(t, Options{Masters: []string{f.addr()}})
	tu.Eventually(t, wait, "error", func() bool { return h.counter(t, "error") == 1 })
	if err := h.src.Check(); err == nil || !strings.Contains(err.Error(), "no mesos state fetched yet") {
		t.Fatalf("Check before any state: %v", err)
	}
	if h.rec.n() != 0 {
		t.Fatal("a snapshot was emitted from a non-leader")
	}
	if st := h.src.Status(); !strings.Contains(st.LastError, "127.0.0.3") {
		t.Fatalf("last error %q does not name the leader", st.LastError)
	}
}

func TestBadAnswersKeepLastGood(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "v1"), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	tu.Eventually(t, wait, "first snapshot", func() bool { return h.rec.n() == 1 })
	first := h.src.Status()

	cases := []struct {
		name    string
		body    string
		code    int
		wantErr string
	}{
		{"non-2xx with JSON body", `{"leader":"master@` + m.addr() + `"}`, http.StatusInternalServerError, "status 500"},
		{"404", "not found", http.StatusNotFound, "status 404"},
		{"malformed JSON", `{"leader": "master@` + m.addr() + `", "slaves": [`, 0, "mesos state"},
		{"not JSON", `<html>proxy error</html>`, 0, "mesos state"},
		{"no leader", `{"slaves":[]}`, 0, "does not contain leader information"},
		{"leader of the wrong type", `{"leader": 5}`, 0, "does not contain leader information (JSON number where a string is expected"},
		{"slaves not a list", `{"leader": "master@` + m.addr() + `", "slaves": {}}`, 0, "mesos state: slaves is a JSON object, not an array"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.set([]byte(c.body), c.code)
			h.src.Trigger()
			tu.Eventually(t, wait, "failed refresh", func() bool { return h.counter(t, "error") == float64(i+1) })
			st := h.src.Status()
			if !st.Stale || !strings.Contains(st.LastError, c.wantErr) || st.LastErrorTime.IsZero() {
				t.Fatalf("status %+v, want stale with error containing %q", st, c.wantErr)
			}
			if st.Version != 1 || !st.LastSuccess.Equal(first.LastSuccess) {
				t.Fatalf("last good state changed: %+v", st)
			}
			if h.rec.n() != 1 {
				t.Fatalf("%d snapshots emitted, want the first only", h.rec.n())
			}
		})
	}
	if !strings.Contains(h.logs.String(), "keeping last good state") {
		t.Fatal("log does not say the last good state is kept")
	}
	if got := h.gauge(t, "sextant_mesos_last_success_timestamp_seconds"); got != float64(first.LastSuccess.UnixNano())/1e9 {
		t.Fatalf("last success gauge %v", got)
	}
	if age := h.gauge(t, "sextant_mesos_snapshot_age_seconds"); age < 0 {
		t.Fatalf("snapshot age %v", age)
	}
	if err := h.src.Check(); err == nil || !strings.Contains(err.Error(), "last refresh failed") {
		t.Fatalf("Check while stale: %v", err)
	}
	// Recovery: the next good answer is version 2 and clears Stale.
	m.set(testState(t, m.addr(), "v2"), 0)
	h.src.Trigger()
	tu.Eventually(t, wait, "recovery", func() bool { return h.rec.taskName() == "v2" })
	if st := h.src.Status(); st.Stale || st.Version != 2 {
		t.Fatalf("status after recovery %+v", st)
	}
	if err := h.src.Check(); err != nil {
		t.Fatalf("Check after recovery: %v", err)
	}
}

func TestVersionsIncreaseByOne(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	for i := 1; i <= 4; i++ {
		tu.Eventually(t, wait, "snapshot "+strconv.Itoa(i), func() bool { return h.rec.n() == i })
		if i < 4 {
			h.src.Trigger()
		}
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for i, s := range h.rec.snaps {
		if s.Version != uint64(i+1) {
			t.Fatalf("snapshot %d has version %d", i, s.Version)
		}
	}
}

func TestTickerRefreshes(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	h := run(t, Options{Masters: []string{m.addr()}, RefreshInterval: 50 * time.Millisecond})
	tu.Eventually(t, wait, "three refreshes", func() bool { return h.rec.n() >= 3 })
}

func TestCrashingItemsStillEmit(t *testing.T) {
	// Items that crashed Mesos-DNS or failed its whole reload: an agent
	// without pid, a port piece without '-', a bad framework pid.
	m := newMaster(t)
	doc := `{"leader":"master@` + m.addr() + `",
	 "slaves":[{"id":"S1","pid":"slave(1)@10.0.0.1:5051"},{"id":"S2"}],
	 "frameworks":[{"id":"F1","name":"marathon","pid":"bad-pid","tasks":[
	   {"id":"a.1","name":"a","slave_id":"S1","state":"TASK_RUNNING","resources":{"ports":"[31000]"}},
	   {"id":"b.1","name":"b","slave_id":"S2","state":"TASK_RUNNING","resources":{"ports":"[31001-31001]"}}]}]}`
	m.set([]byte(doc), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	s := h.rec.lastSnap()
	if len(s.Tasks) != 2 || len(s.Agents) != 2 {
		t.Fatalf("tasks %d agents %d, want 2 and 2", len(s.Tasks), len(s.Agents))
	}
	if len(s.Problems) < 3 {
		t.Fatalf("problems %v, want at least 3", s.Problems)
	}
	if got := h.gauge(t, "sextant_mesos_snapshot_problems"); got != float64(len(s.Problems)) {
		t.Fatalf("problems gauge %v, want %d", got, len(s.Problems))
	}
	if !strings.Contains(h.logs.String(), "skipped or degraded") {
		t.Fatal("problems not logged")
	}
	// Logged once: a second identical refresh adds no new problem lines.
	before := strings.Count(h.logs.String(), "skipped or degraded")
	h.src.Trigger()
	tu.Eventually(t, wait, "second snapshot", func() bool { return h.rec.n() == 2 })
	if after := strings.Count(h.logs.String(), "skipped or degraded"); after != before {
		t.Fatalf("problem lines %d → %d on an unchanged state", before, after)
	}
}

func TestFixtureState(t *testing.T) {
	dir := tu.Fixtures(t, "mesos")
	b, err := os.ReadFile(filepath.Join(dir, "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	// The fixture's leader is 1.2.3.4; serve it from loopback and rewrite
	// the leader so no redirect leaves the machine.
	m := newMaster(t)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["leader"] = "master@" + m.addr()
	b2, _ := json.Marshal(doc)
	m.set(b2, 0)
	h := run(t, Options{Masters: []string{m.addr()}, Resolver: fakeResolver{}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	s := h.rec.lastSnap()
	n := 0
	for _, f := range st.Frameworks {
		n += len(f.Tasks)
	}
	if len(s.Tasks) != n || len(s.Agents) != len(st.Slaves) || len(s.Frameworks) != len(st.Frameworks) {
		t.Fatalf("snapshot has %d tasks %d agents %d frameworks; state %d %d %d",
			len(s.Tasks), len(s.Agents), len(s.Frameworks), n, len(st.Slaves), len(st.Frameworks))
	}
}

// fakeResolver resolves names listed in it; others fail.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	if host == "slow.example" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestHostNamesResolved(t *testing.T) {
	m := newMaster(t)
	doc := `{"leader":"master@` + m.addr() + `",
	 "slaves":[{"id":"S1","pid":"slave(1)@agent1.example:5051"},{"id":"S2","pid":"slave(1)@nowhere.example:5051"},
	           {"id":"S3","pid":"slave(1)@slow.example:5051"}],
	 "frameworks":[{"id":"F1","name":"marathon","hostname":"sched.example","tasks":[]}]}`
	m.set([]byte(doc), 0)
	res := fakeResolver{
		"agent1.example": {netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("::ffff:10.1.1.2"), netip.MustParseAddr("10.1.1.1")},
		"sched.example":  {netip.MustParseAddr("fd00::9")},
	}
	h := run(t, Options{Masters: []string{m.addr()}, Resolver: res, ResolveTimeout: 200 * time.Millisecond})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	s := h.rec.lastSnap()
	want := []netip.Addr{netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.1.1.2")}
	if got := s.HostIPs["agent1.example"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("agent1 addrs %v, want %v (unmapped, deduplicated)", got, want)
	}
	if _, ok := s.HostIPs["nowhere.example"]; ok {
		t.Fatal("an unresolvable host has addresses")
	}
	if _, ok := s.HostIPs["slow.example"]; ok {
		t.Fatal("a timed-out host has addresses")
	}
	if a, _ := s.AgentByID("S1"); len(a.Addrs) != 2 {
		t.Fatalf("agent S1 addrs %v", a.Addrs)
	}
	if len(s.Frameworks[0].Addrs) != 1 {
		t.Fatalf("framework addrs %v", s.Frameworks[0].Addrs)
	}
	if !strings.Contains(h.logs.String(), "nowhere.example") {
		t.Fatal("unresolvable host not logged")
	}
}

func TestRequestHeadersAndBasicAuth(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	m.check = func(r *http.Request) int {
		u, p, ok := r.BasicAuth()
		if !ok || u != "principal" || p != "s3cret" {
			return http.StatusUnauthorized
		}
		return 0
	}
	h := run(t, Options{Masters: []string{m.addr()}, Basic: &BasicAuth{Principal: "principal", Secret: "s3cret"}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	r := m.last()
	if r.Header.Get("User-Agent") != "Mesos-DNS" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", r.Header)
	}
	if !r.Close {
		t.Fatal("keep-alive is on; the state client must close each connection")
	}

	// Wrong credentials: 401 is a failed fetch naming the status.
	m2 := newMaster(t)
	m2.set(testState(t, m2.addr(), "x"), 0)
	m2.check = m.check
	h2 := run(t, Options{Masters: []string{m2.addr()}, Basic: &BasicAuth{Principal: "principal", Secret: "wrong"}})
	tu.Eventually(t, wait, "failure", func() bool { return h2.counter(t, "error") == 1 })
	if st := h2.src.Status(); !strings.Contains(st.LastError, "401") {
		t.Fatalf("last error %q", st.LastError)
	}
}

func testRSAKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// verifyJWT checks an RS256 token and returns its claims.
func verifyJWT(tok string, pub *rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not three parts")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, err
	}
	var hdr map[string]string
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr["alg"] != "RS256" {
		return nil, fmt.Errorf("header %s", hb)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, 5, sum[:], sig); err != nil { // 5 = crypto.SHA256
		return nil, err
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(cb, &claims)
}

func TestIAMLogin(t *testing.T) {
	key, pemKey := testRSAKey(t)
	var logins atomic.Int64
	var loginErr atomic.Value
	fail := atomic.Bool{}
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		var body struct{ UID, Token string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost {
			loginErr.Store(fmt.Sprintf("bad login request: %v %s", err, r.Method))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		claims, err := verifyJWT(body.Token, &key.PublicKey)
		if err != nil {
			loginErr.Store("jwt: " + err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		exp, _ := claims["exp"].(float64)
		if body.UID != "svc" || claims["uid"] != "svc" || time.Until(time.Unix(int64(exp), 0)) < 50*time.Minute {
			loginErr.Store(fmt.Sprintf("claims %v uid %q", claims, body.UID))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fail.Load() {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + strconv.FormatInt(logins.Load(), 10)})
	}))
	t.Cleanup(login.Close)

	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	m.check = func(r *http.Request) int {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "token=tok-") {
			return http.StatusUnauthorized
		}
		return 0
	}
	cfgJSON, _ := json.Marshal(map[string]string{"uid": "svc", "private_key": pemKey, "login_endpoint": login.URL + "/acs/api/v1/auth/login"})
	iam, err := ParseIAMConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	// Polling only, so every login belongs to a state request.
	h := run(t, Options{Masters: []string{m.addr()}, IAM: iam, NoStream: true})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	if e := loginErr.Load(); e != nil {
		t.Fatal(e)
	}
	// A login before every state request.
	h.src.Trigger()
	tu.Eventually(t, wait, "second snapshot", func() bool { return h.rec.n() == 2 })
	if got := m.last().Header.Get("Authorization"); got != "token=tok-2" || logins.Load() != 2 {
		t.Fatalf("authorization %q after %d logins", got, logins.Load())
	}
	// A failed login fails the refresh.
	fail.Store(true)
	h.src.Trigger()
	tu.Eventually(t, wait, "failed refresh", func() bool { return h.counter(t, "error") == 1 })
	if st := h.src.Status(); !strings.Contains(st.LastError, "iam login") || !strings.Contains(st.LastError, "403") {
		t.Fatalf("last error %q", st.LastError)
	}
}

func TestParseIAMConfigErrors(t *testing.T) {
	_, pemKey := testRSAKey(t)
	ecKey := "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\nOF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n-----END PRIVATE KEY-----\n"
	cases := []struct{ name, doc, want string }{
		{"not JSON", `{`, "invalid JSON"},
		{"no uid", `{"private_key":"x","login_endpoint":"http://a/"}`, "uid"},
		{"no key", `{"uid":"u","login_endpoint":"http://a/"}`, "private_key"},
		{"no endpoint", `{"uid":"u","private_key":"x"}`, "login_endpoint"},
		{"bad endpoint", `{"uid":"u","private_key":` + strconv.Quote(pemKey) + `,"login_endpoint":"ftp://a/"}`, "login_endpoint"},
		{"not PEM", `{"uid":"u","private_key":"abc","login_endpoint":"http://a/"}`, "no PEM block"},
		{"EC key", `{"uid":"u","private_key":` + strconv.Quote(ecKey) + `,"login_endpoint":"http://a/"}`, "private_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseIAMConfig([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	m := &fakeMaster{}
	m.srv = httptest.NewTLSServer(m)
	t.Cleanup(m.srv.Close)
	m.set(testState(t, m.addr(), "tls"), 0)

	// No CA file: verification is skipped, as in Mesos-DNS.
	h := run(t, Options{Masters: []string{m.addr()}, HTTPS: true})
	tu.Eventually(t, wait, "snapshot over https", func() bool { return h.rec.n() == 1 })

	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := run(t, Options{Masters: []string{m.addr()}, HTTPS: true, CACertFile: good})
	tu.Eventually(t, wait, "snapshot with the CA", func() bool { return h2.rec.n() == 1 })

	// A CA that did not sign the server's certificate: the fetch fails.
	bad := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert(t)}), 0o600); err != nil {
		t.Fatal(err)
	}
	h3 := run(t, Options{Masters: []string{m.addr()}, HTTPS: true, CACertFile: bad})
	tu.Eventually(t, wait, "failed verification", func() bool { return h3.counter(t, "error") == 1 })
	if st := h3.src.Status(); !strings.Contains(st.LastError, "certificate") {
		t.Fatalf("last error %q", st.LastError)
	}
}

// otherCert makes a self-signed certificate unrelated to httptest's.
func otherCert(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOptionsErrors(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no masters", Options{}, "no masters"},
		{"bad master", Options{Masters: []string{"127.0.0.1:1", "10.0.0.1"}}, "masters[1]"},
		{"both auths", Options{Masters: []string{"127.0.0.1:1"}, Basic: &BasicAuth{}, IAM: &IAMConfig{}}, "exclusive"},
		{"negative refresh", Options{Masters: []string{"127.0.0.1:1"}, RefreshInterval: -time.Second}, "refresh interval"},
		{"half client cert", Options{Masters: []string{"127.0.0.1:1"}, CertFile: "x"}, "client certificate"},
		{"missing CA", Options{Masters: []string{"127.0.0.1:1"}, CACertFile: "/nonexistent/ca.pem"}, "CA file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.o, SinkFunc(func(*model.MesosObservation) {}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	if err := h.src.Run(context.Background()); err == nil {
		t.Fatal("a second Run did not fail")
	}
}

func TestMetricsLint(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

func FuzzParseIAMConfig(f *testing.F) {
	f.Add([]byte(`{"uid":"u","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n","login_endpoint":"https://m/acs/api/v1/auth/login"}`))
	f.Add([]byte(`{"uid":"","private_key":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseIAMConfig(b)
		if err != nil {
			return
		}
		if c.UID == "" || c.LoginEndpoint == "" || c.key == nil {
			t.Fatalf("accepted incomplete config %+v", c)
		}
		if _, err := c.LoginToken(time.Unix(0, 0)); err != nil {
			t.Fatalf("accepted config cannot sign: %v", err)
		}
	})
}

func TestStateTimeout(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "slow"), 0)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	m.check = func(*http.Request) int {
		select {
		case <-stop:
		case <-time.After(5 * time.Second):
		}
		return 0
	}
	h := run(t, Options{Masters: []string{m.addr()}, StateTimeout: 200 * time.Millisecond, NoStream: true})
	tu.Eventually(t, wait, "timed-out refresh", func() bool { return h.counter(t, "error") == 1 })
	if st := h.src.Status(); !strings.Contains(st.LastError, "Timeout") {
		t.Fatalf("last error %q", st.LastError)
	}
}

func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &fakeMaster{}
	m.srv = httptest.NewUnstartedServer(m)
	m.srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)
	m.set(testState(t, m.addr(), "mtls"), 0)
	m.check = func(r *http.Request) int {
		if r.TLS == nil || len(r.TLS.PeerCertificates) != 1 || r.TLS.PeerCertificates[0].SerialNumber.Int64() != 7 {
			return http.StatusForbidden
		}
		return 0
	}
	h := run(t, Options{Masters: []string{m.addr()}, HTTPS: true, CertFile: certFile, KeyFile: keyFile})
	tu.Eventually(t, wait, "snapshot over mutual TLS", func() bool { return h.rec.taskName() == "mtls" })
}
