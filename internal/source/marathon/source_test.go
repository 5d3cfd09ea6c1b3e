package marathon

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ptu "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
)

// *hub.Hub is the sink in production.
var _ Sink = (*hub.Hub)(nil)

// wait bounds every asynchronous outcome: far past the goal, so a loaded
// 2-core machine does not fail the tests.
const wait = 20 * time.Second

// recorder is a Sink that keeps everything it is given.
type recorder struct {
	mu    sync.Mutex
	obs   []*model.MarathonObservation
	fails []error
}

func (r *recorder) PublishMarathon(o *model.MarathonObservation) {
	r.mu.Lock()
	r.obs = append(r.obs, o)
	r.mu.Unlock()
}

func (r *recorder) Fail(source string, err error) {
	if source != SourceName {
		panic("source " + source)
	}
	r.mu.Lock()
	r.fails = append(r.fails, err)
	r.mu.Unlock()
}

func (r *recorder) last() *model.MarathonObservation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.obs) == 0 {
		return nil
	}
	return r.obs[len(r.obs)-1]
}

func (r *recorder) counts() (obs, fails int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.obs), len(r.fails)
}

func (r *recorder) lastFail() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fails) == 0 {
		return nil
	}
	return r.fails[len(r.fails)-1]
}

// version is the version of app "/a" in the last observation.
func (r *recorder) version() string {
	o := r.last()
	if o == nil || len(o.Apps) == 0 {
		return ""
	}
	return o.Apps[0].Version
}

// fakeMarathon serves /v2/apps from a settable body and /v2/events from
// what the test writes.
type fakeMarathon struct {
	t   *testing.T
	srv *httptest.Server

	events chan string   // raw bytes for the current stream
	drop   chan struct{} // ends the current stream

	mu           sync.Mutex
	body         string
	appsStatus   int
	streamStatus int
	heartbeat    time.Duration
	reads        int
	streams      int
	appsHdr      http.Header
	streamHdr    http.Header
	streamQuery  string
	live         int // streams open now
}

func newFake(t *testing.T) *fakeMarathon {
	f := &fakeMarathon{t: t, events: make(chan string, 64), drop: make(chan struct{}, 1), body: appsBody("v1")}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func newFakeTLS(t *testing.T) *fakeMarathon {
	f := &fakeMarathon{t: t, events: make(chan string, 64), drop: make(chan struct{}, 1), body: appsBody("v1")}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// appsBody is an apps response with one app "/a" at a version.
func appsBody(version string) string {
	return `{"apps":[{"id":"/a","version":"` + version + `","labels":{"HAPROXY_GROUP":"external"},
 "portDefinitions":[{"port":10000,"name":"http"}],
 "tasks":[{"id":"a.1","host":"10.0.0.1","state":"TASK_RUNNING","ports":[31000]}]}]}`
}

func (f *fakeMarathon) set(fn func(f *fakeMarathon)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeMarathon) setBody(b string) { f.set(func(f *fakeMarathon) { f.body = b }) }

func (f *fakeMarathon) stats() (reads, streams, live int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.streams, f.live
}

func (f *fakeMarathon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/apps":
		f.mu.Lock()
		f.reads++
		f.appsHdr = r.Header.Clone()
		code, body := f.appsStatus, f.body
		f.mu.Unlock()
		if code == 0 {
			code = 200
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	case "/v2/events":
		f.mu.Lock()
		f.streams++
		f.streamHdr = r.Header.Clone()
		f.streamQuery = r.URL.RawQuery
		code, hb := f.streamStatus, f.heartbeat
		f.mu.Unlock()
		if code != 0 {
			http.Error(w, "no", code)
			return
		}
		f.serveStream(w, r, hb)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMarathon) serveStream(w http.ResponseWriter, r *http.Request, hb time.Duration) {
	f.set(func(f *fakeMarathon) { f.live++ })
	defer f.set(func(f *fakeMarathon) { f.live-- })
	w.Header().Set("Content-Type", "text/event-stream;charset=utf-8")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	fl.Flush()
	var tick <-chan time.Time
	if hb > 0 {
		tk := time.NewTicker(hb)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-f.drop:
			return
		case <-tick:
			_, _ = w.Write([]byte("\r\n"))
		case s := <-f.events:
			_, _ = w.Write([]byte(s))
		}
		fl.Flush()
	}
}

// event frames one Marathon event as Jetty does.
func event(typ string) string {
	return "event: " + typ + "\r\ndata: {\"eventType\":\"" + typ + "\",\"timestamp\":\"2024-01-01T00:00:00.000Z\"}\r\n\r\n"
}

// run starts a source with test-friendly timings and stops it at the end
// of the test, checking that Run returns.
func run(t *testing.T, o Options, sink Sink) *Source {
	t.Helper()
	if o.BackoffMin == 0 {
		o.BackoffMin = 20 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	s, err := New(o, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return")
			return
		}
		// Every goroutine the source started has ended with Run.
		testutil.Eventually(t, wait, "no source goroutine left", func() bool {
			buf := make([]byte, 1<<20)
			buf = buf[:goruntime.Stack(buf, true)]
			return !bytes.Contains(buf, []byte("marathon.(*Source).")) && !bytes.Contains(buf, []byte("marathon.(*runner)."))
		})
	})
	return s
}

// testWriter sends the source's log to the test log (shown on failure).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func TestEventsTriggerOneCoalescedRead(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "attached and read", func() bool { return s.Status().Streaming && rec.version() == "v1" })
	// The resync after attaching may still be running; let it land.
	testutil.Eventually(t, wait, "the resync", func() bool { r, _, _ := f.stats(); return r >= 2 })
	time.Sleep(100 * time.Millisecond)
	before, _, _ := f.stats()

	f.setBody(appsBody("v2"))
	f.events <- event("status_update_event")
	testutil.Eventually(t, wait, "v2 after an event", func() bool { return rec.version() == "v2" })

	// A burst written at once is one invalidation, so very few reads.
	f.setBody(appsBody("v3"))
	var burst strings.Builder
	for range 50 {
		burst.WriteString(event("health_status_changed_event"))
	}
	f.events <- burst.String()
	testutil.Eventually(t, wait, "v3 after a burst", func() bool { return rec.version() == "v3" })
	time.Sleep(200 * time.Millisecond)
	after, _, _ := f.stats()
	if n := after - before; n > 5 {
		t.Fatalf("%d reads for 51 events; want them coalesced", n)
	}
	if n := ptu.ToFloat64(s.m.events.WithLabelValues("health_status_changed_event")); n != 50 {
		t.Fatalf("events counted: %v", n)
	}
	o := rec.last()
	if o.From != f.srv.URL || o.Fetched.IsZero() || len(o.Apps[0].Tasks) != 1 || o.Apps[0].Ports[0].Name != "http" {
		t.Fatalf("%+v", o)
	}
}

