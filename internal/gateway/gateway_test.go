package gateway

import (
	"bufio"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/gateway/auth"
	"github.com/sextantdc/sextant/internal/model"
)

// seen is what an upstream received.
type seen struct {
	Upstream      string
	Method        string
	Path          string // escaped, as sent
	Query         string
	Host          string
	Header        http.Header
	ContentLength int64
	Body          string
}

// upstream is a real HTTP server on loopback that reports what it got.
type upstream struct {
	name string
	srv  *httptest.Server
	last atomic.Pointer[seen]
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := &seen{Upstream: name, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: string(body)}
		u.last.Store(s)
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/redirect-relative"):
			w.Header().Set("Location", "/login?next=1")
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasSuffix(p, "/redirect-absolute"):
			w.Header().Set("Location", "http://"+r.Host+"/inside")
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasSuffix(p, "/redirect-prefixed"):
			w.Header().Set("Location", "/service/group/app/already")
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasSuffix(p, "/redirect-elsewhere"):
			w.Header().Set("Location", "http://elsewhere.example/x")
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasSuffix(p, "/events"):
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			// Hold the stream open: the client must see the first event
			// while it lasts.
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
			return
		case strings.HasSuffix(p, "/ws") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			line, _ := brw.ReadString('\n')
			fmt.Fprint(brw, "echo:"+line)
			brw.Flush()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "upstream/1.2.3")
		_ = json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() netip.AddrPort {
	return netip.MustParseAddrPort(u.srv.Listener.Addr().String())
}

type fixture struct {
	t       *testing.T
	gw      *Gateway
	srv     *httptest.Server
	ups     map[string]*upstream
	snap    atomic.Pointer[model.Snapshot]
	auth    *auth.Service
	authKey *rsa.PrivateKey
	token   string
}

// cluster builds a snapshot naming the fixture's upstreams: the Mesos
// leader, an agent, Marathon (a framework with a webui_url), Marathon apps
// labelled for /service, an SDK-style framework by name and by id, and a
// framework with an empty webui_url (resolved through Mesos-DNS).
func (f *fixture) cluster() *model.Snapshot {
	lo := netip.MustParseAddr("127.0.0.1")
	mesos, agent := f.ups["mesos"].addr(), f.ups["agent"].addr()
	mo := &model.MesosObservation{
		Leader: model.Leader{Raw: "master@" + mesos.String(), Host: "127.0.0.1", Port: mesos.Port(), OK: true},
		Agents: []model.Agent{{ID: "S1", PID: "slave(1)@" + agent.String(), Host: "127.0.0.1", Port: agent.Port(), Addrs: []netip.Addr{lo}, IP: lo}},
		Frameworks: []model.Framework{
			{ID: "fw-marathon", Name: "marathon", WebUIURL: f.ups["marathon"].srv.URL + "/", Active: true},
			{ID: "fw-kafka", Name: "kafka", WebUIURL: f.ups["kafka"].srv.URL, Active: true},
			{ID: "fw-byid-0001", Name: "some name", WebUIURL: f.ups["byid"].srv.URL, Active: true},
			{ID: "fw-dns", Name: "dnsfw", WebUIURL: "", Active: true},
		},
	}
	app := f.ups["app"].addr()
	nore := f.ups["norewrite"].addr()
	mar := &model.MarathonObservation{Apps: []model.App{
		{ID: "/group/app", Labels: map[string]string{LabelServiceName: "group/app", LabelServiceScheme: "http", LabelServicePortIndex: "0"},
			Ports: []model.AppPort{{Name: "http"}},
			Tasks: []model.AppTask{
				{ID: "group_app.staging", Host: "127.0.0.1", State: model.TaskStaging, Ports: []uint16{1}},
				{ID: "group_app.1", Host: "127.0.0.1", State: model.TaskRunning, Ports: []uint16{app.Port()}},
			}},
		{ID: "/norewrite", Labels: map[string]string{LabelServiceName: "norewrite", LabelServiceScheme: "http", LabelServicePortIndex: "0",
			LabelRewriteURLs: "false", LabelRequestBuffering: "false"},
			Ports: []model.AppPort{{Name: "http"}},
			Tasks: []model.AppTask{{ID: "norewrite.1", Host: "127.0.0.1", State: model.TaskRunning, Ports: []uint16{nore.Port()}}}},
		{ID: "/badindex", Labels: map[string]string{LabelServiceName: "badindex", LabelServiceScheme: "http", LabelServicePortIndex: "7"},
			Tasks: []model.AppTask{{ID: "badindex.1", Host: "127.0.0.1", State: model.TaskRunning, Ports: []uint16{nore.Port()}}}},
	}}
	return model.Build(model.Observations{Mesos: mo, Marathon: mar}, model.BuildOptions{Version: 1,
		Sources: []model.SourceVersion{{Name: "mesos", Version: 1}, {Name: "marathon", Version: 1}}})
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, ups: map[string]*upstream{}}
	for _, n := range []string{"mesos", "agent", "marathon", "kafka", "byid", "app", "norewrite", "dnsapp", "net", "overlay"} {
		f.ups[n] = newUpstream(t, n)
	}
	// Mesos-DNS: a real HTTP server answering SRV lookups the way
	// Mesos-DNS' /v1/services does, and recording other requests.
	dnsapp := f.ups["dnsapp"].addr()
	mdnsRec := newUpstream(t, "mesosdns")
	mdns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/services/_dnsfw._tcp.marathon.mesos":
			fmt.Fprintf(w, `[{"service":"_dnsfw._tcp.marathon.mesos","host":"dnsfw.marathon.mesos","ip":"127.0.0.1","port":"%d"}]`, dnsapp.Port())
		case "/v1/services/_broken._tcp.marathon.mesos":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			if strings.HasPrefix(r.URL.Path, "/v1/services/") {
				fmt.Fprint(w, `[{"service":"","host":"","ip":"","port":""}]`)
				return
			}
			mdnsRec.srv.Config.Handler.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(mdns.Close)
	f.ups["mesosdns"] = mdnsRec
	store, err := auth.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.auth = auth.New(store, auth.Options{})
	f.authKey = store.Key()
	f.token, _ = f.auth.Issue("admin", 0)
	w := NewWatch(WatchOptions{})
	f.gw = New(Options{Current: f.snap.Load, Mesos: f.ups["mesos"].srv.URL, MesosDNS: mdns.URL, Net: f.ups["net"].srv.URL,
		OverlayMaster: f.ups["overlay"].srv.URL, Auth: f.auth, Watch: w})
	f.snap.Store(f.cluster())
	w.Update(f.snap.Load())
	f.srv = serveGateway(t, f.gw)
	return f
}

