package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/master"
	"github.com/sextantdc/sextant/internal/mesos/operator/recordio"
	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

func ptrBool(b bool) *bool { return &b }

const (
	mID = "c3946a13-75b4-4d3c-9d0e-fc10038dca85"
	aID = mID + "-S0"
	fID = mID + "-0000"
)

func task(id, st string, statuses ...string) state.Task {
	t := state.Task{
		ID: id, Name: "web.dev", FrameworkID: fID, SlaveID: aID, State: st,
		Resources: state.Resources{CPUs: 0.1, Mem: 64, Ports: "[31001-31001, 31517-31517]"},
		Labels:    []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}},
		Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "web.dev", Ports: &state.Ports{Ports: []state.DiscoveryPort{
			{Number: 31001, Name: "http", Protocol: "tcp", Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}},
		}}},
	}
	for i, s := range statuses {
		t.Statuses = append(t.Statuses, state.Status{
			State: s, Timestamp: 1700000000.25 + float64(i),
			ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{
				IPAddresses: []state.IPAddress{{Protocol: "IPv4", IPAddress: "127.0.0.1"}},
			}}},
		})
	}
	return t
}

func cluster(tasks ...state.Task) *state.State {
	return &state.State{
		ID: mID, PID: "master@127.0.0.1:5050", Hostname: "127.0.0.1", Version: "1.11.0", Leader: "master@127.0.0.1:5050",
		Slaves: []state.Slave{{
			ID: aID, PID: "slave(1)@127.0.0.1:5051", Hostname: "127.0.0.1", Active: ptrBool(true),
			Resources:  &state.Resources{CPUs: 2, Mem: 1024, Ports: "[31000-32000]"},
			Attributes: map[string]any{"rack": "r1"},
		}},
		Frameworks: []state.Framework{{
			ID: fID, Name: "marathon", Hostname: "127.0.0.1", Active: ptrBool(true), WebUIURL: "http://127.0.0.1:8080", Tasks: tasks,
		}},
	}
}

// normalise maps a provider state to what a stream consumer can know: the
// active (non-terminal) tasks, explicit active flags, no framework pids
// (v1 does not carry them), and the master fields left out (compared
// separately).
func normalise(st *state.State) *state.State {
	out := &state.State{Slaves: []state.Slave{}, Frameworks: []state.Framework{}}
	for _, s := range st.Slaves {
		if s.Active == nil {
			s.Active = ptrBool(true)
		}
		out.Slaves = append(out.Slaves, s)
	}
	for _, f := range st.Frameworks {
		if f.Active == nil {
			f.Active = ptrBool(true)
		}
		f.PID = ""
		tasks := []state.Task{}
		for _, t := range f.Tasks {
			if v1.TerminalState(t.State) {
				continue
			}
			t.FrameworkID = f.ID // v1 knows only the listing framework
			tasks = append(tasks, t)
		}
		f.Tasks = tasks
		out.Frameworks = append(out.Frameworks, f)
	}
	return out
}

type collector struct {
	mu     sync.Mutex
	last   *state.State
	calls  int
	states []*state.State
}

func (c *collector) onState(st *state.State) {
	c.mu.Lock()
	c.last = st
	c.calls++
	c.states = append(c.states, st)
	c.mu.Unlock()
}

func (c *collector) get() (*state.State, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.calls
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startStream(t *testing.T, url string, o Options, c *collector) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Stream(ctx, &http.Client{}, url, o, c.onState) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Stream after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Stream did not return after cancel")
		}
	})
	return r
}