func TestStreamRequest(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "attached", func() bool { return s.Status().Streaming })
	f.mu.Lock()
	hdr, q, apps := f.streamHdr, f.streamQuery, f.appsHdr
	f.mu.Unlock()
	if v := hdr.Values("Accept"); !slices.Equal(v, []string{"text/event-stream"}) || hdr.Get("Cache-Control") != "no-cache" {
		t.Fatalf("stream headers %v", hdr)
	}
	for _, typ := range subscribed {
		if !strings.Contains(q, "event_type="+typ) {
			t.Fatalf("query %q lacks %s", q, typ)
		}
	}
	if !strings.Contains(q, "plan-format=light") {
		t.Fatalf("query %q", q)
	}
	if apps.Get("Accept") != "application/json" {
		t.Fatalf("apps headers %v", apps)
	}
}

func TestStreamDropReconnectsAndResyncs(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "attached", func() bool { return s.Status().Streaming && rec.version() == "v1" })
	// A change nobody announces, then the stream breaks: only the resync
	// after the reconnect can see it.
	f.setBody(appsBody("v2"))
	f.drop <- struct{}{}
	testutil.Eventually(t, wait, "v2 after reconnect", func() bool { return rec.version() == "v2" })
	testutil.Eventually(t, wait, "attached again", func() bool {
		_, streams, live := f.stats()
		return streams >= 2 && live == 1 && s.Status().Streaming
	})
	if n := ptu.ToFloat64(s.m.reconnects); n < 1 {
		t.Fatalf("reconnects %v", n)
	}
}