// serveGateway serves gw as the gateway role does, through Server: the
// hot path on httpfast, the rest handed to net/http.
func serveGateway(t *testing.T, gw *Gateway) *httptest.Server {
	ts := httptest.NewUnstartedServer(gw)
	gs := NewServer(gw, ts.Config)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(ts.Listener) }()
	ts.URL = "http://" + ts.Listener.Addr().String()
	t.Cleanup(func() { _ = gs.Close(); <-done })
	return ts
}

var noRedirect = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends a request through the gateway with the token in the header.
func (f *fixture) do(method, path string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	// Keep the path exactly as written (no client-side cleaning).
	req.URL.Opaque = ""
	if u, err := url.Parse(f.srv.URL + path); err == nil {
		req.URL = u
	}
	req.Header.Set("Authorization", "token="+f.token)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func TestRouteTable(t *testing.T) {
	f := newFixture(t)
	gwHost := f.srv.Listener.Addr().String()
	tests := []struct {
		path       string
		code       int
		upstream   string // "" = answered by the gateway
		upPath     string
		upQuery    string
		location   string
		body       string // exact, for the gateway's own answers
		connClose  bool
		stripAuth  bool
		noAcceptEn bool
	}{
		{path: "/mesos", code: 301, location: "/mesos/"},
		{path: "/mesos/master/state?jsonp=x", code: 200, upstream: "mesos", upPath: "/master/state", upQuery: "jsonp=x", connClose: true},
		{path: "/mesos/overlay-master/state", code: 200, upstream: "mesos", upPath: "/overlay-master/state", connClose: true},
		{path: "/mesos_dns", code: 301, location: "/mesos_dns/"},
		{path: "/mesos_dns/v1/version", code: 200, upstream: "mesosdns", upPath: "/v1/version", stripAuth: true},
		{path: "/net", code: 301, location: "/net/"},
		{path: "/net/v1/vips", code: 200, upstream: "net", upPath: "/v1/vips", stripAuth: true},
		{path: "/overlay-master/state", code: 200, upstream: "overlay", upPath: "/overlay-master/state"},
		{path: "/agent/S1/files/browse?path=/x", code: 200, upstream: "agent", upPath: "/files/browse", upQuery: "path=/x", connClose: true, noAcceptEn: true},
		{path: "/slave/S1/state", code: 200, upstream: "agent", upPath: "/state", connClose: true, noAcceptEn: true},
		{path: "/agent/S1", code: 200, upstream: "agent", upPath: "/", connClose: true, noAcceptEn: true},
		{path: "/agent/S9/state", code: 404, body: "404 Not Found: agent `S9` unknown.\n"},
		{path: "/marathon", code: 307, location: "/marathon/"},
		{path: "/marathon?embed=x", code: 307, location: "/marathon/?embed=x"},
		{path: "/marathon/v2/apps", code: 200, upstream: "marathon", upPath: "/v2/apps"},
		{path: "/service/marathon/v2/apps?embed=apps.tasks", code: 200, upstream: "marathon", upPath: "/v2/apps", upQuery: "embed=apps.tasks"},
		{path: "/service/kafka", code: 301, location: "/service/kafka/"},
		{path: "/service/kafka/", code: 200, upstream: "kafka", upPath: "/"},
		{path: "/service/kafka/v1/state", code: 200, upstream: "kafka", upPath: "/v1/state"},
		{path: "/service/fw-byid-0001/x", code: 200, upstream: "byid", upPath: "/x"},
		{path: "/service/group/app/a%20b/c%3Fd?q=1", code: 200, upstream: "app", upPath: "/a%20b/c%3Fd", upQuery: "q=1"},
		{path: "/service////group///app//x", code: 200, upstream: "app", upPath: "//x"},
		{path: "/service/group/app", code: 200, upstream: "app", upPath: "/"},
		{path: "/service/norewrite/sub/x", code: 200, upstream: "norewrite", upPath: "/service/norewrite/sub/x"},
		{path: "/service/dnsfw/api", code: 200, upstream: "dnsapp", upPath: "/api"},
		{path: "/service/badindex/x", code: 404, body: "404 Not Found: service not found.\n"},
		{path: "/service/nothing/here", code: 404, body: "404 Not Found: service not found.\n"},
		{path: "/service/group/app/redirect-relative", code: 302, upstream: "app", upPath: "/redirect-relative", location: "/service/group/app/login?next=1"},
		{path: "/service/group/app/redirect-absolute", code: 302, upstream: "app", upPath: "/redirect-absolute", location: "/service/group/app/inside"},
		{path: "/service/group/app/redirect-prefixed", code: 302, upstream: "app", upPath: "/redirect-prefixed", location: "/service/group/app/already"},
		{path: "/service/group/app/redirect-elsewhere", code: 302, upstream: "app", upPath: "/redirect-elsewhere", location: "http://elsewhere.example/x"},
		// No path leaves its upstream.
		{path: "/service/group/app/../../mesos/x", code: 400, body: errBadPath + "\n"},
		{path: "/service/group/app/%2e%2e/%2E%2E/x", code: 400, body: errBadPath + "\n"},
		{path: "/service/group/app/..%2f..%2fmesos", code: 400, body: errBadPath + "\n"},
		{path: "/mesos/..%2F..%2Fetc/passwd", code: 400, body: errBadPath + "\n"},
		{path: "/agent/S1/..%5c..%5cx", code: 400, body: errBadPath + "\n"},
		{path: "/agent/..%2fS1/x", code: 400, body: errBadPath + "\n"},
		{path: "/service/group/app/a%2Fb", code: 200, upstream: "app", upPath: "/a%2Fb"},
		{path: "/nope", code: 404, body: "404 Not Found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			for _, u := range f.ups {
				u.last.Store(nil)
			}
			resp, body := f.do("GET", tc.path, map[string]string{"X-Forwarded-For": "192.0.2.7", "Accept-Encoding": "gzip"}, nil)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.code, body)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if tc.body != "" && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if s := resp.Header.Get("Server"); s != "sextant" {
				t.Errorf("Server %q, want sextant (no upstream name or version)", s)
			}
			var got *seen
			for _, u := range f.ups {
				if s := u.last.Load(); s != nil {
					if got != nil {
						t.Fatalf("two upstreams saw the request: %s and %s", got.Upstream, s.Upstream)
					}
					got = s
				}
			}
			if tc.upstream == "" {
				if got != nil {
					t.Fatalf("upstream %s saw %s, want the gateway to answer", got.Upstream, got.Path)
				}
				return
			}
			if got == nil {
				t.Fatalf("no upstream saw the request, want %s", tc.upstream)
			}
			if got.Upstream != tc.upstream || got.Path != tc.upPath || got.Query != tc.upQuery {
				t.Errorf("upstream %s %q ?%q, want %s %q ?%q", got.Upstream, got.Path, got.Query, tc.upstream, tc.upPath, tc.upQuery)
			}
			if got.Host != gwHost {
				t.Errorf("Host %q, want the original %q", got.Host, gwHost)
			}
			if xff := got.Header.Get("X-Forwarded-For"); xff != "192.0.2.7, 127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", xff)
			}
			if got.Header.Get("X-Real-IP") != "127.0.0.1" || got.Header.Get("X-Forwarded-Proto") != "http" {
				t.Errorf("X-Real-IP %q, X-Forwarded-Proto %q", got.Header.Get("X-Real-IP"), got.Header.Get("X-Forwarded-Proto"))
			}
			wantAuth := "token=" + f.token
			if tc.stripAuth {
				wantAuth = ""
			}
			if a := got.Header.Get("Authorization"); a != wantAuth {
				t.Errorf("Authorization %q, want %q", a, wantAuth)
			}
			if ae := got.Header.Get("Accept-Encoding"); (ae == "") != tc.noAcceptEn {
				t.Errorf("Accept-Encoding %q (dropped: want %v)", ae, tc.noAcceptEn)
			}
			if c := resp.Header.Get("Connection") == "close" || resp.Close; c != tc.connClose {
				t.Errorf("Connection: close %v, want %v", c, tc.connClose)
			}
		})
	}
}