func waitEqual(t *testing.T, c *collector, want *state.State, step string) {
	t.Helper()
	want = normalise(want)
	var got *state.State
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		last, _ := c.get()
		if last != nil {
			got = normalise(last)
			if reflect.DeepEqual(got, want) {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	gb, _ := json.MarshalIndent(got, "", " ")
	wb, _ := json.MarshalIndent(want, "", " ")
	t.Fatalf("%s: consumer state differs\ngot:  %s\nwant: %s", step, gb, wb)
}

func TestRoundTrip(t *testing.T) {
	p := master.NewMemProvider(cluster())
	srv := httptest.NewServer(master.NewHandler(p, master.Options{}, nil))
	t.Cleanup(srv.Close)
	c := &collector{}
	startStream(t, srv.URL, Options{}, c)

	unhealthy := task("t1", "TASK_RUNNING", "TASK_RUNNING")
	unhealthy.Statuses[0].Healthy = ptrBool(false)
	fw2 := state.Framework{ID: mID + "-0001", Name: "other", Hostname: "127.0.0.2", PID: "scheduler@127.0.0.2:1234",
		Tasks: []state.Task{{ID: "o1", Name: "o", SlaveID: aID, State: "TASK_RUNNING", Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 5}}}}}
	withFw2 := cluster(task("t3", "TASK_RUNNING", "TASK_STARTING", "TASK_RUNNING"))
	withFw2.Frameworks = append(withFw2.Frameworks, fw2)
	attr := cluster(task("t3", "TASK_RUNNING", "TASK_STARTING", "TASK_RUNNING"))
	attr.Slaves[0].Attributes = map[string]any{"rack": "r2", "weight": 3.5}
	steps := []struct {
		name string
		st   *state.State
	}{
		{"initial", cluster()},
		{"staging", cluster(task("t1", "TASK_STAGING"))},
		{"running", cluster(task("t1", "TASK_RUNNING", "TASK_RUNNING"))},
		{"health flip", cluster(unhealthy)},
		{"second task, first killing", cluster(func() state.Task {
			k := task("t1", "TASK_KILLING", "TASK_RUNNING", "TASK_KILLING")
			k.Statuses[0].Healthy = ptrBool(false)
			return k
		}(), task("t2", "TASK_RUNNING", "TASK_RUNNING"))},
		{"first killed", cluster(task("t1", "TASK_KILLED", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"), task("t2", "TASK_RUNNING", "TASK_RUNNING"))},
		{"vanished", cluster()},
		{"fresh task with history", cluster(task("t3", "TASK_RUNNING", "TASK_STARTING", "TASK_RUNNING"))},
		{"second framework", withFw2},
		{"agent attributes", attr},
		{"agent and framework gone", &state.State{}},
		{"back", cluster(task("t4", "TASK_UNREACHABLE", "TASK_RUNNING", "TASK_UNREACHABLE"))},
	}
	for _, s := range steps {
		p.Set(s.st)
		waitEqual(t, c, s.st, s.name)
	}
	last, _ := c.get()
	if last.Leader != "master@127.0.0.1:5050" || last.ID != mID || last.LeaderInfo == nil || last.LeaderInfo.Address.IP != "127.0.0.1" {
		t.Fatalf("master fields: leader %q id %q info %+v", last.Leader, last.ID, last.LeaderInfo)
	}
}

// The Mesos-DNS fake state served, streamed and read back is the same
// state, modulo what v1 cannot carry.
func TestRoundTripFixture(t *testing.T) {
	dir := testutil.Fixtures(t, "mesos")
	b, err := os.ReadFile(filepath.Join(dir, "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse state: skipped %v, err %v", skipped, err)
	}
	// The fixture lists one task id twice in a framework, which a master
	// never does and v1 (tasks keyed by framework and id) cannot express:
	// keep the first.
	for i := range st.Frameworks {
		f := &st.Frameworks[i]
		seen := map[string]bool{}
		kept := f.Tasks[:0]
		for _, tk := range f.Tasks {
			if !seen[tk.ID] {
				seen[tk.ID] = true
				kept = append(kept, tk)
			}
		}
		f.Tasks = kept
	}
	// Port strings are re-rendered canonically by the round trip.
	for i := range st.Frameworks {
		for j := range st.Frameworks[i].Tasks {
			tk := &st.Frameworks[i].Tasks[j]
			prs, _ := state.ParsePorts(tk.Resources.Ports)
			tk.Resources.Ports = ""
			if len(prs) > 0 {
				tk.Resources.Ports = state.FormatPorts(prs)
			}
		}
	}
	for i := range st.Slaves {
		if r := st.Slaves[i].Resources; r != nil {
			prs, _ := state.ParsePorts(r.Ports)
			r.Ports = ""
			if len(prs) > 0 {
				r.Ports = state.FormatPorts(prs)
			}
		}
	}
	p := master.NewMemProvider(st)
	srv := httptest.NewServer(master.NewHandler(p, master.Options{}, nil))
	t.Cleanup(srv.Close)
	c := &collector{}
	startStream(t, srv.URL, Options{}, c)
	waitEqual(t, c, st, "fixture")
}

func TestEventBatchesAndOrder(t *testing.T) {
	p := master.NewMemProvider(cluster())
	srv := httptest.NewServer(master.NewHandler(p, master.Options{}, nil))
	t.Cleanup(srv.Close)
	c := &collector{}
	startStream(t, srv.URL, Options{}, c)
	waitEqual(t, c, cluster(), "initial")
	// Every intermediate state a consumer sees is one the provider had, in
	// order: task counts never go down while tasks are only added.
	var tasks []state.Task
	for i := 0; i < 50; i++ {
		tasks = append(tasks[:len(tasks):len(tasks)], task(fmt.Sprintf("t%02d", i), "TASK_RUNNING", "TASK_RUNNING"))
		p.Set(cluster(tasks...))
	}
	waitEqual(t, c, cluster(tasks...), "50 tasks")
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := -1
	for _, st := range c.states {
		n := len(st.Frameworks[0].Tasks)
		if n < prev {
			t.Fatalf("task count went from %d to %d", prev, n)
		}
		for i, tk := range st.Frameworks[0].Tasks {
			if tk.ID != fmt.Sprintf("t%02d", i) {
				t.Fatalf("task %d is %s", i, tk.ID)
			}
		}
		prev = n
	}
}

func TestNotSupported(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/master/state", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	err := Stream(context.Background(), srv.Client(), srv.URL, Options{}, func(*state.State) { t.Error("onState called") })
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	// A 1.0 master: GET_MASTER works, SUBSCRIBE is an unknown call type.
	p := master.NewMemProvider(cluster())
	h := master.NewHandler(p, master.Options{}, nil)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		buf := make([]byte, 1<<10)
		n, _ := r.Body.Read(buf)
		body.Write(buf[:n])
		if strings.Contains(body.String(), "SUBSCRIBE") {
			http.Error(w, "Failed to validate master::Call: Expecting 'type' to be present", http.StatusBadRequest)
			return
		}
		r.Body = http.NoBody
		r2 := r.Clone(r.Context())
		r2.Body = nopCloser{strings.NewReader(body.String())}
		h.ServeHTTP(w, r2)
	}))
	defer old.Close()
	err = Stream(context.Background(), old.Client(), old.URL, Options{}, func(*state.State) {})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("1.0 master: err = %v, want ErrNotSupported", err)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// A silent stream (heartbeats stopped) is declared dead after k × the
// heartbeat interval.
func TestDeadStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var call struct{ Type string }
		_ = json.NewDecoder(r.Body).Decode(&call)
		w.Header().Set("Content-Type", "application/json")
		if call.Type == "GET_MASTER" {
			_, _ = w.Write([]byte(`{"type":"GET_MASTER","get_master":{"master_info":{"id":"m","ip":0,"port":5050,"pid":"master@127.0.0.1:5050","hostname":"127.0.0.1"}}}`))
			return
		}
		_, _ = w.Write(recordio.Frame([]byte(`{"type":"SUBSCRIBED","subscribed":{"get_state":{},"heartbeat_interval_seconds":0.05}}`)))
		_, _ = w.Write(recordio.Frame([]byte(`{"type":"HEARTBEAT"}`)))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence
	}))
	t.Cleanup(srv.Close)
	c := &collector{}
	start := time.Now()
	err := Stream(context.Background(), srv.Client(), srv.URL, Options{}, c.onState)
	if !errors.Is(err, ErrDeadStream) {
		t.Fatalf("err = %v, want ErrDeadStream", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Fatalf("declared dead after %v, before 3 × 50ms", d)
	}
	if _, n := c.get(); n != 1 {
		t.Fatalf("onState called %d times, want 1 (SUBSCRIBED)", n)
	}
}