func TestGarbageEventsStillConverge(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "attached", func() bool { return s.Status().Streaming && rec.version() == "v1" })
	f.setBody(appsBody("v2"))
	f.events <- ": a comment\r\nthis line has no colon\r\nretry: 5\r\ndata: {not json\r\n\r\n"
	testutil.Eventually(t, wait, "v2 after garbage", func() bool { return rec.version() == "v2" })
	if n := ptu.ToFloat64(s.m.events.WithLabelValues("invalid")); n != 1 {
		t.Fatalf("invalid events %v", n)
	}
	// Two documents in one payload, and a bookkeeping event that must
	// not cause a read.
	f.setBody(appsBody("v3"))
	f.events <- "data: {\"eventType\":\"deployment_info\"}\r\ndata: {\"eventType\":\"weird_future_event\"}\r\n\r\n"
	testutil.Eventually(t, wait, "v3", func() bool { return rec.version() == "v3" })
	if a, b := ptu.ToFloat64(s.m.events.WithLabelValues("deployment_info")), ptu.ToFloat64(s.m.events.WithLabelValues("other")); a != 1 || b != 1 {
		t.Fatalf("counted %v %v", a, b)
	}
	time.Sleep(100 * time.Millisecond)
	before, _, _ := f.stats()
	f.events <- event("event_stream_attached")
	testutil.Eventually(t, wait, "counted", func() bool { return ptu.ToFloat64(s.m.events.WithLabelValues("event_stream_attached")) == 1 })
	time.Sleep(300 * time.Millisecond)
	if after, _, _ := f.stats(); after != before {
		t.Fatalf("a bookkeeping event caused %d reads", after-before)
	}
}

// TestReorderedEventsConverge changes the apps many times while sending
// events late, early, twice or not at all: once the last event is in, the
// last observation equals a fresh full read of the final state.
func TestReorderedEventsConverge(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "attached", func() bool { return s.Status().Streaming })
	types := []string{"status_update_event", "health_status_changed_event", "api_post_event", "deployment_success"}
	var final string
	for i := range 40 {
		final = fmt.Sprintf(`{"apps":[{"id":"/a","version":"v%d","instances":%d,"tasks":[{"id":"a.%d","host":"h","state":"TASK_RUNNING"}]},
			{"id":"/b","labels":{"n":"%d"}}]}`, i, i%3, i, i)
		switch i % 4 {
		case 0: // event before the change is visible
			f.events <- event(types[i%len(types)])
			f.setBody(final)
		case 1: // after, twice
			f.setBody(final)
			f.events <- event(types[i%len(types)]) + event(types[(i+1)%len(types)])
		case 2: // no event of its own
			f.setBody(final)
		case 3:
			f.setBody(final)
			f.events <- event(types[(i+2)%len(types)])
		}
		if i%5 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	f.events <- event("status_update_event")
	want, wantProbs := mustDecode(t, []byte(final))
	testutil.Eventually(t, wait, "the final state", func() bool {
		o := rec.last()
		return o != nil && reflect.DeepEqual(o.Apps, want) && len(o.Problems) == len(wantProbs)
	})
}

func TestIdleStreamReconnects(t *testing.T) {
	t.Run("silent stream is reconnected", func(t *testing.T) {
		f := newFake(t)
		rec := &recorder{}
		run(t, Options{URLs: []string{f.srv.URL}, StreamIdleTimeout: 300 * time.Millisecond}, rec)
		testutil.Eventually(t, wait, "a reconnect after idling", func() bool { _, streams, _ := f.stats(); return streams >= 3 })
	})
	t.Run("heartbeats keep it", func(t *testing.T) {
		f := newFake(t)
		f.set(func(f *fakeMarathon) { f.heartbeat = 50 * time.Millisecond })
		rec := &recorder{}
		s := run(t, Options{URLs: []string{f.srv.URL}, StreamIdleTimeout: 1500 * time.Millisecond}, rec)
		testutil.Eventually(t, wait, "attached", func() bool { return s.Status().Streaming })
		time.Sleep(3 * time.Second)
		if _, streams, _ := f.stats(); streams != 1 {
			t.Fatalf("%d streams despite heartbeats", streams)
		}
	})
}

