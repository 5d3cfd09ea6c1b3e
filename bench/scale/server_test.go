package scale_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/master"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// stateServer is a Mesos master on loopback for one benchmark: GET
// /master/state answers with a body rendered before the clock starts (a
// real master renders its own), and, with the operator API on, POST
// /api/v1 is served by internal/mesos/master from the same state (SUBSCRIBE
// events are diffs of successive states). It notes when each state request
// starts and when the stream writes, so a change's latency can be split
// into the wait for the peer's next poll (or the event) and the peer's own
// work.
type stateServer struct {
	srv      *httptest.Server
	operator bool
	prov     *master.MemProvider
	api      http.Handler
	body     atomic.Pointer[[]byte]

	mu        sync.Mutex
	gets      []time.Time // starts of /master/state requests
	apiWrites []time.Time // writes on SUBSCRIBE streams opened since apiSince
	apiSince  time.Time
}

func newStateServer(tb testing.TB, operator bool) *stateServer {
	s := &stateServer{operator: operator, prov: master.NewMemProvider(nil)}
	s.api = master.NewHandler(s.prov, master.Options{}, nil)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *stateServer) hostPort() string { return strings.TrimPrefix(s.srv.URL, "http://") }
func (s *stateServer) leader() string   { return "master@" + s.hostPort() }

func (s *stateServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/master/state", "/master/state.json", "/state", "/state.json":
		s.mu.Lock()
		s.gets = append(s.gets, time.Now())
		s.mu.Unlock()
		body := *s.body.Load()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
		return
	}
	if !s.operator {
		http.NotFound(w, r)
		return
	}
	s.api.ServeHTTP(&timedWriter{ResponseWriter: w, s: s, opened: time.Now()}, r)
}

// forget drops what was noted so far: streams opened before now (the
// warm-up's, an earlier peer's) are not counted any more.
func (s *stateServer) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets, s.apiWrites, s.apiSince = nil, nil, time.Now()
}

// set serves st (rendered as body) from now on and returns the time of
// the switch.
func (s *stateServer) set(st *state.State, body []byte) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.body.Store(&body)
	s.prov.Set(st)
	return now
}

// after returns the first time in ts at or after t.
func after(ts []time.Time, t time.Time) (time.Time, bool) {
	for _, x := range ts {
		if !x.Before(t) {
			return x, true
		}
	}
	return time.Time{}, false
}

func (s *stateServer) firstGetAfter(t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return after(s.gets, t)
}

func (s *stateServer) firstAPIWriteAfter(t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return after(s.apiWrites, t)
}

// warm renders the operator API's SUBSCRIBED record of the current state
// before a peer asks for it (the master package renders it on first
// demand, which a real master does not make its subscribers wait for).
func (s *stateServer) warm(tb testing.TB) {
	tb.Helper()
	if !s.operator {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+"/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("warming SUBSCRIBE: %v", err)
	}
	defer resp.Body.Close()
	// The first record's length line is written with the record; reading
	// it is enough to know the rendering is done.
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		tb.Fatalf("warming SUBSCRIBE: %v", err)
	}
}

// timedWriter notes the time of every successful write other than a
// heartbeat on an operator API response.
type timedWriter struct {
	http.ResponseWriter
	s      *stateServer
	opened time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err == nil && !bytes.HasPrefix(p, []byte("20\n{\"type\":\"HEARTBEAT\"}")) {
		w.s.mu.Lock()
		if !w.opened.Before(w.s.apiSince) {
			w.s.apiWrites = append(w.s.apiWrites, time.Now())
		}
		w.s.mu.Unlock()
	}
	return n, err
}

func (w *timedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *timedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// render is the state's JSON, as a master would send it.
func render(tb testing.TB, st *state.State) []byte {
	tb.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