// A non-leading master redirects; the consumer re-posts to the leader with
// its credentials.
func TestRedirectKeepsAuthorization(t *testing.T) {
	const auth = "Basic dXNlcjpwYXNz"
	p := master.NewMemProvider(cluster(task("t1", "TASK_RUNNING", "TASK_RUNNING")))
	leader := httptest.NewServer(master.NewHandler(p, master.Options{
		Authenticate: func(r *http.Request) bool { return r.Header.Get("Authorization") == auth },
	}, nil))
	t.Cleanup(leader.Close)
	follower := httptest.NewServer(master.NewHandler(master.NewMemProvider(nil), master.Options{
		Leader: strings.TrimPrefix(leader.URL, "http://"),
	}, nil))
	t.Cleanup(follower.Close)
	c := &collector{}
	startStream(t, follower.URL+"/", Options{Authorization: func() string { return auth }}, c)
	waitEqual(t, c, p.State(), "via redirect")

	// Without credentials the leader refuses: an error, not ErrNotSupported.
	err := Stream(context.Background(), &http.Client{}, follower.URL, Options{}, func(*state.State) {})
	if err == nil || errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401 error", err)
	}
}

func TestResyncResubscribes(t *testing.T) {
	p := master.NewMemProvider(cluster())
	srv := httptest.NewServer(master.NewHandler(p, master.Options{}, nil))
	t.Cleanup(srv.Close)
	c := &collector{}
	startStream(t, srv.URL, Options{Resync: 50 * time.Millisecond}, c)
	testutil.Eventually(t, 15*time.Second, "three SUBSCRIBED snapshots", func() bool {
		_, n := c.get()
		return n >= 3
	})
}

func TestBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "::"} {
		if err := Stream(context.Background(), nil, u, Options{}, func(*state.State) {}); err == nil {
			t.Errorf("%q: no error", u)
		}
	}
}

// After a dead stream the caller subscribes again and the new SUBSCRIBED
// replaces the whole model (nothing of the old one survives).
func TestResubscribeReplacesModel(t *testing.T) {
	p := master.NewMemProvider(cluster(task("t2", "TASK_RUNNING", "TASK_RUNNING")))
	mh := master.NewHandler(p, master.Options{}, nil)
	var mu sync.Mutex
	subscribes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 64)
		n, _ := r.Body.Read(body)
		call := string(body[:n])
		r2 := r.Clone(r.Context())
		r2.Body = nopCloser{strings.NewReader(call)}
		if !strings.Contains(call, "SUBSCRIBE") {
			mh.ServeHTTP(w, r2)
			return
		}
		mu.Lock()
		subscribes++
		first := subscribes == 1
		mu.Unlock()
		if !first {
			mh.ServeHTTP(w, r2)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(recordio.Frame([]byte(`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_agents":{"agents":[{"agent_info":{"hostname":"old","id":{"value":"old-S9"}},"active":true,"version":"1","pid":"slave(1)@10.9.9.9:5051"}]}},"heartbeat_interval_seconds":0.03}}`)))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c := &collector{}
	if err := Stream(context.Background(), srv.Client(), srv.URL, Options{}, c.onState); !errors.Is(err, ErrDeadStream) {
		t.Fatalf("first stream: %v, want ErrDeadStream", err)
	}
	if last, _ := c.get(); len(last.Slaves) != 1 || last.Slaves[0].ID != "old-S9" {
		t.Fatalf("first snapshot %+v", last)
	}
	startStream(t, srv.URL, Options{}, c)
	waitEqual(t, c, p.State(), "after resubscribe")
}