func TestFailover(t *testing.T) {
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	busy := newFake(t)
	busy.set(func(f *fakeMarathon) { f.appsStatus, f.streamStatus = 503, 503 })
	good := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{dead, busy.srv.URL, good.srv.URL}}, rec)
	testutil.Eventually(t, wait, "an observation from the good URL", func() bool {
		o := rec.last()
		return o != nil && o.From == good.srv.URL
	})
	testutil.Eventually(t, wait, "streaming from the good URL", func() bool {
		_, _, live := good.stats()
		return live == 1 && s.Status().Streaming && s.Status().URL == good.srv.URL
	})
	if _, fails := rec.counts(); fails != 0 {
		t.Fatalf("a read that succeeded on the third URL is no failure: %v", rec.lastFail())
	}
	// Later reads start from the URL that worked.
	r1, _, _ := busy.stats()
	good.setBody(appsBody("v2"))
	good.events <- event("status_update_event")
	testutil.Eventually(t, wait, "v2", func() bool { return rec.version() == "v2" })
	if r2, _, _ := busy.stats(); r2 != r1 {
		t.Fatalf("the busy URL was asked again (%d → %d)", r1, r2)
	}
	// The good one fails: the next read goes round to the others and
	// reports every URL's error when all fail.
	good.set(func(f *fakeMarathon) { f.appsStatus = 500 })
	good.events <- event("status_update_event")
	testutil.Eventually(t, wait, "a failure", func() bool { return rec.lastFail() != nil })
	msg := rec.lastFail().Error()
	for _, want := range []string{"500", "503", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	var se *StatusError
	if !errors.As(rec.lastFail(), &se) {
		t.Fatalf("error does not wrap a StatusError: %v", rec.lastFail())
	}
}

func TestAuthHeaders(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"basic", Options{Basic: &BasicAuth{User: "u", Password: "p"}}, "Basic dTpw"},
		{"token", Options{Token: "abc.def"}, "token=abc.def"},
		{"none", Options{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			rec := &recorder{}
			tc.o.URLs = []string{f.srv.URL}
			s := run(t, tc.o, rec)
			testutil.Eventually(t, wait, "attached and read", func() bool { return s.Status().Streaming && rec.last() != nil })
			f.mu.Lock()
			defer f.mu.Unlock()
			if a, b := f.appsHdr.Get("Authorization"), f.streamHdr.Get("Authorization"); a != tc.want || b != tc.want {
				t.Fatalf("apps %q, stream %q, want %q", a, b, tc.want)
			}
		})
	}
}

// TestRedirectToLeader: a non-leader answers /v2/events with a 302 to the
// leader on another host name; the source follows it with credentials.
func TestRedirectToLeader(t *testing.T) {
	leader := newFake(t)
	_, port, _ := net.SplitHostPort(leader.srv.Listener.Addr().String())
	leaderURL := "http://localhost:" + port // another host than 127.0.0.1: Go would drop the credential
	var mu sync.Mutex
	var redirected int
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/events" {
			mu.Lock()
			redirected++
			mu.Unlock()
			http.Redirect(w, r, leaderURL+r.URL.RequestURI(), http.StatusFound)
			return
		}
		leader.ServeHTTP(w, r) // a non-leader proxies REST calls
	}))
	t.Cleanup(standby.Close)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{standby.URL}, Token: "t0k"}, rec)
	testutil.Eventually(t, wait, "attached through the redirect", func() bool {
		_, _, live := leader.stats()
		return live == 1 && s.Status().Streaming
	})
	leader.mu.Lock()
	auth, accept := leader.streamHdr.Get("Authorization"), leader.streamHdr.Get("Accept")
	leader.mu.Unlock()
	mu.Lock()
	n := redirected
	mu.Unlock()
	if n == 0 || auth != "token=t0k" || accept != "text/event-stream" {
		t.Fatalf("redirects %d, leader saw Authorization %q Accept %q", n, auth, accept)
	}
	leader.setBody(appsBody("v2"))
	leader.events <- event("api_post_event")
	testutil.Eventually(t, wait, "v2 through the leader's stream", func() bool { return rec.version() == "v2" })
}