func TestCookieTokenIsForwardedAsHeader(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do("GET", "/service/group/app/x", map[string]string{"Authorization": "",
		"Cookie": "a=1; " + auth.AuthCookie + "=" + f.token + "; " + auth.InfoCookie + "=e30; b=2"}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := f.ups["app"].last.Load()
	if got.Header.Get("Authorization") != "token="+f.token {
		t.Errorf("Authorization %q", got.Header.Get("Authorization"))
	}
	if c := got.Header.Get("Cookie"); c != "a=1; b=2" {
		t.Errorf("Cookie %q, want the DC/OS cookies stripped", c)
	}
}

func TestResolverErrors(t *testing.T) {
	f := newFixture(t)
	// Marathon has not delivered: apps cannot be told from frameworks.
	s := f.cluster()
	s.Sources = []model.SourceVersion{{Name: "mesos", Version: 1}, {Name: "marathon", Version: 0}}
	f.snap.Store(s)
	for path, want := range map[string]string{
		"/service/kafka/x":     errMarathonCache,
		"/service/marathon/x":  "", // marathon is never a Marathon app: Mesos answers
		"/service/group/app/x": errMarathonCache,
	} {
		resp, body := f.do("GET", path, nil, nil)
		if want == "" {
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %q", path, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != 503 || string(body) != want+"\n" {
			t.Errorf("%s: %d %q, want 503 %q", path, resp.StatusCode, body, want)
		}
	}
	s = f.cluster()
	s.Sources = []model.SourceVersion{{Name: "mesos", Version: 0}, {Name: "marathon", Version: 1}}
	f.snap.Store(s)
	if resp, body := f.do("GET", "/service/kafka/x", nil, nil); resp.StatusCode != 503 || string(body) != errMesosCache+"\n" {
		t.Errorf("no Mesos data: %d %q", resp.StatusCode, body)
	}
	// A framework with an empty webui_url whose Mesos-DNS lookup fails.
	s = f.cluster()
	s.Frameworks = append(s.Frameworks, model.Framework{ID: "fw-broken", Name: "broken", Active: true})
	f.snap.Store(s)
	if resp, body := f.do("GET", "/service/broken/x", nil, nil); resp.StatusCode != 503 || string(body) != errMesosDNS+"\n" {
		t.Errorf("Mesos-DNS failing: %d %q", resp.StatusCode, body)
	}
	f.snap.Store(nil)
	if resp, body := f.do("GET", "/agent/S1/x", nil, nil); resp.StatusCode != 503 || string(body) != errAgentCache+"\n" {
		t.Errorf("no snapshot: %d %q", resp.StatusCode, body)
	}
}

// TestRoutesFollowTheModel: a task that moves is routed to its new place
// by the next request, with no cache in between.
func TestRoutesFollowTheModel(t *testing.T) {
	f := newFixture(t)
	if resp, _ := f.do("GET", "/service/group/app/x", nil, nil); resp.StatusCode != 200 || f.ups["app"].last.Load() == nil {
		t.Fatalf("before the move: %d", resp.StatusCode)
	}
	s := f.cluster()
	s.Apps[0].Tasks[1].Endpoints[0].Port = f.ups["norewrite"].addr().Port()
	f.snap.Store(s)
	f.ups["norewrite"].last.Store(nil)
	if resp, _ := f.do("GET", "/service/group/app/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after the move: %d", resp.StatusCode)
	}
	if got := f.ups["norewrite"].last.Load(); got == nil || got.Path != "/x" {
		t.Fatalf("the moved task did not get the request: %+v", got)
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+"/service/group/app/events", nil)
	req.Header.Set("Authorization", "token="+f.token)
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "data: first\n" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first event did not arrive while the stream stayed open: the gateway buffers")
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	f := newFixture(t)
	conn, err := net.DialTimeout("tcp", f.srv.Listener.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /service/group/app/ws HTTP/1.1\r\nHost: gw\r\nAuthorization: token=%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", f.token)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	fmt.Fprint(conn, "hello\n")
	l, err := br.ReadString('\n')
	if err != nil || l != "echo:hello\n" {
		t.Fatalf("echo %q %v", l, err)
	}
	if got := f.ups["app"].last.Load(); got == nil || got.Path != "/ws" || got.Header.Get("Upgrade") != "websocket" {
		t.Errorf("upstream saw %+v", got)
	}
}

// TestRequestBuffering: by default a chunked body reaches the upstream
// whole, with its length; DCOS_SERVICE_REQUEST_BUFFERING=false streams it.
func TestRequestBuffering(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path, up string
		buffered bool
	}{{"/service/group/app/upload", "app", true}, {"/service/norewrite/upload", "norewrite", false}} {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < 3; i++ {
				fmt.Fprintf(pw, "chunk-%d;", i)
			}
			pw.Close()
		}()
		resp, body := f.do("POST", tc.path, nil, pr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
		got := f.ups[tc.up].last.Load()
		if got.Body != "chunk-0;chunk-1;chunk-2;" {
			t.Errorf("%s: body %q", tc.path, got.Body)
		}
		if buffered := got.ContentLength == int64(len(got.Body)); buffered != tc.buffered {
			t.Errorf("%s: Content-Length %d, buffered %v, want %v", tc.path, got.ContentLength, buffered, tc.buffered)
		}
	}
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{"group1/group2/app": "app.group2.group1", "/a//b/": "b.a", "app": "app", "": ""} {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
	_ = strconv.Itoa
}

// TestMasterCache: /cache/master/ is open, keeps the leader's 200s for
// 5 s (X-Cache-Status MISS then HIT), and a Cache-Control header
// bypasses it.
func TestMasterCache(t *testing.T) {
	f := newFixture(t)
	c := &http.Client{Timeout: 30 * time.Second}
	var statuses []string
	for _, hdr := range []string{"", "", "no-cache"} {
		f.ups["mesos"].last.Store(nil)
		req, _ := http.NewRequest("GET", f.srv.URL+"/cache/master/state-summary?x=1", nil)
		if hdr != "" {
			req.Header.Set("Cache-Control", hdr)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"Path":"/master/state-summary"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		st := resp.Header.Get("X-Cache-Status")
		if seen := f.ups["mesos"].last.Load() != nil; seen != (st != "HIT") {
			t.Errorf("%s: upstream asked %v", st, seen)
		}
		statuses = append(statuses, st)
	}
	if strings.Join(statuses, ",") != "MISS,HIT,BYPASS" {
		t.Errorf("X-Cache-Status %v, want MISS, HIT, BYPASS", statuses)
	}
}