func TestFailedReads(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"server error", 500, `{"message":"boom"}`, "status 500"},
		{"unauthorized", 401, `{"message":"no"}`, "status 401"},
		{"leader unknown", 503, ``, "status 503"},
		{"not JSON", 200, `<html>proxy error</html>`, "not JSON"},
		{"truncated", 200, `{"apps":[{"id":"/a"`, "not JSON"},
		{"no apps", 200, `{"message":"hello"}`, "no apps array"},
		{"apps not an array", 200, `{"apps":5}`, "apps is a number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			rec := &recorder{}
			s := run(t, Options{URLs: []string{f.srv.URL}, NoStream: true, ResyncInterval: 100 * time.Millisecond}, rec)
			testutil.Eventually(t, wait, "a good read", func() bool { return rec.version() == "v1" })
			f.set(func(f *fakeMarathon) { f.appsStatus, f.body = tc.status, tc.body })
			testutil.Eventually(t, wait, "two failures", func() bool { _, fails := rec.counts(); return fails >= 2 })
			o1, _ := rec.counts()
			if err := rec.lastFail(); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
			st := s.Status()
			if !st.Stale || st.Version == 0 || !strings.Contains(st.LastError, tc.want) || s.Check() == nil {
				t.Fatalf("status %+v", st)
			}
			time.Sleep(300 * time.Millisecond)
			if o2, _ := rec.counts(); o2 != o1 {
				t.Fatalf("published %d observations while reads fail", o2-o1)
			}
			// Recovery.
			f.set(func(f *fakeMarathon) { f.appsStatus, f.body = 0, appsBody("v2") })
			testutil.Eventually(t, wait, "v2 after recovery", func() bool { return rec.version() == "v2" })
			if st := s.Status(); st.Stale || st.LastError != "" || s.Check() != nil {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

func TestFirstReadFails(t *testing.T) {
	f := newFake(t)
	f.set(func(f *fakeMarathon) { f.appsStatus = 502 })
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "a failure", func() bool { _, fails := rec.counts(); return fails > 0 })
	if obs, _ := rec.counts(); obs != 0 {
		t.Fatal("published without a good read")
	}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("check %v", err)
	}
	// Failed reads are retried with backoff even without events.
	f.set(func(f *fakeMarathon) { f.appsStatus = 0 })
	testutil.Eventually(t, wait, "a good read", func() bool { return rec.version() == "v1" })
}

func TestUnsupportedStreamPolls(t *testing.T) {
	for _, code := range []int{404, 405} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			f := newFake(t)
			f.set(func(f *fakeMarathon) { f.streamStatus = code })
			rec := &recorder{}
			// Poll every 200 ms (the resync interval caps the poll period);
			// the stream is retried every 2 s.
			s := run(t, Options{URLs: []string{f.srv.URL}, ResyncInterval: 200 * time.Millisecond}, rec)
			testutil.Eventually(t, wait, "polling", func() bool { return s.Status().Polling && !s.Status().Streaming })
			f.setBody(appsBody("v2"))
			testutil.Eventually(t, wait, "v2 by polling", func() bool { return rec.version() == "v2" })
			// Once the stream exists, it is used.
			f.set(func(f *fakeMarathon) { f.streamStatus = 0 })
			testutil.Eventually(t, wait, "the stream retried and attached", func() bool {
				st := s.Status()
				return st.Streaming && !st.Polling
			})
		})
	}
	t.Run("not an event stream", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(appsBody("v1")))
		}))
		t.Cleanup(srv.Close)
		rec := &recorder{}
		s := run(t, Options{URLs: []string{srv.URL}, ResyncInterval: 200 * time.Millisecond}, rec)
		testutil.Eventually(t, wait, "polling", func() bool { return s.Status().Polling && rec.version() == "v1" })
	})
}

func TestNoStreamPolls(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}, NoStream: true, ResyncInterval: 100 * time.Millisecond}, rec)
	testutil.Eventually(t, wait, "several reads", func() bool { r, _, _ := f.stats(); return r >= 3 })
	if _, streams, _ := f.stats(); streams != 0 || s.Status().Streaming {
		t.Fatal("NoStream opened a stream")
	}
}

func TestProblemsAndMetrics(t *testing.T) {
	f := newFake(t)
	f.setBody(`{"apps":[{"id":"/a","version":"v1","tasks":[{"id":"a.1","ports":[70000]},{"id":5}]},{"id":false},{"id":"/b","labels":{"x":1}}]}`)
	reg := prometheus.NewRegistry()
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}, NoStream: true, ResyncInterval: 100 * time.Millisecond, Registerer: reg}, rec)
	testutil.Eventually(t, wait, "two reads", func() bool { o, _ := rec.counts(); return o >= 2 })
	o := rec.last()
	if len(o.Apps) != 2 || len(o.Problems) != 4 {
		t.Fatalf("%+v", o)
	}
	for _, k := range []string{kindApp, kindTask, kindField} {
		if n := ptu.ToFloat64(s.m.skipped.WithLabelValues(k)); n < 2 {
			t.Fatalf("%s skipped %v times, want one per read", k, n)
		}
	}
	if ptu.ToFloat64(s.m.apps) != 2 || ptu.ToFloat64(s.m.tasks) != 1 {
		t.Fatal("apps/tasks gauges")
	}
	if st := s.Status(); st.Apps != 2 || st.Tasks != 1 || st.URL != f.srv.URL || st.Version < 2 {
		t.Fatalf("%+v", st)
	}
	// Every metric has a conventional name.
	probs, err := ptu.GatherAndLint(reg)
	if err != nil || len(probs) != 0 {
		t.Fatalf("lint: %v %v", err, probs)
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no urls", Options{}, "urls: none"},
		{"bad scheme names the index", Options{URLs: []string{"http://a:8080", "ftp://b"}}, "urls[1]"},
		{"no host", Options{URLs: []string{"http://"}}, "urls[0]"},
		{"credentials in the url", Options{URLs: []string{"http://u:secret@a:8080"}}, "credentials"},
		{"query", Options{URLs: []string{"http://a:8080/?x=1"}}, "query"},
		{"basic and token", Options{URLs: []string{"http://a"}, Basic: &BasicAuth{}, Token: "t"}, "exclusive"},
		{"ca and insecure", Options{URLs: []string{"https://a"}, CACertFile: "x", InsecureSkipVerify: true}, "exclusive"},
		{"tls and client", Options{URLs: []string{"https://a"}, InsecureSkipVerify: true, HTTPClient: &http.Client{}}, "exclusive"},
		{"negative duration", Options{URLs: []string{"http://a"}, Coalesce: -1}, "coalesce"},
		{"backoff order", Options{URLs: []string{"http://a"}, BackoffMin: time.Minute, BackoffMax: time.Second}, "backoff"},
		{"missing CA file", Options{URLs: []string{"https://a"}, CACertFile: "/nonexistent/ca.pem"}, "CA file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o, &recorder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	s, err := New(Options{URLs: []string{"http://a:8080/"}}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if s.o.URLs[0] != "http://a:8080" || s.o.ResyncInterval != 300*time.Second || s.o.Coalesce != 20*time.Millisecond ||
		s.o.RequestTimeout != 30*time.Second || s.o.StreamIdleTimeout != 300*time.Second || s.o.BackoffMin != time.Second ||
		s.o.BackoffMax != 30*time.Second || s.o.MaxBytes != 256<<20 || s.pollEvery != 30*time.Second {
		t.Fatalf("defaults %+v poll %v", s.o, s.pollEvery)
	}
	if _, err := New(Options{URLs: []string{"http://a"}}, nil); err == nil {
		t.Fatal("nil sink accepted")
	}
}

func TestRunTwice(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	s := run(t, Options{URLs: []string{f.srv.URL}}, rec)
	testutil.Eventually(t, wait, "the first Run reading", func() bool { return rec.last() != nil })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Run(ctx); err == nil {
		t.Fatal("second Run accepted")
	}
}

// TestWithHub runs the source into the real hub.
func TestWithHub(t *testing.T) {
	f := newFake(t)
	h := hub.New(hub.Options{Settle: 10 * time.Millisecond})
	h.Register(hub.Marathon)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	run(t, Options{URLs: []string{f.srv.URL}}, h)
	testutil.Eventually(t, wait, "a snapshot with the app", func() bool {
		s := h.Current()
		if s == nil {
			return false
		}
		a, ok := s.App("/a")
		return ok && len(a.Tasks) == 1 && len(a.Tasks[0].Endpoints) == 1 && a.Tasks[0].Endpoints[0].Port == 31000
	})
	f.set(func(f *fakeMarathon) { f.appsStatus = 500 })
	f.events <- event("status_update_event")
	testutil.Eventually(t, wait, "the hub sees the failure", func() bool {
		for _, st := range h.Sources() {
			if st.Name == hub.Marathon && st.Stale && strings.Contains(st.LastError, "500") {
				return true
			}
		}
		return false
	})
	if _, ok := h.Current().App("/a"); !ok {
		t.Fatal("the hub dropped the last good apps")
	}
}

func TestTLSOptions(t *testing.T) {
	f := newFakeTLS(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"ca file", Options{CACertFile: ca}, true},
		{"insecure", Options{InsecureSkipVerify: true}, true},
		{"http client", Options{HTTPClient: f.srv.Client()}, true},
		{"unknown authority", Options{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tc.o.URLs = []string{f.srv.URL}
			s := run(t, tc.o, rec)
			if tc.ok {
				testutil.Eventually(t, wait, "attached and read over TLS", func() bool { return s.Status().Streaming && rec.version() == "v1" })
				return
			}
			testutil.Eventually(t, wait, "a certificate failure", func() bool {
				err := rec.lastFail()
				return err != nil && strings.Contains(err.Error(), "certificate")
			})
		})
	}
}

// TestImports: the source knows the model, not the hub or any consumer;
// the Sink interface is the seam.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, "github.com/sextantdc/sextant/") && p != "github.com/sextantdc/sextant/internal/model" {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
